"""Pure, vectorised validation of a columnar batch against a schema.

Numeric columns are checked with numpy comparisons. Object columns (mixed or
non-numeric values) are classified by Python type once per element with
``np.frompyfunc(type, ...)`` (a C loop calling the ``type`` builtin), then every
check runs on boolean masks per type class, so the per-row cost stays a few C-level
calls instead of a Python function per row and per feature.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from plugins.validation.outliers import RobustRange
from plugins.validation.schema import NUMERIC_TYPES, FeatureSchema, Schema, ValueType

__all__ = [
    "ValidationResult",
    "Violation",
    "merge_results",
    "missing_rate_breaches",
    "validate_columns",
    "validate_rows",
]


class Violation(StrEnum):
    """Stable names of violation kinds (metric attribute and log field values)."""

    MISSING_FEATURE = "missing_feature"
    UNKNOWN_FEATURE = "unknown_feature"
    TYPE_MISMATCH = "type_mismatch"
    NULL = "null"
    BELOW_MIN = "below_min"
    ABOVE_MAX = "above_max"
    NOT_ALLOWED = "not_allowed"
    REGEX_MISMATCH = "regex_mismatch"
    MISSING_RATE = "missing_rate"
    NON_FINITE = "non_finite"
    DIMENSION_MISMATCH = "dimension_mismatch"
    NORM_BELOW_MIN = "norm_below_min"  # a numeric list feature's vector shorter (Euclidean norm) than norm_min
    NORM_ABOVE_MAX = "norm_above_max"
    OUTLIER = "outlier"


REDACTED = "<redacted>"
MAX_EXAMPLE_CHARS = 64

_repr = reprlib.Repr()
_repr.maxstring = MAX_EXAMPLE_CHARS
_repr.maxother = MAX_EXAMPLE_CHARS
_repr.maxlevel = 2

_type_of = np.frompyfunc(type, 1, 1)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Violations of one batch: counts and examples per (feature, kind), plus what windows accumulate.

    ``missing`` counts absent/None/NaN values per schema feature (for the window's missing
    rate); ``outliers``/``outlier_checked`` count outlier rows and the numeric values looked
    at per feature; ``outlier_rows`` flags rows with any outlier; ``numeric`` holds each
    numeric feature as float64 (NaN where not a usable number) for edge-case slicing.
    """

    rows: int
    counts: Mapping[tuple[str, Violation], int]
    examples: Mapping[tuple[str, Violation], tuple[Any, ...]]
    missing: Mapping[str, int]
    outliers: Mapping[str, int]
    outlier_checked: Mapping[str, int]
    outlier_rows: np.ndarray
    numeric: Mapping[str, np.ndarray]

    @property
    def total(self) -> int:
        """Total violations of every kind except outliers (which are not schema violations)."""
        return sum(c for (_, kind), c in self.counts.items() if kind is not Violation.OUTLIER)


def example_value(value: Any, sensitive: bool = False) -> Any:
    """A log-safe, bounded rendering of one offending value (``<redacted>`` when sensitive)."""
    if sensitive:
        return REDACTED
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 2**63 else _repr.repr(value)
    if isinstance(value, float):
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_EXAMPLE_CHARS else value[:MAX_EXAMPLE_CHARS] + "..."
    try:
        return f"{type(value).__name__}:{_repr.repr(value)}"
    except Exception:  # a user object whose __repr__ raises is still an example
        return f"<{type(value).__name__}>"


class _Collector:
    """Accumulates masks into counts and examples for one batch."""

    def __init__(self, max_examples: int) -> None:
        self.counts: dict[tuple[str, Violation], int] = {}
        self.examples: dict[tuple[str, Violation], tuple[Any, ...]] = {}
        self.max_examples = max_examples

    def add(self, feature: str, kind: Violation, mask: np.ndarray, col: np.ndarray | None, sens: bool) -> None:
        n = int(np.count_nonzero(mask))
        if n == 0:
            return
        key = (feature, kind)
        self.counts[key] = self.counts.get(key, 0) + n
        if col is not None and self.max_examples > 0 and key not in self.examples:
            idx = np.flatnonzero(mask)[: self.max_examples]
            self.examples[key] = tuple(example_value(col[i], sens) for i in idx)

    def add_count(self, feature: str, kind: Violation, n: int) -> None:
        if n > 0:
            key = (feature, kind)
            self.counts[key] = self.counts.get(key, 0) + n


@dataclass(slots=True)
class _Classified:
    """Per-row type classes of one column (masks) and its values as float64 where numeric."""

    missing: np.ndarray
    is_float: np.ndarray
    is_int: np.ndarray
    is_bool: np.ndarray
    is_str: np.ndarray
    is_other: np.ndarray
    values: np.ndarray  # float64; NaN where not a number (bools as 0/1)


def _classify(col: np.ndarray) -> _Classified:
    n = len(col)
    false = np.zeros(n, dtype=bool)
    kind = col.dtype.kind
    if kind == "b":
        return _Classified(false, false, false, np.ones(n, bool), false, false, col.astype(np.float64))
    if kind in "iu":
        return _Classified(false, false, np.ones(n, bool), false, false, false, col.astype(np.float64))
    if kind == "f":
        values = col.astype(np.float64, copy=False)
        nan = np.isnan(values)
        return _Classified(nan, ~nan, false, false, false, false, values)
    if kind in "US":
        return _Classified(false, false, false, false, np.ones(n, bool), false, np.full(n, np.nan))
    if kind != "O":
        return _Classified(false, false, false, false, false, np.ones(n, bool), np.full(n, np.nan))
    types = _type_of(col) if n else np.empty(0, dtype=object)
    masks = {"none": false, "float": false, "int": false, "bool": false, "str": false, "other": false}
    boxed = np.empty((), dtype=object)
    for t in set(types.tolist()):
        # Boxed so numpy compares identities instead of reading numpy scalar types as dtypes.
        boxed[()] = t
        m = types == boxed
        cls = _type_class(t)
        masks[cls] = masks[cls] | m
    values = np.full(n, np.nan)
    numeric = masks["float"] | masks["int"] | masks["bool"]
    if numeric.any():
        values[numeric] = _to_float(col[numeric])
    nan_float = masks["float"] & np.isnan(values)
    return _Classified(
        missing=masks["none"] | nan_float,
        is_float=masks["float"] & ~nan_float,
        is_int=masks["int"],
        is_bool=masks["bool"],
        is_str=masks["str"],
        is_other=masks["other"],
        values=values,
    )


def _type_class(t: type) -> str:
    if t is type(None):
        return "none"
    if issubclass(t, bool | np.bool_):
        return "bool"
    if issubclass(t, int | np.integer):
        return "int"
    if issubclass(t, float | np.floating):
        return "float"
    if issubclass(t, str):
        return "str"
    return "other"


def _to_float(values: np.ndarray) -> np.ndarray:
    try:
        return values.astype(np.float64)
    except (OverflowError, TypeError, ValueError):
        # Python ints beyond float range: saturate to ±inf so they read as non-finite.
        out = np.empty(len(values))
        for i, v in enumerate(values.tolist()):
            try:
                out[i] = float(v)
            except (OverflowError, TypeError, ValueError):
                out[i] = np.inf if isinstance(v, int) and v > 0 else -np.inf
        return out


def _membership(values: np.ndarray, allowed: frozenset[Any]) -> np.ndarray:
    """``value in allowed`` per element (Python equality, so 1 == 1.0) in a C loop."""
    try:
        return np.frompyfunc(allowed.__contains__, 1, 1)(values).astype(bool)
    except TypeError:
        # A str/int subclass that refuses hashing: such values are simply not allowed.
        out = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values.tolist()):
            try:
                out[i] = v in allowed
            except TypeError:
                out[i] = False
        return out


def _regex_ok(values: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    """``pattern.fullmatch(v)`` per string, matching each distinct string once when values repeat."""
    try:
        distinct = set(values.tolist())
    except TypeError:  # an unhashable str subclass: match every value
        distinct = None
    if distinct is not None and len(distinct) <= len(values) // 2:
        verdict = {v: pattern.fullmatch(v) is not None for v in distinct}
        return np.frompyfunc(verdict.__getitem__, 1, 1)(values).astype(bool)
    # a Match object is truthy and None is not
    return np.frompyfunc(pattern.fullmatch, 1, 1)(values).astype(bool)


def _accepted(c: _Classified, vtype: ValueType) -> np.ndarray:
    """Rows whose value has an acceptable type for ``vtype`` (missing rows excluded)."""
    if vtype is ValueType.FLOAT:
        return c.is_float | c.is_int
    if vtype is ValueType.INT:
        finite = np.isfinite(c.values)
        integral = ~finite | (c.values == np.round(np.where(finite, c.values, 0.0)))
        # inf is reported as non_finite, not as a type problem
        return c.is_int | (c.is_float & integral)
    if vtype is ValueType.BOOL:
        zero_one = (c.values == 0.0) | (c.values == 1.0)
        return c.is_bool | ((c.is_int | c.is_float) & zero_one)
    if vtype is ValueType.CATEGORICAL:
        return c.is_str | c.is_int | c.is_bool | c.is_float
    return c.is_str


def _seq_len(value: Any) -> int:
    """Length of a list-like value (list, tuple, array of >= 1 dimension); -1 for anything else."""
    if isinstance(value, list | tuple):
        return len(value)
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return int(value.shape[0])
    return -1


_seq_lens = np.frompyfunc(_seq_len, 1, 1)


def _check_array_column(fs: FeatureSchema, col: np.ndarray, out: _Collector) -> None:
    """A column of shape (rows, dim, ...): every row holds an array of ``dim`` entries (finite, in the norm range)."""
    every = np.ones(col.shape[0], dtype=bool)
    if fs.type is not ValueType.LIST:
        out.add(fs.name, Violation.TYPE_MISMATCH, every, col, fs.sensitive)
    elif fs.dim is not None and col.shape[1] != fs.dim:
        out.add(fs.name, Violation.DIMENSION_MISMATCH, every, col, fs.sensitive)
    elif col.dtype.kind in "iuf" and _numeric_vector_checks(fs):
        _check_vectors(fs, col, np.arange(col.shape[0]), col.reshape(col.shape[0], -1).astype(np.float64), out)


def _numeric_vector_checks(fs: FeatureSchema) -> bool:
    """A list feature whose numeric vectors are checked for NaN/inf and norm: a fixed length or a norm bound."""
    return fs.dim is not None or fs.norm_min is not None or fs.norm_max is not None


def _check_vectors(fs: FeatureSchema, col: np.ndarray, rows: np.ndarray, matrix: np.ndarray,
                   out: _Collector) -> None:
    """Rows ``rows`` of ``col`` as numeric vectors (``matrix``): NaN/inf elements, then the norm range."""
    mask = np.zeros(len(col), dtype=bool)
    finite = np.isfinite(matrix).all(axis=1)
    mask[rows[~finite]] = True
    out.add(fs.name, Violation.NON_FINITE, mask, col, fs.sensitive)
    ok = matrix[finite]
    norms = np.sqrt(np.einsum("ij,ij->i", ok, ok))
    for bound, kind, outside in ((fs.norm_min, Violation.NORM_BELOW_MIN, np.less),
                                 (fs.norm_max, Violation.NORM_ABOVE_MAX, np.greater)):
        if bound is not None:
            mask = np.zeros(len(col), dtype=bool)
            mask[rows[finite][outside(norms, bound)]] = True
            out.add(fs.name, kind, mask, col, fs.sensitive)


def _as_vectors(values: list[Any], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the numeric vectors, their float matrix) among list-like ``values`` of length ``dim``."""
    try:
        return np.arange(len(values)), np.asarray(values, dtype=np.float64).reshape(len(values), dim)
    except (TypeError, ValueError, OverflowError):  # a non-number somewhere (a token list): row by row
        keep: list[int] = []
        vecs: list[np.ndarray] = []
        for i, v in enumerate(values):
            try:
                vecs.append(np.asarray(v, dtype=np.float64).reshape(dim))
            except (TypeError, ValueError, OverflowError):
                continue
            keep.append(i)
        return np.asarray(keep, dtype=np.int64), (np.vstack(vecs) if vecs else np.empty((0, dim)))


def _check_list(fs: FeatureSchema, col: np.ndarray, c: _Classified, out: _Collector) -> None:
    """A 1-D column whose values must be list-like, of length ``dim`` when the schema says so."""
    lengths = np.full(len(col), -1, dtype=np.int64)
    if c.is_other.any():
        idx = np.flatnonzero(c.is_other)
        lengths[idx] = _seq_lens(col[idx].astype(object)).astype(np.int64)
    accepted = lengths >= 0
    out.add(fs.name, Violation.TYPE_MISMATCH, ~c.missing & ~accepted, col, fs.sensitive)
    if not fs.nullable:
        out.add(fs.name, Violation.NULL, c.missing, col, fs.sensitive)
    if fs.dim is not None:
        out.add(fs.name, Violation.DIMENSION_MISMATCH, accepted & (lengths != fs.dim), col, fs.sensitive)
    if _numeric_vector_checks(fs):
        # vectors of the schema's length (each length in turn when the schema sets none)
        sizes = [fs.dim] if fs.dim is not None else np.unique(lengths[accepted]).tolist()
        for size in sizes:
            rows = np.flatnonzero(accepted & (lengths == size))
            if size and rows.size:
                found, matrix = _as_vectors(col[rows].tolist(), int(size))
                _check_vectors(fs, col, rows[found], matrix, out)


def _check_feature(
    fs: FeatureSchema, col: np.ndarray, rng: RobustRange | None, out: _Collector
) -> tuple[int, np.ndarray | None, np.ndarray | None]:
    """Check one present column; returns (missing count, outlier mask or None, numeric values or None)."""
    if col.ndim >= 2:
        _check_array_column(fs, col, out)
        return 0, None, None
    c = _classify(col)
    if fs.type is ValueType.LIST:
        _check_list(fs, col, c, out)
        return int(np.count_nonzero(c.missing)), None, None
    name, sens = fs.name, fs.sensitive
    accepted = _accepted(c, fs.type)
    present = ~c.missing
    out.add(name, Violation.TYPE_MISMATCH, present & ~accepted, col, sens)
    if not fs.nullable:
        out.add(name, Violation.NULL, c.missing, col, sens)
    outlier_mask = None
    numeric_values = None
    if fs.type in NUMERIC_TYPES:
        vals = np.where(accepted, c.values, np.nan)
        inf = np.isinf(vals)
        out.add(name, Violation.NON_FINITE, inf, col, sens)
        if fs.min is not None:
            out.add(name, Violation.BELOW_MIN, (vals < fs.min) & ~inf, col, sens)
        if fs.max is not None:
            out.add(name, Violation.ABOVE_MAX, (vals > fs.max) & ~inf, col, sens)
        numeric_values = np.where(inf, np.nan, vals)
        if rng is not None:
            outlier_mask = rng.mask(numeric_values)
            out.add(name, Violation.OUTLIER, outlier_mask, col, sens)
    if fs.allowed is not None and fs.type in (ValueType.CATEGORICAL, ValueType.STRING):
        candidates = accepted & present
        if candidates.any():
            allowed = frozenset(fs.allowed)
            member = np.zeros(len(col), dtype=bool)
            member[candidates] = _membership(col[candidates].astype(object), allowed)
            out.add(name, Violation.NOT_ALLOWED, candidates & ~member, col, sens)
    pattern = fs.pattern
    if pattern is not None and fs.type in (ValueType.STRING, ValueType.CATEGORICAL):
        strs = c.is_str
        if strs.any():
            ok = np.zeros(len(col), dtype=bool)
            ok[strs] = _regex_ok(col[strs].astype(object), pattern)
            out.add(name, Violation.REGEX_MISMATCH, strs & ~ok, col, sens)
    return int(np.count_nonzero(c.missing)), outlier_mask, numeric_values


def _present(col: np.ndarray) -> np.ndarray:
    """Rows holding a value (an array row of a 2-D column always does)."""
    if col.ndim >= 2:
        return np.ones(col.shape[0], dtype=bool)
    return ~_classify(col).missing


def validate_columns(
    schema: Schema,
    columns: Mapping[str, np.ndarray],
    n_rows: int,
    *,
    ranges: Mapping[str, RobustRange] | None = None,
    max_examples: int = 3,
) -> ValidationResult:
    """Validate ``n_rows`` rows held as ``columns`` against ``schema``.

    Each column has one entry per row: 1-D, or (rows, dim, ...) for an array-valued
    feature whose every row is an array.
    """
    for name, col in columns.items():
        if np.ndim(col) == 0 or len(col) != n_rows:
            raise ValueError(f"column {name!r}: shape {np.shape(col)}, expected ({n_rows}, ...)")
    out = _Collector(max_examples)
    missing: dict[str, int] = {}
    outliers: dict[str, int] = {}
    checked: dict[str, int] = {}
    numeric: dict[str, np.ndarray] = {}
    outlier_rows = np.zeros(n_rows, dtype=bool)
    ranges = ranges or {}
    for name, fs in schema.features.items():
        given = columns.get(name)
        if given is None:
            missing[name] = n_rows
            if fs.required:
                out.add_count(name, Violation.MISSING_FEATURE, n_rows)
            continue
        n_missing, omask, fvals = _check_feature(fs, np.asarray(given), ranges.get(name), out)
        missing[name] = n_missing
        if fvals is not None:
            numeric[name] = fvals
            if omask is not None:
                outliers[name] = int(np.count_nonzero(omask))
                checked[name] = int(np.count_nonzero(~np.isnan(fvals)))
                outlier_rows |= omask
    if not schema.allow_unknown:
        for name, col in columns.items():
            if name not in schema.features:
                arr = np.asarray(col)
                out.add(name, Violation.UNKNOWN_FEATURE, _present(arr), arr, False)
    return ValidationResult(
        rows=n_rows,
        counts=out.counts,
        examples=out.examples,
        missing=missing,
        outliers=outliers,
        outlier_checked=checked,
        outlier_rows=outlier_rows,
        numeric=numeric,
    )


def merge_results(
    parts: list[tuple[np.ndarray, ValidationResult]], n_rows: int, max_examples: int = 3
) -> ValidationResult:
    """One result for a batch of ``n_rows`` validated in parts (row indices, result); rows in no part are skipped."""
    counts: dict[tuple[str, Violation], int] = {}
    examples: dict[tuple[str, Violation], tuple[Any, ...]] = {}
    missing: dict[str, int] = {}
    outliers: dict[str, int] = {}
    checked: dict[str, int] = {}
    numeric: dict[str, np.ndarray] = {}
    outlier_rows = np.zeros(n_rows, dtype=bool)
    rows = 0
    for idx, res in sorted(parts, key=lambda part: int(part[0][0]) if len(part[0]) else -1):
        rows += res.rows
        for key, n in res.counts.items():
            counts[key] = counts.get(key, 0) + n
        for key, ex in res.examples.items():
            held = examples.get(key, ())
            examples[key] = held + tuple(ex[: max(0, max_examples - len(held))])
        for into, src in ((missing, res.missing), (outliers, res.outliers), (checked, res.outlier_checked)):
            for name, n in src.items():
                into[name] = into.get(name, 0) + n
        outlier_rows[idx] = res.outlier_rows
        for name, vals in res.numeric.items():
            numeric.setdefault(name, np.full(n_rows, np.nan))[idx] = vals
    return ValidationResult(rows, counts, examples, missing, outliers, checked, outlier_rows, numeric)


def validate_rows(
    schema: Schema,
    columns: Mapping[str, np.ndarray],
    n_rows: int,
    *,
    ranges: Mapping[str, RobustRange] | None = None,
    max_examples: int = 3,
) -> tuple[ValidationResult, np.ndarray, Exception | None]:
    """``validate_columns``, skipping alone each row whose values make a check raise.

    A captured value is any Python object, and its own ``__hash__``, ``__eq__`` or
    ``__len__`` may raise. The batch is validated at once; only when that raises is it
    halved until each failing row stands alone. Returns the result over the rows that
    could be checked, the mask of skipped rows, and the first error (None when none).
    """
    try:
        res = validate_columns(schema, columns, n_rows, ranges=ranges, max_examples=max_examples)
        return res, np.zeros(n_rows, dtype=bool), None
    except Exception as exc:  # a hostile value in some row: found below, skipped and counted alone
        first = exc
    parts: list[tuple[np.ndarray, ValidationResult]] = []
    bad = np.zeros(n_rows, dtype=bool)
    pending = list(np.array_split(np.arange(n_rows), 2))
    while pending:
        idx = pending.pop()
        if not idx.size:
            continue
        sub = {name: col[idx] for name, col in columns.items()}
        try:
            parts.append((idx, validate_columns(schema, sub, len(idx), ranges=ranges, max_examples=max_examples)))
        except Exception:  # still failing: halve again until the failing row stands alone
            if idx.size == 1:
                bad[idx] = True
            else:
                pending.extend(np.array_split(idx, 2))
    return merge_results(parts, n_rows, max_examples), bad, first


def missing_rate_breaches(schema: Schema, missing: Mapping[str, int], rows: int) -> dict[str, float]:
    """Features whose missing rate over ``rows`` exceeds their ``max_missing_rate``: name -> rate."""
    if rows <= 0:
        return {}
    out: dict[str, float] = {}
    for name, fs in schema.features.items():
        if fs.max_missing_rate is None:
            continue
        rate = missing.get(name, 0) / rows
        if rate > fs.max_missing_rate:
            out[name] = rate
    return out
