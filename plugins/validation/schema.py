"""Feature schemas: declared in config or a TOML file, inferred from reference data, written back as TOML.

A schema says, per feature, what a healthy value looks like: its type, whether it
must be present and non-null, its range, its allowed categories, its regex and how
much of it may be missing over a window. Config overrides inferred values field by
field, so a person can infer a schema from training data and then tighten it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

import numpy as np

from agent._errors import ConfigError
from agent.plugin import FeatureType, infer_feature_types

__all__ = [
    "FeatureSchema",
    "Schema",
    "ValueType",
    "check_overrides",
    "infer_schema",
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


NUMERIC_TYPES = frozenset({ValueType.FLOAT, ValueType.INT})

# More distinct values than this (and than half the rows) make an inferred text column a
# free-form string rather than a categorical whose every value should be enumerated.
MAX_INFERRED_CATEGORIES = 100


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


_FIELD_NAMES = frozenset(f.name for f in fields(FeatureSchema)) - {"name"}


def _num(key: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, value, "a number")
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(key, value, "a number, not nan")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def feature_from_mapping(name: str, data: Mapping[str, Any], key: str) -> FeatureSchema:
    """Build one FeatureSchema from a config table; ``key`` is its path, used in ConfigError."""
    if not isinstance(data, Mapping):
        raise ConfigError(key, data, "a table of feature settings")
    unknown = sorted(set(data) - _FIELD_NAMES)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", data[unknown[0]], f"one of {sorted(_FIELD_NAMES)}")
    if "type" not in data:
        raise ConfigError(f"{key}.type", None, f"one of {[t.value for t in ValueType]}")
    return _apply(FeatureSchema(name=name, type=ValueType.STRING), data, key)


def _apply(base: FeatureSchema, data: Mapping[str, Any], key: str) -> FeatureSchema:
    """Override ``base`` with the fields present in ``data`` (validated, errors naming ``key.field``)."""
    changes: dict[str, Any] = {}
    for fname, value in data.items():
        k = f"{key}.{fname}"
        if fname not in _FIELD_NAMES:
            raise ConfigError(k, value, f"one of {sorted(_FIELD_NAMES)}")
        if fname == "type":
            try:
                changes["type"] = ValueType(str(value).lower())
            except ValueError:
                raise ConfigError(k, value, f"one of {[t.value for t in ValueType]}") from None
        elif fname in ("required", "nullable", "sensitive"):
            changes[fname] = _bool(k, value)
        elif fname in ("min", "max"):
            changes[fname] = _num(k, value)
        elif fname == "max_missing_rate":
            rate = _num(k, value)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(k, value, "a rate between 0 and 1")
            changes[fname] = float(rate)
        elif fname == "allowed":
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(k, value, "a non-empty array of allowed values")
            for i, v in enumerate(value):
                if not isinstance(v, str | int | float | bool):
                    raise ConfigError(f"{k}[{i}]", v, "a string, number or boolean")
            changes[fname] = tuple(value)
        elif fname == "regex":
            if not isinstance(value, str):
                raise ConfigError(k, value, "a regular expression string")
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(k, value, f"a valid regular expression ({exc})") from None
            changes[fname] = value
    out = replace(base, **changes)
    if out.min is not None and out.max is not None and out.min > out.max:
        raise ConfigError(f"{key}.min", out.min, f"at most max ({out.max})")
    return out


def schema_from_mapping(data: Mapping[str, Any], key: str = "schema") -> Schema:
    """Build a Schema from ``{"features": {NAME: {...}}, "allow_unknown": bool}`` (config or TOML file)."""
    if not isinstance(data, Mapping):
        raise ConfigError(key, data, "a table")
    feats = data.get("features", {})
    if not isinstance(feats, Mapping):
        raise ConfigError(f"{key}.features", feats, "a table of feature tables")
    allow_unknown = _bool(f"{key}.allow_unknown", data.get("allow_unknown", False))
    out = {str(name): feature_from_mapping(str(name), spec, f"{key}.features.{name}") for name, spec in feats.items()}
    return Schema(features=out, allow_unknown=allow_unknown)


def check_overrides(features: Mapping[str, Any], key: str) -> None:
    """Validate config feature tables now (at configure), before any reference arrives to merge with."""
    for name, spec in features.items():
        k = f"{key}.{name}"
        if isinstance(spec, Mapping) and "type" not in spec:
            _apply(FeatureSchema(name=str(name), type=ValueType.STRING), spec, k)
        else:
            feature_from_mapping(str(name), spec, k)


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
            if not isinstance(spec, Mapping):
                raise ConfigError(k, spec, "a table of feature settings")
            feats[name] = _apply(feats[name], spec, k)
        else:
            feats[name] = feature_from_mapping(str(name), spec, k)
    return Schema(features=feats, allow_unknown=inferred.allow_unknown if allow_unknown is None else allow_unknown)


# -- inference --------------------------------------------------------------------------


def _missing_mask(col: np.ndarray) -> np.ndarray:
    if col.dtype.kind == "f":
        return np.isnan(col)
    if col.dtype.kind == "O":
        return np.asarray([v is None or (isinstance(v, float) and math.isnan(v)) for v in col.tolist()], dtype=bool)
    return np.zeros(len(col), dtype=bool)


def _infer_feature(name: str, col: np.ndarray, ftype: FeatureType) -> FeatureSchema:
    col = np.asarray(col).reshape(-1)
    missing = _missing_mask(col)
    n_missing = int(missing.sum())
    nullable = n_missing > 0
    # Tolerate noise around the reference's own missing rate without accepting a broken feed.
    max_missing = min(1.0, round(2.0 * n_missing / len(col) + 0.01, 4)) if nullable and len(col) else None
    present = col[~missing]
    base = FeatureSchema(name=name, type=ValueType.STRING, nullable=nullable, max_missing_rate=max_missing)
    if ftype is FeatureType.BOOLEAN:
        return replace(base, type=ValueType.BOOL)
    if ftype is FeatureType.NUMERIC:
        vals = (
            present.astype(np.float64)
            if present.dtype.kind != "O"
            else np.asarray([float(v) for v in present.tolist()], dtype=np.float64)
        )
        finite = vals[np.isfinite(vals)]
        integral = bool(finite.size) and bool(np.all(finite == np.round(finite)))
        if not finite.size:
            return replace(base, type=ValueType.FLOAT)
        lo, hi = float(finite.min()), float(finite.max())
        if integral:
            return replace(base, type=ValueType.INT, min=int(lo), max=int(hi))
        return replace(base, type=ValueType.FLOAT, min=lo, max=hi)
    values = present.tolist()
    distinct = set()
    for v in values:
        distinct.add(v if isinstance(v, str | int | float | bool) else repr(v))
    if len(distinct) <= MAX_INFERRED_CATEGORIES and len(distinct) <= max(1, len(values) // 2):
        allowed = tuple(sorted(distinct, key=lambda v: (type(v).__name__, str(v))))
        return replace(base, type=ValueType.CATEGORICAL, allowed=allowed or None)
    return replace(base, type=ValueType.STRING)


def infer_schema(columns: Mapping[str, np.ndarray], *, allow_unknown: bool = False) -> Schema:
    """Infer a schema from reference columns: types, seen ranges, seen categories, nullability."""
    types = infer_feature_types(columns)
    feats = {name: _infer_feature(name, columns[name], types[name]) for name in columns}
    return Schema(features=feats, allow_unknown=allow_unknown)


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
        "# Feature schema for InferSight validation. Edit freely: every field is optional",
        "# except `type` (float, int, bool, categorical, string). Also: required, nullable, min, max,",
        "# allowed, max_missing_rate, regex, sensitive (redacts example values in logs).",
        f"allow_unknown = {_toml_value(schema.allow_unknown)}",
    ]
    for name, feat in schema.features.items():
        lines.append("")
        lines.append(f"[features.{_toml_str(name)}]")
        lines.append(f"type = {_toml_value(feat.type.value)}")
        lines.append(f"required = {_toml_value(feat.required)}")
        lines.append(f"nullable = {_toml_value(feat.nullable)}")
        for fname in ("min", "max", "allowed", "max_missing_rate", "regex"):
            value = getattr(feat, fname)
            if value is not None:
                lines.append(f"{fname} = {_toml_value(value)}")
        if feat.sensitive:
            lines.append("sensitive = true")
    return "\n".join(lines) + "\n"
