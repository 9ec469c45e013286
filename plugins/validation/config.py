"""The ``[validation]`` config section, parsed and checked once at configure time.

```toml
[validation]
window_seconds = 60             # violations are logged and turned into Signals per window
max_examples = 3                # example values per (feature, kind) in each log event
violation_rate_threshold = 0.01 # Signal when violations / rows in a window exceed this
thresholds = { missing_feature = 0.0 }   # per-kind overrides of the rate threshold
outlier_rate_threshold = 0.02
infer_from_reference = true     # build a schema for every model that gets reference data
outliers = { method = "quantile", low_quantile = 0.001, high_quantile = 0.999, z = 3.5 }
edge_cases = { factor = 2.0, min_size = 30, bins = 10, max_predictions = 50000, max_labelled = 20000 }

[validation.models.fraud]
schema = "schema.toml"          # optional schema file (as written by `infersight schema infer`)
reference = "train.csv"         # optional reference file (else agent.set_reference)
allow_unknown = false

[validation.models.fraud.features.amount]
type = "float"
min = 0
sensitive = true
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent._errors import ConfigError
from plugins.validation.offline import load_schema
from plugins.validation.outliers import OutlierConfig, outlier_config_from_mapping
from plugins.validation.schema import Schema, check_overrides
from plugins.validation.validate import Violation

__all__ = ["EdgeCaseConfig", "ModelConfig", "ValidationConfig", "parse_config"]

SECTION = "validation"


@dataclass(frozen=True, slots=True)
class EdgeCaseConfig:
    """Edge-case detection settings."""

    factor: float = 2.0
    min_size: int = 30
    bins: int = 10
    max_predictions: int = 50_000
    max_labelled: int = 20_000


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Per-model validation settings: a schema file, a reference file and feature overrides."""

    schema: Schema | None = None
    reference: Path | None = None
    features: Mapping[str, Any] = field(default_factory=dict)
    allow_unknown: bool | None = None
    infer_from_reference: bool = True


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """The whole ``[validation]`` section."""

    window_seconds: float = 60.0
    max_examples: int = 3
    violation_rate_threshold: float = 0.01
    thresholds: Mapping[str, float] = field(default_factory=dict)
    outlier_rate_threshold: float = 0.02
    infer_from_reference: bool = True
    outliers: OutlierConfig = field(default_factory=OutlierConfig)
    edge_cases: EdgeCaseConfig = field(default_factory=EdgeCaseConfig)
    models: Mapping[str, ModelConfig] = field(default_factory=dict)

    def threshold(self, kind: str) -> float:
        """Rate above which a violation kind becomes a Signal."""
        return self.thresholds.get(kind, self.violation_rate_threshold)


def _number(key: str, value: Any, *, low: float = 0.0, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(key, value, f"a number between {low} and {high}")
    return float(value)


def _int(key: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, value, f"an integer >= {low}")
    return value


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def _bins(key: str, value: Any) -> int:
    # Bin codes are stored as uint8 with 255 reserved for "no value".
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 250:
        raise ConfigError(key, value, "an integer between 2 and 250")
    return value


def _edge_config(data: Any, key: str) -> EdgeCaseConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(key, data, "a table")
    known = {"factor", "min_size", "bins", "max_predictions", "max_labelled"}
    for k in data:
        if k not in known:
            raise ConfigError(f"{key}.{k}", data[k], f"one of {sorted(known)}")
    d = EdgeCaseConfig()
    return EdgeCaseConfig(
        factor=_number(f"{key}.factor", data.get("factor", d.factor), low=1.0),
        min_size=_int(f"{key}.min_size", data.get("min_size", d.min_size), 1),
        bins=_bins(f"{key}.bins", data.get("bins", d.bins)),
        max_predictions=_int(f"{key}.max_predictions", data.get("max_predictions", d.max_predictions), 1),
        max_labelled=_int(f"{key}.max_labelled", data.get("max_labelled", d.max_labelled), 1),
    )


def _model_config(name: str, data: Any, key: str, base_dir: Path) -> ModelConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(key, data, "a table")
    known = {"schema", "reference", "features", "allow_unknown", "infer_from_reference"}
    for k in data:
        if k not in known:
            raise ConfigError(f"{key}.{k}", data[k], f"one of {sorted(known)}")
    schema = None
    if "schema" in data:
        if not isinstance(data["schema"], str):
            raise ConfigError(f"{key}.schema", data["schema"], "a path to a schema TOML file")
        schema, _ = load_schema(base_dir / data["schema"], f"{key}.schema")
    reference = None
    if "reference" in data:
        if not isinstance(data["reference"], str):
            raise ConfigError(f"{key}.reference", data["reference"], "a path to a reference data file")
        reference = base_dir / data["reference"]
    features = data.get("features", {})
    if not isinstance(features, Mapping):
        raise ConfigError(f"{key}.features", features, "a table of feature tables")
    check_overrides(features, f"{key}.features")
    allow_unknown = data.get("allow_unknown")
    return ModelConfig(
        schema=schema,
        reference=reference,
        features=dict(features),
        allow_unknown=None if allow_unknown is None else _flag(f"{key}.allow_unknown", allow_unknown),
        infer_from_reference=_flag(f"{key}.infer_from_reference", data.get("infer_from_reference", True)),
    )


def parse_config(section: Mapping[str, Any], base_dir: Path | None = None) -> ValidationConfig:
    """Parse the ``[validation]`` table; raises ConfigError naming the first bad key path."""
    base = base_dir or Path.cwd()
    known = {
        "window_seconds", "max_examples", "violation_rate_threshold", "thresholds", "outlier_rate_threshold",
        "infer_from_reference", "outliers", "edge_cases", "models",
    }  # fmt: skip
    for k in section:
        if k not in known:
            raise ConfigError(f"{SECTION}.{k}", section[k], f"one of {sorted(known)}")
    d = ValidationConfig()
    thresholds = section.get("thresholds", {})
    if not isinstance(thresholds, Mapping):
        raise ConfigError(f"{SECTION}.thresholds", thresholds, "a table of violation kind -> rate")
    kinds = {v.value for v in Violation}
    parsed_thresholds: dict[str, float] = {}
    for kind, rate in thresholds.items():
        if kind not in kinds:
            raise ConfigError(f"{SECTION}.thresholds.{kind}", rate, f"a violation kind, one of {sorted(kinds)}")
        parsed_thresholds[kind] = _number(f"{SECTION}.thresholds.{kind}", rate, high=1.0)
    models = section.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigError(f"{SECTION}.models", models, "a table of model tables")
    return ValidationConfig(
        window_seconds=_number(f"{SECTION}.window_seconds", section.get("window_seconds", d.window_seconds)),
        max_examples=_int(f"{SECTION}.max_examples", section.get("max_examples", d.max_examples)),
        violation_rate_threshold=_number(
            f"{SECTION}.violation_rate_threshold",
            section.get("violation_rate_threshold", d.violation_rate_threshold),
            high=1.0,
        ),
        thresholds=parsed_thresholds,
        outlier_rate_threshold=_number(
            f"{SECTION}.outlier_rate_threshold",
            section.get("outlier_rate_threshold", d.outlier_rate_threshold),
            high=1.0,
        ),
        infer_from_reference=_flag(
            f"{SECTION}.infer_from_reference", section.get("infer_from_reference", d.infer_from_reference)
        ),
        outliers=outlier_config_from_mapping(section.get("outliers", {}), f"{SECTION}.outliers"),
        edge_cases=_edge_config(section.get("edge_cases", {}), f"{SECTION}.edge_cases"),
        models={
            str(name): _model_config(str(name), spec, f"{SECTION}.models.{name}", base) for name, spec in models.items()
        },
    )
