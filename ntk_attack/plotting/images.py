"""Grids of images with titles: digits, perturbations and flipped digits
(:func:`image_grid`); every figure of a report as a thumbnail (:func:`contact_sheet`).

Images whose values take both signs (a perturbation ``delta``) are drawn with a diverging,
colour-blind-safe map centred at 0 (``PuOr``) and a colour bar; the others in grey
(``gray_r``: ink dark on white) on one grey scale shared by all of them, so a clean and a
perturbed digit compare pixel for pixel. Axes carry no ticks: pixels have no units.
"""
import textwrap

import numpy as np
from matplotlib.figure import Figure

from ntk_attack.plotting import style


def image_grid(images, titles=None, *, ncols: int | None = None, panel_size: float = 1.3,
               signed=None, title: str | None = None):
    """Draw ``images`` in a grid, each with its (multi-line) title.

    Args:
        images: `(n, h, w)` array, or ``n`` arrays `(h, w)` or `(d,)` with ``d`` a perfect
            square (a flattened square image).
        titles: ``n`` strings (``"\\n"`` splits lines), e.g. ``"flipped\\neta* = 0.21"``.
        ncols: images per row (default: all in one row, at most 6).
        panel_size: inches per image.
        signed: ``n`` booleans: draw image ``i`` with the diverging map centred at 0 and a
            colour bar; default: images with both signs beyond 1e-12.
        title: figure title.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import images
        >>> x = np.random.default_rng(0).uniform(size=(8, 8))
        >>> delta = 0.1 * np.sign(x - 0.5)
        >>> fig = images.image_grid([x, delta, np.clip(x + delta, 0, 1)],
        ...     ["clean: 1", "perturbation\\n||delta|| = 0.8, d = 64", "flipped: 0\\neta* = 0.8"])
    """
    arrays = [_square(np.asarray(im, dtype=float), i) for i, im in enumerate(images)]
    n = len(arrays)
    if n == 0:
        raise ValueError("images must hold at least one image. Got none.")
    titles = [""] * n if titles is None else [str(t) for t in titles]
    if len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}). Got {len(titles)}.")
    if signed is None:
        signed = [bool((a.min() < -1e-12) and (a.max() > 1e-12)) for a in arrays]
    if len(signed) != n:
        raise ValueError(f"signed must have one entry per image ({n}). Got {len(signed)}.")
    plain = [a for a, s in zip(arrays, signed) if not s]
    grey = (min(a.min() for a in plain), max(a.max() for a in plain)) if plain else (0, 1)
    ncols = min(n, 6) if ncols is None else int(ncols)
    nrows = -(-n // ncols)
    lines = max(t.count("\n") + 1 for t in titles) if any(titles) else 0
    with style.style():
        fig, axes = style.new_figure(nrows, ncols, width=panel_size,
                                     height=panel_size + 0.16 * lines)
        axes = np.atleast_1d(axes).ravel()
        for ax, a, t, s in zip(axes, arrays, titles, signed):
            if s:
                lim = float(np.abs(a).max())
                im = ax.imshow(a, cmap="PuOr", vmin=-lim, vmax=lim, interpolation="nearest")
                fig.colorbar(im, ax=ax, shrink=0.8).ax.tick_params(labelsize=style.MIN_FONT_SIZE)
            else:
                ax.imshow(a, cmap="gray_r", vmin=grey[0], vmax=grey[1], interpolation="nearest")
            ax.set_title(t, fontsize=style.MIN_FONT_SIZE)
            ax.set_axis_off()
        for ax in axes[n:]:
            ax.set_axis_off()
        if title:
            fig.suptitle(title)
        return style.finish(fig)


def contact_sheet(images, *, width: float = 10.0, row_height: float = 2.2):
    """Every image of ``images`` as a thumbnail under its label, in rows of equal height
    filled left to right (a wide figure gets a wide thumbnail): a report's figures at one
    glance, to see which one cannot be read.

    Args:
        images: ``{label: (h, w) or (h, w, 3 | 4) array}`` (e.g. ``matplotlib.image.imread``
            of each PNG, labelled ``"claim id / figure"``), in display order.
        width: inches of the sheet.
        row_height: inches of a row's thumbnails (a thumbnail wider than the sheet is
            shrunk to fit).

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import numpy as np
        >>> from ntk_attack.plotting import images
        >>> fig = images.contact_sheet({"claim_a / figure": np.ones((30, 90, 3)),
        ...                             "claim_b / figure": np.zeros((40, 40, 3))}, width=4)
    """
    if not images:
        raise ValueError("images must hold at least one image. Got none.")
    if not (width > 0 and row_height > 0):
        raise ValueError(f"width and row_height must be > 0; got {width} and {row_height}.")
    arrays = {str(k): np.asarray(v) for k, v in images.items()}
    bad = {k: a.shape for k, a in arrays.items() if a.ndim not in (2, 3) or 0 in a.shape[:2]}
    if bad:
        raise ValueError(f"images must be (h, w) or (h, w, 3 | 4) arrays; got {bad}.")
    gap = 0.15
    rows, row = [], []  # (label, thumbnail width, height) per row
    for label, a in arrays.items():
        w = min(row_height * a.shape[1] / a.shape[0], width)
        if row and sum(t[1] + gap for t in row) + w > width:
            rows.append(row)
            row = []
        row.append((label, w, w * a.shape[0] / a.shape[1]))
    rows.append(row)
    titles = {label: textwrap.fill(label, max(12, int(style.LEGEND_CHARS_PER_INCH * w)))
              for row in rows for label, w, _ in row}
    title_height = [style.LEGEND_LINE * max(titles[t[0]].count("\n") + 1 for t in row) + 0.1
                    for row in rows]
    heights = [max(t[2] for t in row) + h for row, h in zip(rows, title_height)]
    total = sum(heights) + gap * len(rows)
    with style.style():
        fig = Figure(figsize=(width, total), layout="none")
        top = total
        for row, height, title_h in zip(rows, heights, title_height):
            x = 0.0
            for label, w, h in row:
                ax = fig.add_axes((x / width, (top - title_h - h) / total, w / width, h / total))
                a = arrays[label]
                ax.imshow(a, cmap="gray" if a.ndim == 2 else None, aspect="auto")
                ax.set_title(titles[label], fontsize=style.MIN_FONT_SIZE, pad=2)
                ax.set_axis_off()
                x += w + gap
            top -= height + gap
        return fig


def _square(a, i):
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            raise ValueError(f"images[{i}] must be (h, w) or (d,) with d a perfect square. "
                             f"Got shape {a.shape}.")
        return a.reshape(side, side)
    if a.ndim != 2:
        raise ValueError(f"images[{i}] must be (h, w) or (d,). Got shape {a.shape}.")
    return a
