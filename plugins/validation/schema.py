"""Feature schemas: declared in config or a TOML file, inferred from reference data, written back as TOML.

A schema says, per feature, what a healthy value looks like: its type, whether it
must be present and non-null, its range, its allowed categories, its regex, its
length and Euclidean norm range (list features: embeddings) and how much of it may be
missing over a window. Config
overrides inferred values field by field, so a person can infer a schema from
training data and then tighten it.

Inferred numeric bounds are not the observed extremes: fresh data from the
reference's own distribution routinely lands a little beyond them. Each bound sits
``tolerance`` times the distance from the median to that extreme further out
(``max = observed_max + tolerance * (observed_max - median)``, default 2), so a
heavier tail gets a wider margin on its own side. A bound never crosses zero when
the reference never did (a feature never seen negative keeps ``min >= 0``), and an
``int`` feature's bounds are rounded outward. ``tolerance = 0`` pins the observed range.
A numeric list feature of one length (an embedding) gets ``norm_min``/``norm_max`` by the
same rule applied to its vectors' Euclidean norms, and at least ``NORM_SLACK`` (1e-4) of the
largest norm beyond the observed ones, so normalised embeddings (every norm 1 up to rounding)
keep fresh vectors' float32 rounding inside the range.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from agent.plugin import (
    ConfigError,
    FeatureType,
    Key,
    boolean,
    enum_of,
    infer_feature_types,
    int_at_least,
    non_negative,
    optional,
    parse_table,
    ratio,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "FEATURE_KEYS",
    "FeatureSchema",
    "Schema",
    "ValueType",
    "check_overrides",
    "feature_tables",
    "infer_schema",
    "is_sequence",
    "merge_schemas",
    "schema_from_mapping",
    "schema_to_toml",
]


class ValueType(Enum):
    """The value type a feature must have (finer than the reference's numeric/categorical/boolean)."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    CATEGORICAL = "categorical"
    STRING = "string"
    LIST = "list"  # a list, tuple or array per row (an embedding, a token list); ``dim`` checks its length,
    # ``norm_min``/``norm_max`` the Euclidean norm of a numeric one


NUMERIC_TYPES = frozenset({ValueType.FLOAT, ValueType.INT})

# More distinct values than this (and than half the rows) make an inferred text column a
# free-form string rather than a categorical whose every value should be enumerated.
MAX_INFERRED_CATEGORIES = 100

DEFAULT_TOLERANCE = 2.0
"""Inferred bounds: ``extreme + DEFAULT_TOLERANCE * (extreme - median)`` on each side (see the module doc)."""


@dataclass(frozen=True, slots=True)
class FeatureSchema:
    """What one feature must look like; ``None`` bounds mean unchecked."""

    name: str
    type: ValueType
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    max_missing_rate: float | None = None
    regex: str | None = None
    sensitive: bool = False
    dim: int | None = None
    norm_min: float | None = None  # list features: bounds on the Euclidean norm of a numeric vector
    norm_max: float | None = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled regex (cached by ``re``), or None."""
        return re.compile(self.regex) if self.regex is not None else None


@dataclass(frozen=True, slots=True)
class Schema:
    """A model's feature schema: features by name, and whether unknown features are tolerated."""

    features: Mapping[str, FeatureSchema] = field(default_factory=dict)
    allow_unknown: bool = False

    def __contains__(self, name: object) -> bool:
        return name in self.features

    def __len__(self) -> int:
        return len(self.features)


# -- the feature table ------------------------------------------------------------------


def bound(key: str, v: Any) -> float | int:
    """A number for ``min``/``max`` (not NaN); an integer stays an integer, so an int feature reads ``18``."""
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and math.isnan(v)):
        raise ConfigError(key, v, "a number")
    return v


def allowed_values(key: str, v: Any) -> tuple[Any, ...]:
    """A non-empty array of strings, numbers or booleans (the categories a feature may take)."""
    if not isinstance(v, list | tuple) or not v:
        raise ConfigError(key, v, "a non-empty array of allowed values")
    for i, x in enumerate(v):
        if not isinstance(x, str | int | float | bool):
            raise ConfigError(f"{key}[{i}]", x, "a string, number or boolean")
    return tuple(v)


def regex(key: str, v: Any) -> str:
    """A string that compiles as a Python regular expression (matched against the whole value)."""
    if not isinstance(v, str):
        raise ConfigError(key, v, "a regular expression string")
    try:
        re.compile(v)
    except re.error as exc:
        raise ConfigError(key, v, f"a valid regular expression ({exc})") from None
    return v


FEATURE_KEYS: dict[str, Key] = {
    "type": Key(enum_of(ValueType), ValueType.STRING),
    "required": Key(boolean, True),
    "nullable": Key(boolean, False),
    "min": Key(optional(bound), None),
    "max": Key(optional(bound), None),
    "allowed": Key(optional(allowed_values), None),
    "max_missing_rate": Key(optional(ratio), None),
    "regex": Key(optional(regex), None),
    "sensitive": Key(boolean, False),
    "dim": Key(optional(int_at_least(0)), None),
    "norm_min": Key(optional(non_negative), None),
    "norm_max": Key(optional(non_negative), None),
}


def _apply(base: FeatureSchema, data: Any, key: str) -> FeatureSchema:
    """Override ``base`` with the fields present in ``data`` (checked, errors naming ``key.field``)."""
    if not isinstance(data, Mapping):
        raise ConfigError(key, data, "a table of feature settings")
    values = parse_table(key, data, FEATURE_KEYS, base={k: getattr(base, k) for k in FEATURE_KEYS})
    out = replace(base, **values)
    if out.min is not None and out.max is not None and out.min > out.max:
        raise ConfigError(f"{key}.min", out.min, f"at most max ({out.max})")
    if out.norm_min is not None and out.norm_max is not None and out.norm_min > out.norm_max:
        raise ConfigError(f"{key}.norm_min", out.norm_min, f"at most norm_max ({out.norm_max})")
    return out


def feature_from_mapping(name: str, data: Any, key: str) -> FeatureSchema:
    """Build one FeatureSchema from a config table; ``key`` is its path, used in ConfigError."""
    if isinstance(data, Mapping) and "type" not in data:
        raise ConfigError(f"{key}.type", None, "one of " + ", ".join(repr(t.value) for t in ValueType))
    return _apply(FeatureSchema(name=name, type=ValueType.STRING), data, key)


def check_overrides(features: Any, key: str) -> dict[str, Any]:
    """Check config feature tables now (at configure), before any reference arrives to merge with.

    A table without ``type`` is a partial override of an inferred feature: its fields are
    checked, and it waits for reference data to declare the feature.
    """
    if not isinstance(features, Mapping):
        raise ConfigError(key, features, "a table of feature tables")
    for name, spec in features.items():
        k = f"{key}.{name}"
        if isinstance(spec, Mapping) and "type" not in spec:
            _apply(FeatureSchema(name=str(name), type=ValueType.STRING), spec, k)
        else:
            feature_from_mapping(str(name), spec, k)
    return {str(name): dict(spec) for name, spec in features.items()}


def feature_tables(key: str, v: Any) -> dict[str, FeatureSchema]:
    """``[features.NAME]`` tables of a schema file, each with its ``type``."""
    if not isinstance(v, Mapping):
        raise ConfigError(key, v, "a table of feature tables")
    return {str(name): feature_from_mapping(str(name), spec, f"{key}.{name}") for name, spec in v.items()}


SCHEMA_KEYS: dict[str, Key] = {
    "allow_unknown": Key(boolean, False),
    "features": Key(feature_tables, {}),
}


def schema_from_mapping(data: Mapping[str, Any], key: str = "schema") -> Schema:
    """Build a Schema from ``{"features": {NAME: {...}}, "allow_unknown": bool}`` (a schema file's tables).

    A ``[thresholds]`` table is left to the offline check (``offline.load_schema``).
    """
    values = parse_table(key, data, SCHEMA_KEYS, ignore=frozenset({"thresholds"}))
    return Schema(features=values["features"], allow_unknown=values["allow_unknown"])


def merge_schemas(
    inferred: Schema, overrides: Mapping[str, Any], key: str = "schema", allow_unknown: bool | None = None
) -> Schema:
    """Apply config feature tables over an inferred schema: present fields win, absent ones are kept.

    A table without ``type`` for a feature the base schema lacks is a partial override that
    waits for reference data to declare the feature; it is skipped until then.
    """
    feats = dict(inferred.features)
    for name, spec in overrides.items():
        k = f"{key}.features.{name}"
        if name not in feats and isinstance(spec, Mapping) and "type" not in spec:
            continue
        if name in feats:
            feats[name] = _apply(feats[name], spec, k)
        else:
            feats[name] = feature_from_mapping(str(name), spec, k)
    return Schema(features=feats, allow_unknown=inferred.allow_unknown if allow_unknown is None else allow_unknown)


# -- inference --------------------------------------------------------------------------


def is_sequence(v: Any) -> bool:
    """Whether one value is list-like (a list, a tuple or an array of at least one dimension)."""
    return isinstance(v, list | tuple) or (isinstance(v, np.ndarray) and v.ndim >= 1)


def _missing_mask(col: np.ndarray) -> np.ndarray:
    if col.dtype.kind == "f":
        return np.isnan(col)
    if col.dtype.kind == "O":
        return np.asarray([v is None or (isinstance(v, float) and math.isnan(v)) for v in col.tolist()], dtype=bool)
    return np.zeros(len(col), dtype=bool)


def _list_feature(name: str, col: np.ndarray, tolerance: float) -> FeatureSchema | None:
    """A LIST feature when every present value of ``col`` is list-like (or the column is 2-D), else None.

    Numeric vectors of one length also get a norm range (``widened_bounds`` of their norms).
    """
    if col.ndim >= 2:
        lo, hi = _norm_range(col.reshape(col.shape[0], -1) if col.dtype.kind in "iuf" else None, tolerance)
        return FeatureSchema(name=name, type=ValueType.LIST, dim=int(col.shape[1]), norm_min=lo, norm_max=hi)
    if col.dtype.kind != "O":
        return None
    missing = _missing_mask(col)
    present = [v for v, m in zip(col.tolist(), missing.tolist(), strict=True) if not m]
    if not present or not all(is_sequence(v) for v in present):
        return None
    lengths = {len(v) for v in present}
    n_missing = int(missing.sum())
    dim = lengths.pop() if len(lengths) == 1 else None
    lo = hi = None
    if dim:
        try:
            lo, hi = _norm_range(np.asarray(present, dtype=np.float64).reshape(len(present), dim), tolerance)
        except (TypeError, ValueError, OverflowError):  # a token list, or mixed values: no norm range
            pass
    return FeatureSchema(
        name=name,
        type=ValueType.LIST,
        nullable=n_missing > 0,
        max_missing_rate=_max_missing(n_missing, len(col)),
        dim=dim,
        norm_min=lo,
        norm_max=hi,
    )


NORM_SLACK = 1e-4
"""Inferred norm bounds sit at least this share of the largest norm beyond the observed norms (when tolerance > 0)."""


def _norm_range(matrix: np.ndarray | None, tolerance: float) -> tuple[float | None, float | None]:
    """Inferred bounds of the Euclidean norms of the finite rows of ``matrix`` (None when there are none)."""
    if matrix is None or matrix.size == 0:
        return None, None
    M = matrix.astype(np.float64, copy=False)
    finite = M[np.isfinite(M).all(axis=1)]
    if not finite.shape[0]:
        return None, None
    norms = np.sqrt(np.einsum("ij,ij->i", finite, finite))
    lo, hi = widened_bounds(norms, tolerance)
    if tolerance > 0:
        # Normalised embeddings have norms 1 ± rounding: keep float32 rounding (1e-7) of fresh vectors inside.
        slack = NORM_SLACK * float(norms.max())
        lo, hi = max(0.0, min(lo, float(norms.min()) - slack)), max(hi, float(norms.max()) + slack)
    return lo, hi


def _max_missing(n_missing: int, n: int) -> float | None:
    # Tolerate noise around the reference's own missing rate without accepting a broken feed.
    return min(1.0, round(2.0 * n_missing / n + 0.01, 4)) if n_missing and n else None


_FINITE_MAX = sys.float_info.max


def widened_bounds(values: np.ndarray, tolerance: float) -> tuple[float, float]:
    """Inferred (min, max) of finite ``values``: each extreme pushed out by ``tolerance`` x its distance to the median.

    When an extreme equals the median (half the values sit on it) the margin is taken
    from the whole range instead, and from the value itself for a constant column. A
    bound never crosses zero when the values did not.
    """
    lo, hi = float(values.min()), float(values.max())
    med = float(np.median(values))
    width = hi - lo if hi > lo else max(abs(hi), 1.0)
    low_margin = (med - lo) if med > lo else width
    high_margin = (hi - med) if hi > med else width
    low = max(-_FINITE_MAX, lo - tolerance * low_margin)
    high = min(_FINITE_MAX, hi + tolerance * high_margin)
    if lo >= 0.0:
        low = max(low, 0.0)
    elif hi <= 0.0:
        high = min(high, 0.0)
    return (lo, hi) if tolerance == 0 else (low, high)


def _integral_bound(x: float, up: bool) -> float | int:
    """Round an int feature's bound outward; beyond 2**53 floats are integral already and stay floats."""
    if abs(x) > 2.0**53:
        return x
    return math.ceil(x) if up else math.floor(x)


def _infer_feature(name: str, col: np.ndarray, ftype: FeatureType, tolerance: float) -> FeatureSchema:
    col = np.asarray(col).reshape(-1)
    missing = _missing_mask(col)
    n_missing = int(missing.sum())
    present = col[~missing]
    base = FeatureSchema(
        name=name, type=ValueType.STRING, nullable=n_missing > 0, max_missing_rate=_max_missing(n_missing, len(col))
    )
    if ftype is FeatureType.BOOLEAN:
        return replace(base, type=ValueType.BOOL)
    if ftype is FeatureType.NUMERIC:
        vals = (
            present.astype(np.float64)
            if present.dtype.kind != "O"
            else np.asarray([float(v) for v in present.tolist()], dtype=np.float64)
        )
        finite = vals[np.isfinite(vals)]
        if not finite.size:
            return replace(base, type=ValueType.FLOAT)
        integral = bool(np.all(finite == np.round(finite)))
        low, high = widened_bounds(finite, tolerance)
        if integral:
            return replace(base, type=ValueType.INT, min=_integral_bound(low, False), max=_integral_bound(high, True))
        return replace(base, type=ValueType.FLOAT, min=low, max=high)
    values = present.tolist()
    distinct = set()
    for v in values:
        distinct.add(v if isinstance(v, str | int | float | bool) else repr(v))
    if len(distinct) <= MAX_INFERRED_CATEGORIES and len(distinct) <= max(1, len(values) // 2):
        allowed = tuple(sorted(distinct, key=lambda v: (type(v).__name__, str(v))))
        return replace(base, type=ValueType.CATEGORICAL, allowed=allowed or None)
    return replace(base, type=ValueType.STRING)


def infer_schema(
    columns: Mapping[str, np.ndarray], *, allow_unknown: bool = False, tolerance: float = DEFAULT_TOLERANCE
) -> Schema:
    """Infer a schema from reference columns: types, widened ranges, seen categories, nullability, list lengths."""
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    feats: dict[str, FeatureSchema] = {}
    scalar: dict[str, np.ndarray] = {}
    for name, col in columns.items():
        arr = np.asarray(col)
        listed = _list_feature(name, arr, tolerance)
        if listed is not None:
            feats[name] = listed
        else:
            scalar[name] = arr.reshape(-1)
    types = infer_feature_types(scalar)
    for name, arr in scalar.items():
        feats[name] = _infer_feature(name, arr, types[name], tolerance)
    return Schema(features={name: feats[name] for name in columns}, allow_unknown=allow_unknown)


# -- writing ----------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    # json.dumps escapes quotes, backslashes and C0 controls in forms TOML accepts; TOML also bans DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _toml_str(str(value))


def schema_to_toml(schema: Schema, *, header: str = "") -> str:
    """Render a schema as TOML a person can edit (and ``schema_from_mapping(tomllib.loads(...))`` reads)."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines += [
        "# Feature schema for InferSight validation. Edit freely: every field is optional except `type`",
        "# (float, int, bool, categorical, string, list). Also: required, nullable, min, max, allowed,",
        "# max_missing_rate, regex, dim (length of a list feature), norm_min/norm_max (Euclidean norm of a",
        "# numeric list feature), sensitive (redacts example values).",
        f"allow_unknown = {_toml_value(schema.allow_unknown)}",
    ]
    for name, feat in schema.features.items():
        lines.append("")
        lines.append(f"[features.{_toml_str(name)}]")
        lines.append(f"type = {_toml_value(feat.type.value)}")
        lines.append(f"required = {_toml_value(feat.required)}")
        lines.append(f"nullable = {_toml_value(feat.nullable)}")
        for fname in ("min", "max", "allowed", "max_missing_rate", "regex", "dim", "norm_min", "norm_max"):
            value = getattr(feat, fname)
            if value is not None:
                lines.append(f"{fname} = {_toml_value(value)}")
        if feat.sensitive:
            lines.append("sensitive = true")
    return "\n".join(lines) + "\n"
