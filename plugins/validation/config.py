"""The ``[validation]`` config table, declared as a key table and checked once at configure time.

```toml
[validation]
window = { type = "time", seconds = 60 }  # or { type = "count", size = 1000 }: violations are
                                 # logged and turned into Signals once per window
max_examples = 3                 # example values per (feature, kind) in each log event
violation_rate_threshold = 0.01  # Signal when violations / rows in a window exceed this
thresholds = { missing_feature = 0.0 }   # per-kind overrides of the rate threshold
outlier_rate_threshold = 0.02
range_tolerance = 2.0            # widening of min/max inferred from reference data (see schema.py)
infer_from_reference = true      # build a schema for every model that gets reference data
outliers = { method = "quantile", low_quantile = 0.001, high_quantile = 0.999, z = 3.5 }
edge_cases = { factor = 2.0, min_size = 30, bins = 10, max_predictions = 50000, max_labelled = 20000 }

[validation.models.fraud]        # every key above, for one model, plus:
schema = "schema.toml"           # a schema file (as written by `infersight schema infer`)
allow_unknown = false

[validation.models.fraud.features.amount]
type = "float"
min = 0
sensitive = true
```

The reference data a schema is inferred from has one home, the core's
``[models.NAME] reference`` (or ``agent.set_reference``); the core delivers it through
``infersight_set_reference``. A key set under ``[validation.models.NAME]`` replaces the
default for that model (a ``window`` table is laid over the default window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.plugin import (
    ConfigError,
    Key,
    Window,
    boolean,
    enum_of,
    int_at_least,
    non_negative,
    nonempty_string,
    number_between,
    optional,
    parse_models,
    parse_table,
    positive_int,
    positive_number,
    ratio,
    window,
)
from plugins.validation.offline import load_schema
from plugins.validation.outliers import OutlierConfig, OutlierMethod
from plugins.validation.schema import DEFAULT_TOLERANCE, Schema, check_overrides
from plugins.validation.validate import Violation

__all__ = ["KEYS", "MOVED", "SECTION", "EdgeCaseConfig", "ModelSettings", "ValidationConfig", "parse_config"]

SECTION = "validation"

# Bin codes are stored as uint8, with 255 reserved for "no value".
MAX_BINS = 250

DEFAULT_WINDOW = Window("time", 1000, 60.0)
DEFAULT_OUTLIERS = OutlierConfig()


@dataclass(frozen=True, slots=True)
class EdgeCaseConfig:
    """Edge-case detection settings."""

    factor: float = 2.0
    min_size: int = 30
    bins: int = 10
    max_predictions: int = 50_000
    max_labelled: int = 20_000


DEFAULT_EDGE_CASES = EdgeCaseConfig()

# -- checks for this plugin's own value shapes -----------------------------------------

OUTLIER_KEYS: dict[str, Key] = {
    "method": Key(enum_of(OutlierMethod), OutlierMethod.QUANTILE),
    "low_quantile": Key(ratio, 0.001),
    "high_quantile": Key(ratio, 0.999),
    "z": Key(positive_number, 3.5),
}

EDGE_CASE_KEYS: dict[str, Key] = {
    "factor": Key(number_between(1.0, 1e6), 2.0),
    "min_size": Key(positive_int, 30),
    "bins": Key(int_at_least(2), 10),
    "max_predictions": Key(positive_int, 50_000),
    "max_labelled": Key(positive_int, 20_000),
}

THRESHOLD_KEYS: dict[str, Key] = {
    kind.value: Key(optional(ratio), None) for kind in Violation if kind is not Violation.OUTLIER
}


def outliers(key: str, v: Any) -> OutlierConfig:
    """An ``outliers`` table: ``method`` (quantile | zscore), ``low_quantile`` < ``high_quantile``, ``z``."""
    values = parse_table(key, v, OUTLIER_KEYS)
    if not values["low_quantile"] < values["high_quantile"]:
        raise ConfigError(f"{key}.low_quantile", values["low_quantile"], "less than high_quantile")
    return OutlierConfig(**values)


def edge_cases(key: str, v: Any) -> EdgeCaseConfig:
    """An ``edge_cases`` table: ``factor`` >= 1, ``min_size``, ``bins`` (2..250), ring sizes."""
    values = parse_table(key, v, EDGE_CASE_KEYS)
    if values["bins"] > MAX_BINS:
        raise ConfigError(f"{key}.bins", values["bins"], f"an integer between 2 and {MAX_BINS}")
    return EdgeCaseConfig(**values)


def thresholds(key: str, v: Any) -> dict[str, float]:
    """A table of violation kind -> rate above which that kind becomes a Signal."""
    return {kind: rate for kind, rate in parse_table(key, v, THRESHOLD_KEYS).items() if rate is not None}


def schema_file(key: str, v: Any) -> Schema:
    """The path of a schema TOML file, read now (a ConfigError names ``key`` when it cannot be used)."""
    schema, _ = load_schema(Path(nonempty_string(key, v)).expanduser(), key)
    return schema


def features(key: str, v: Any) -> dict[str, Any]:
    """``[...features.NAME]`` tables; a table without ``type`` overrides an inferred feature's fields."""
    return check_overrides(v, key)


KEYS: dict[str, Key] = {
    "window": Key(window, DEFAULT_WINDOW),
    "max_examples": Key(int_at_least(0), 3),
    "violation_rate_threshold": Key(ratio, 0.01),
    "thresholds": Key(thresholds, {}),
    "outlier_rate_threshold": Key(ratio, 0.02),
    "range_tolerance": Key(non_negative, DEFAULT_TOLERANCE),
    "infer_from_reference": Key(boolean, True),
    "outliers": Key(outliers, DEFAULT_OUTLIERS),
    "edge_cases": Key(edge_cases, DEFAULT_EDGE_CASES),
    "schema": Key(optional(schema_file), None),
    "features": Key(features, {}),
    "allow_unknown": Key(optional(boolean), None),
}

MOVED: dict[str, str] = {
    "window_seconds": "window.seconds",
    "reference": "models.NAME.reference",
}


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Validation settings for one model: the defaults with its ``[validation.models.NAME]`` keys laid over."""

    window: Window = DEFAULT_WINDOW
    max_examples: int = 3
    violation_rate_threshold: float = 0.01
    thresholds: Mapping[str, float] = field(default_factory=dict)
    outlier_rate_threshold: float = 0.02
    range_tolerance: float = DEFAULT_TOLERANCE
    infer_from_reference: bool = True
    outliers: OutlierConfig = DEFAULT_OUTLIERS
    edge_cases: EdgeCaseConfig = DEFAULT_EDGE_CASES
    schema: Schema | None = None
    features: Mapping[str, Any] = field(default_factory=dict)
    allow_unknown: bool | None = None

    def threshold(self, kind: str) -> float:
        """Rate above which a violation kind becomes a Signal."""
        return self.thresholds.get(kind, self.violation_rate_threshold)


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """The whole ``[validation]`` table: defaults and per-model settings."""

    defaults: ModelSettings = field(default_factory=ModelSettings)
    models: Mapping[str, ModelSettings] = field(default_factory=dict)

    def for_model(self, name: str) -> ModelSettings:
        """The settings of model ``name`` (the defaults when it has no ``[validation.models.NAME]``)."""
        return self.models.get(name, self.defaults)


def parse_config(section: Mapping[str, Any]) -> ValidationConfig:
    """Check the ``[validation]`` table; raises ConfigError naming the first bad key path."""
    defaults, per_model = parse_models(SECTION, section, KEYS, moved=MOVED)
    return ValidationConfig(
        defaults=ModelSettings(**defaults),
        models={name: ModelSettings(**values) for name, values in per_model.items()},
    )
