"""Mutant-by-claim verdict matrix: which planted bug each claim's checks catch.

A cell is the claim's verdict on the mutated code: ``fail`` (the bug is caught),
``inconclusive`` (neither caught nor cleared) or ``pass`` (the bug slips through); other
verdicts (``skipped``, ``error``) and empty strings (not run) are drawn apart. Each cell
carries a text mark besides its colour, so the matrix reads in greyscale.
"""
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from ntk_attack.plotting import style

#: verdict -> (colour, text mark, legend label)
CELLS = {
    "fail": (style.OKABE_ITO["vermillion"], "✗", "fail: bug caught"),
    "inconclusive": (style.OKABE_ITO["yellow"], "?", "inconclusive"),
    "pass": (style.OKABE_ITO["sky_blue"], "✓", "pass: bug not caught"),
    "error": (style.OKABE_ITO["reddish_purple"], "E", "error"),
    "skipped": ("#ffffff", "s", "skipped"),
    "": ("#ffffff", "", "not run"),
}


def kill_matrix_plot(mutants, claims, verdicts, *, title: str | None = None,
                     xlabel: str = "claim", ylabel: str = "mutant (planted bug)"):
    """Matrix of verdicts, mutants down, claims across, with per-mutant kill counts.

    Args:
        mutants: ``n`` mutant names (rows).
        claims: ``c`` claim ids (columns).
        verdicts: `(n, c)` verdict strings among :data:`CELLS`' keys.
        title, xlabel, ylabel: texts.

    Returns:
        The ``matplotlib.figure.Figure`` (about ``0.28 c`` by ``0.22 n`` inches plus labels).

    Example:
        >>> from ntk_attack.plotting import kill_matrix
        >>> fig = kill_matrix.kill_matrix_plot(["drop_sqrt_d", "swap_signs"], ["a", "b", "c"],
        ...     [["fail", "pass", "inconclusive"], ["pass", "pass", "fail"]])
    """
    mutants, claims = [str(m) for m in mutants], [str(c) for c in claims]
    verdicts = np.asarray(verdicts, dtype=object)
    if verdicts.shape != (len(mutants), len(claims)):
        raise ValueError(f"verdicts must have shape ({len(mutants)}, {len(claims)}) "
                         f"(mutants, claims). Got {verdicts.shape}.")
    unknown = sorted({str(v) for v in verdicts.ravel()} - set(CELLS))
    if unknown:
        raise ValueError(f"verdicts must be among {sorted(CELLS)}. Got {unknown}.")
    order = list(CELLS)
    codes = np.vectorize(order.index, otypes=[int])(verdicts.astype(str))
    label_len = max(len(c) for c in claims)
    with style.style():
        width = 1.2 + 0.06 * max(len(m) for m in mutants) + 0.28 * len(claims)
        height = 1.0 + 0.22 * len(mutants) + 0.065 * label_len
        fig, ax = style.new_figure(width=max(width, style.COLUMN_WIDTH), height=height)
        ax.imshow(codes, cmap=ListedColormap([CELLS[v][0] for v in order]), vmin=-0.5,
                  vmax=len(order) - 0.5, aspect="auto", interpolation="nearest")
        for (i, j), code in np.ndenumerate(codes):
            ax.text(j, i, CELLS[order[code]][1], ha="center", va="center",
                    fontsize=style.MIN_FONT_SIZE, color="#000000")
        ax.set_xticks(range(len(claims)), claims, rotation=90)
        killed = (verdicts == "fail").sum(axis=1)
        ax.set_yticks(range(len(mutants)),
                      [f"{m} ({k}/{len(claims)})" for m, k in zip(mutants, killed)])
        ax.set_xticks(np.arange(len(claims) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(mutants) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="#ffffff", lw=1)
        ax.tick_params(which="minor", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{ylabel} (claims failing / claims)")
        if title:
            ax.set_title(title)
        present = [v for v in order if (codes == order.index(v)).any()]
        fig.legend(handles=[Patch(facecolor=CELLS[v][0], edgecolor="#777777",
                                  label=f"{CELLS[v][1]}  {CELLS[v][2]}") for v in present],
                   loc="outside upper center", ncols=min(len(present), 3),
                   fontsize=style.MIN_FONT_SIZE)
        return style.finish(fig)
