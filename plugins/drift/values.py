"""Turning captured values into what the tests use, one value at a time, never raising.

Captured columns hold whatever the application passed: numbers, strings, ``None``,
lists (embeddings), and now and then a value no test can use (an int beyond float
range, a dict, an object whose ``__hash__`` raises). ``row_problems`` finds those rows
so the plugin can drop and count them alone; ``to_float`` and ``categorical_values``
convert a column and count what they could not use; ``is_vector`` tells list/array
valued (embedding) features, which the univariate tests skip.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable
from typing import Any

import numpy as np

from plugins.drift import names

_VECTOR_TYPES = (list, tuple, np.ndarray)
_PLAIN = frozenset({str, type(None)})
_SCALARS = (str, bool, float, bytes, np.bool_, np.floating)


def is_vector_value(v: object) -> bool:
    """A list, tuple or array: one value of an embedding-like feature."""
    return isinstance(v, _VECTOR_TYPES)


def is_vector(col: np.ndarray) -> bool:
    """True for a 2-D column or an object column holding any list/tuple/array value."""
    arr = np.asarray(col) if not isinstance(col, np.ndarray) else col
    if arr.ndim > 1:
        return True
    if arr.dtype.kind != "O":
        return False
    return any(issubclass(t, _VECTOR_TYPES) for t in set(map(type, arr.tolist())))


def value_problem(v: object) -> str | None:
    """Why one captured value cannot be used by any test (a drop reason), or None when it can."""
    if v is None or isinstance(v, _SCALARS):
        return None
    if isinstance(v, int | np.integer):
        try:
            float(v)
        except (OverflowError, ValueError, TypeError):
            return names.DROP_UNCONVERTIBLE
        return None
    if isinstance(v, _VECTOR_TYPES):
        return None
    if isinstance(v, dict | set | bytearray):
        return names.DROP_UNHASHABLE
    # Anything else is kept as a category, shown by its str(): both must work.
    try:
        hash(v)
        str(v)
    except Exception:  # an object whose __hash__/__str__ raises: that row only, counted
        return names.DROP_UNCONVERTIBLE
    return None


def row_problems(col: np.ndarray) -> dict[int, str]:
    """Rows of one column whose value no test can use, with the drop reason (object columns only)."""
    arr = col if isinstance(col, np.ndarray) else np.asarray(col, dtype=object)
    if arr.dtype.kind != "O":
        return {}
    out: dict[int, str] = {}
    for i, v in enumerate(arr.tolist() if arr.ndim == 1 else ()):
        reason = value_problem(v)
        if reason is not None:
            out[i] = reason
    return out


def to_float(col: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A column as float64 (NaN where no number), plus counts of non-numbers and of values that raised.

    Bools count as 0/1 and ``None`` as missing (neither is counted); a string or a category is a
    non-number; an int beyond float range or a number whose conversion raises is unconvertible.
    """
    arr = col if isinstance(col, np.ndarray) else np.asarray(col)
    if arr.dtype.kind in "iufb" and arr.ndim == 1:
        return arr.astype(np.float64, copy=False), 0, 0
    flat = arr.reshape(-1) if arr.ndim == 1 else np.empty(len(arr), dtype=object)
    out = np.full(len(arr), np.nan)
    non_numeric = 0
    unconvertible = 0
    for i, v in enumerate(flat.tolist()):
        if v is None:
            continue
        if isinstance(v, int | float | np.number) and not isinstance(v, str):
            try:
                out[i] = float(v)
            except (OverflowError, ValueError, TypeError):
                unconvertible += 1
        else:
            non_numeric += 1
    return out, non_numeric, unconvertible


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except Exception:  # unhashable (a list) or a __hash__ that raises
        return False
    return True


def categorical_values(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Python scalars in an object array so categories compare across windows, plus unusable values.

    Floats that are NaN become ``None`` (missing); 0.0/1.0 become bools so a flag compares
    equal whatever dtype carried it. An unhashable value (a list in a categorical feature)
    becomes ``None`` and is counted.
    """
    arr = col if isinstance(col, np.ndarray) else np.asarray(col)
    if arr.dtype.kind == "b":
        return arr.astype(object), 0
    out = np.empty(len(arr), dtype=object)
    if arr.dtype.kind == "f" and arr.ndim == 1:
        out[:] = [None if math.isnan(v) else (bool(v) if v in (0.0, 1.0) else v) for v in arr.tolist()]
        return out, 0
    if arr.ndim != 1:
        out[:] = [None] * len(arr)
        return out, len(arr)
    items = arr.tolist()
    if set(map(type, items)) <= _PLAIN:  # strings (and None): the common case, as they are
        out[:] = items
        return out, 0
    values: list[Hashable] = []
    bad = 0
    for v in items:
        if isinstance(v, str) or v is None:
            values.append(v)
        elif isinstance(v, np.bool_):
            values.append(bool(v))
        elif isinstance(v, float) and math.isnan(v):
            values.append(None)
        elif _hashable(v):
            values.append(v)
        else:
            values.append(None)
            bad += 1
    out[:] = values
    return out, bad


def tally(values: np.ndarray) -> dict[Any, int]:
    """Counts of the non-missing values of a ``categorical_values`` array, most frequent first."""
    counts = Counter(values.tolist())
    counts.pop(None, None)
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
