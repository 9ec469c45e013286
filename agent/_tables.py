"""Tables of data: loading reference files, turning the shapes users pass into columns, feature types.

The core loads ``[models.NAME] reference`` files with these; plugins use them (through
``agent.plugin``) for offline comparisons and schema inference.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FeatureType", "columns_from_rows", "infer_feature_types", "load_table", "to_numeric"]

Columns = dict[str, np.ndarray]


class FeatureType(Enum):
    """How a feature is tested: numeric (KS/CvM), categorical (chi-square) or boolean (chi-square/Fisher)."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"


def load_table(path: str | Path) -> Columns:
    """Load ``.npz``/``.npy``/``.csv``/``.parquet``/``.jsonl`` into ``{column: 1-D array}`` (vectors as lists)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.exists():
        raise FileNotFoundError(f"reference file {str(p)!r} does not exist")
    if suffix == ".npz":  # one array per column; a 2-D array is a vector (embedding) column
        with np.load(p, allow_pickle=False) as data:
            return {name: vectors_per_row(_column(np.asarray(data[name]), f"{p}:{name}")) for name in data.files}
    if suffix in (".jsonl", ".ndjson"):
        return _load_jsonl(p)
    if suffix == ".npy":
        return columns_from_rows(np.load(p, allow_pickle=False))
    if suffix == ".csv":
        return _load_csv(p)
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(
                f"reading {str(p)!r} needs pyarrow: pip install 'infersight[pandas]'"
            ) from exc
        table = pq.read_table(p)
        return {name: _from_list(table.column(name).to_pylist()) for name in table.column_names}
    raise ValueError(
        f"reference file {str(p)!r}: unsupported suffix {suffix!r}, expected .npz, .npy, .csv, .parquet or .jsonl"
    )


def _column(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim not in (1, 2):
        raise ValueError(f"{where}: expected a 1-D column (or 2-D: one vector per row), got shape {arr.shape}")
    return arr


def _load_jsonl(path: Path) -> Columns:
    """One JSON object per line (blank lines skipped): the rows of a table; a list value is a vector."""
    rows: list[Mapping[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ValueError(f"reference file {str(path)!r} line {lineno}: not JSON") from None
            if not isinstance(row, dict):
                raise ValueError(f"reference file {str(path)!r} line {lineno}: expected a JSON object, "
                                 f"got {type(row).__name__}")
            rows.append(row)
    if not rows:
        raise ValueError(f"reference file {str(path)!r} holds no rows")
    return columns_from_rows(rows)


def _load_csv(path: Path) -> Columns:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"reference file {str(path)!r} is empty, expected a header row") from None
        raw: list[list[str]] = [[] for _ in header]
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}:{lineno}: {len(row)} fields, expected {len(header)} as in the header"
                )
            for col, cell in zip(raw, row, strict=True):
                col.append(cell)
    return {name: _parse_cells(cells) for name, cells in zip(header, raw, strict=True)}


def _parse_cells(cells: list[str]) -> np.ndarray:
    """Numeric when every non-empty cell parses as a float; empty cells are missing (NaN / None)."""
    values: list[float] = []
    for cell in cells:
        text = cell.strip()
        if text == "":
            values.append(math.nan)
            continue
        try:
            values.append(float(text))
        except ValueError:
            return np.array([c if c.strip() != "" else None for c in cells], dtype=object)
    return np.asarray(values, dtype=np.float64)


def _from_list(values: Sequence[Any]) -> np.ndarray:
    """A column from Python values: float when all are numbers (None -> NaN), bool, else object."""
    if all(isinstance(v, bool | np.bool_) for v in values) and len(values) > 0:
        return np.asarray(values, dtype=bool)
    if all(v is None or (isinstance(v, int | float | np.number) and not isinstance(v, bool)) for v in values):
        return np.asarray([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def columns_from_rows(rows: Any, feature_names: Sequence[str] | None = None) -> Columns:
    """Turn a mapping of columns, a list of row mappings, a 1-D/2-D array or a DataFrame into columns."""
    if _is_dataframe(rows):
        return {str(name): _normalise(rows[name].to_numpy()) for name in rows.columns}
    if isinstance(rows, Mapping):
        return {str(k): _normalise(np.asarray(v)) for k, v in rows.items()}
    if isinstance(rows, np.ndarray):
        arr = rows
    elif isinstance(rows, Iterable) and not isinstance(rows, str | bytes):
        items = list(rows)
        if items and all(isinstance(r, Mapping) for r in items):
            names: list[str] = list(feature_names) if feature_names else _union_keys(items)
            return {n: _from_list([r.get(n) for r in items]) for n in names}
        arr = np.asarray(items)
    else:
        raise TypeError(f"cannot read reference rows from {type(rows).__name__}")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"reference array must be 1-D or 2-D, got shape {arr.shape}")
    names = list(feature_names) if feature_names else [f"f{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise ValueError(f"{len(names)} feature names for {arr.shape[1]} columns")
    return {n: _normalise(np.ascontiguousarray(arr[:, i])) for i, n in enumerate(names)}


def _union_keys(items: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for r in items:
        for k in r:
            seen.setdefault(str(k), None)
    return list(seen)


def vectors_per_row(col: Any) -> np.ndarray:
    """``col`` as an array; a 2-D (or deeper) column becomes one list per row, as captured rows give them.

    An ``(n, 1)`` column stays a scalar column (flattened by the caller).
    """
    arr = np.asarray(col)
    if arr.ndim > 1 and any(d > 1 for d in arr.shape[1:]):  # an embedding feature: one vector per row
        out = np.empty(arr.shape[0], dtype=object)
        for i, row in enumerate(arr.tolist()):  # element by element: a square block would broadcast
            out[i] = row
        return out
    return arr


def _normalise(col: np.ndarray) -> np.ndarray:
    col = vectors_per_row(col)
    if col.dtype == object and col.ndim == 1 and len(col) and isinstance(col[0], list):
        return col
    col = col.reshape(-1)
    if col.dtype.kind in "iuf":
        return col.astype(np.float64, copy=False)
    if col.dtype.kind == "b":
        return col
    return _from_list(col.tolist())


def _is_dataframe(obj: Any) -> bool:
    mod = type(obj).__module__
    if not mod.startswith("pandas"):
        return False
    import pandas as pd

    return isinstance(obj, pd.DataFrame)


def to_numeric(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Column as float64 plus the count of non-missing values that were not numbers (those become NaN)."""
    if col.dtype.kind in "iufb":
        return col.astype(np.float64, copy=False), 0
    out = np.full(len(col), np.nan)
    bad = 0
    for i, v in enumerate(col):
        if v is None:
            continue
        if isinstance(v, int | float | np.number) and not isinstance(v, str):
            try:
                out[i] = float(v)
            except OverflowError:  # an int beyond float range is not a usable number: counted as bad
                bad += 1
        else:
            bad += 1
    return out, bad


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def infer_feature_types(
    columns: Mapping[str, np.ndarray], overrides: Mapping[str, FeatureType | str] | None = None
) -> dict[str, FeatureType]:
    """Infer column types: bools or only {0, 1} -> BOOLEAN, numbers -> NUMERIC, else CATEGORICAL."""
    out: dict[str, FeatureType] = {}
    for name, col in columns.items():
        out[name] = _infer_one(np.asarray(col))
    for name, kind in (overrides or {}).items():
        out[name] = kind if isinstance(kind, FeatureType) else FeatureType(str(kind).lower())
    return out


def _infer_one(col: np.ndarray) -> FeatureType:
    if col.dtype.kind == "b":
        return FeatureType.BOOLEAN
    if col.dtype.kind in "iuf":
        finite = col[np.isfinite(col)] if col.dtype.kind == "f" else col
        # A 0/1 float column is a flag, not a measurement.
        if finite.size and np.all((finite == 0) | (finite == 1)):
            return FeatureType.BOOLEAN
        return FeatureType.NUMERIC
    present = [v for v in col.tolist() if not _is_missing(v)]
    if present and all(isinstance(v, bool | np.bool_) for v in present):
        return FeatureType.BOOLEAN
    if present and all(isinstance(v, int | float | np.number) for v in present):
        return FeatureType.NUMERIC
    return FeatureType.CATEGORICAL
