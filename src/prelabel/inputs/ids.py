"""Item ids as text: the one normalisation every command uses (``run`` reading items, ``compare``,
``agreement``, exports), so an id means the same thing in every file.

- surrounding whitespace is dropped: ``" 7 "`` is ``7``; an empty or blank id is no id (``None``);
- a whole number is written without a fraction: ``7``, ``7.0``, ``"7.0"`` and ``"7"`` are all ``7``;
- any other number is its shortest text (``8.5``); true/false are ``true``/``false`` (as JSON writes them);
- everything else is kept as written, leading zeros included: ``01`` and ``1`` are two ids (zero-padded codes
  stay codes), ``1e3`` is text.

    >>> [normalize_id(v) for v in (7, 7.0, "7.0", " 7 ", "01", 8.5, True, "", None, float("nan"))]
    ['7', '7', '7', '7', '01', '8.5', 'true', None, None, None]
    >>> [normalize_id(v) for v in ("+7.0", "-0.0", -0.0)]
    ['7', '0', '0']
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["normalize_id", "normalize_ids"]

_WHOLE = re.compile(r"([+-]?\d+)\.0+")


def normalize_id(value: Any) -> str | None:
    """An id as text (see the module docstring); ``None`` for a missing, NaN or blank id."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    if isinstance(value, str):
        text = value.strip()
        whole = _WHOLE.fullmatch(text)
        if whole is None:
            return text or None
        digits = whole.group(1).removeprefix("+")
        return "0" if not digits.lstrip("-").strip("0") else digits  # "-0.0" is 0, as the number -0.0 is
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):  # numpy's bool is no bool
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer():
            return str(int(number))
        return str(value) if type(value).__module__ == "numpy" else repr(number)  # float32 0.1: "0.1"
    return normalize_id(str(value))  # Decimal("7.0") and the like: as their text


def normalize_ids(values: Sequence[Any] | np.ndarray) -> list[str | None]:
    """`normalize_id` of each value; text that is already normal (most ids) is kept without a Python call
    per value (a vectorised check), so a million distinct ids take a fraction of a second."""
    import numpy as np
    import pandas as pd

    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    out = list(array)
    text: np.ndarray
    if pd.api.types.infer_dtype(array, skipna=False) == "string":  # all text (one pass in C)
        text = np.ones(len(array), dtype=bool)
    else:
        text = np.fromiter((type(v) is str for v in array), dtype=bool, count=len(array))
    where = np.flatnonzero(text)
    if len(where):
        strings = pd.Series(array[where], dtype="string")
        odd = (strings.str.strip() != strings) | strings.str.fullmatch(_WHOLE.pattern) | (strings == "")
        todo = np.concatenate([where[odd.to_numpy(dtype=bool)], np.flatnonzero(~text)])
    else:
        todo = np.flatnonzero(~text)
    for index in todo:
        out[index] = normalize_id(array[index])
    return out
