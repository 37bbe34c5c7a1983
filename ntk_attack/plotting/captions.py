"""Captions written from the data: a template whose numbers the code fills in.

Example:
    >>> from ntk_attack.plotting.captions import caption
    >>> caption("slope {slope} (99.9% CI {ci}) over d in {d:range}, {n:d} networks",
    ...         slope=-0.48264, ci=(-0.5176, -0.4396), d=[16, 64, 256], n=8)
    'slope -0.483 (99.9% CI [-0.518, -0.44]) over d in 16..256, 8 networks'
"""
import math
import string

import numpy as np


def _number(value) -> str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.3g}"


class _Formatter(string.Formatter):
    def format_field(self, value, format_spec):
        if isinstance(value, (list, tuple, np.ndarray)):
            values = np.asarray(value, dtype=float).ravel()
            if format_spec == "range":
                return f"{_number(values.min())}..{_number(values.max())}"
            if format_spec == "":
                return "[" + ", ".join(_number(v) for v in values) + "]"
        if format_spec == "" and isinstance(value, (float, np.floating)):
            return _number(value)
        if format_spec == "range":
            raise ValueError(f"':range' needs a sequence. Got {type(value).__name__}.")
        return super().format_field(value, format_spec)


def percent(level: float) -> str:
    """A CI level as a percentage with the digits that tell it from 100%: ``99.9979%``,
    ``95%`` (``f"{level:.2%}"`` would print 0.999979 as ``100.00%``)."""
    digits = 0
    while digits < 8 and round(100 * level, digits) == 100 and level < 1:
        digits += 1
    text = f"{100 * level:.{max(digits + 1, 2)}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def caption(template: str, **values) -> str:
    """Fill ``template`` (``str.format`` syntax) with ``values``.

    Floats without a format spec print with 3 significant digits, sequences as
    ``[a, b, c]``, ``{name:range}`` as ``min..max``; any other spec is ``format``'s.

    Raises:
        ValueError: a placeholder of ``template`` has no value (the names are listed).
    """
    needed = {field.split(".")[0].split("[")[0]
              for _, field, _, _ in string.Formatter().parse(template) if field}
    missing = sorted(needed - set(values))
    if missing:
        raise ValueError(f"caption template needs values for {missing}. Got {sorted(values)}.")
    return _Formatter().format(template, **values)
