"""The ``[drift]`` config section: defaults, validation and per-model overrides."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

from agent._errors import ConfigError
from plugins.drift.correction import Correction
from plugins.drift.reduction import Reduction
from agent.plugin import FeatureType


class WindowType(Enum):
    """Tumbling windows closed by row count or by elapsed time."""

    COUNT = "count"
    TIME = "time"


class Multivariate(Enum):
    """Which joint test runs over all features (and over output vectors)."""

    MMD = "mmd"
    MMD_LINEAR = "mmd_linear"
    LSDD = "lsdd"
    OFF = "off"


NUMERIC_TESTS = ("ks", "cvm")
CATEGORICAL_TESTS = ("chi2",)


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Validated drift settings for one model.

    Thresholds: a feature is drifted when its corrected p-value is below ``alpha`` and its
    effect size is at least the threshold: normalised Wasserstein (reference σ units) for
    numerics, PSI for categoricals and booleans, MMD²/LSDD for the joint test (0 = any
    significant joint difference counts).
    """

    window_type: WindowType = WindowType.COUNT
    window_size: int = 1000
    window_seconds: float = 60.0
    min_window: int = 100
    alpha: float = 0.05
    correction: Correction = Correction.BONFERRONI
    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    threshold_numeric: float = 0.1
    threshold_categorical: float = 0.1
    threshold_multivariate: float = 0.0
    multivariate: Multivariate = Multivariate.MMD
    permutations: int = 100
    reduction: Reduction = Reduction.PCA
    n_components: int = 10
    bandwidth: float | None = None
    mmd_reference_rows: int = 2000
    linear_mmd_above: int = 5000
    bins: int = 10
    reference: str | None = None
    reference_from_live: int = 1000
    label_column: str = "label"
    feature_types: Mapping[str, FeatureType] = field(default_factory=dict)
    seed: int = 0
    enabled: bool = True


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(key, value, "a positive integer")
    return value


def _probability(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(key, value, "a number strictly between 0 and 1")
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _non_negative(key: str, value: Any) -> float:
    if not _is_number(value) or not (value >= 0 and math.isfinite(value)):
        raise ConfigError(key, value, "a finite number >= 0")
    return float(value)


def _enum(key: str, value: Any, enum: type[Enum]) -> Any:
    try:
        return enum(str(value).lower())
    except ValueError:
        raise ConfigError(key, value, "one of " + ", ".join(repr(e.value) for e in enum)) from None


_KNOWN = {
    "window", "min_window", "alpha", "correction", "tests", "thresholds", "multivariate", "permutations",
    "reduction", "n_components", "bandwidth", "mmd_reference_rows", "linear_mmd_above", "bins",
    "reference", "reference_from_live", "label_column", "feature_types", "seed", "models", "enabled",
}


def parse_section(section: Mapping[str, Any], base: DriftConfig | None = None,
                  prefix: str = "drift") -> DriftConfig:
    """Validate a ``[drift]`` table (or a ``[drift.models.NAME]`` override) on top of ``base``."""
    cfg = base or DriftConfig()
    out: dict[str, Any] = {}
    for key in section:
        if key not in _KNOWN:
            known = ", ".join(sorted(_KNOWN))
            raise ConfigError(f"{prefix}.{key}", section[key], f"a known drift setting: {known}")
    if "window" in section:
        win = section["window"]
        if not isinstance(win, Mapping):
            raise ConfigError(f"{prefix}.window", win, "a table with type, size and/or seconds")
        if "type" in win:
            out["window_type"] = _enum(f"{prefix}.window.type", win["type"], WindowType)
        if "size" in win:
            out["window_size"] = _positive_int(f"{prefix}.window.size", win["size"])
        if "seconds" in win:
            sec = win["seconds"]
            if not _is_number(sec) or not (sec > 0 and math.isfinite(sec)):
                raise ConfigError(f"{prefix}.window.seconds", sec, "a positive number of seconds")
            out["window_seconds"] = float(sec)
    for key in ("min_window", "permutations", "n_components", "mmd_reference_rows", "linear_mmd_above",
                "bins", "reference_from_live"):
        if key in section:
            out[key] = _positive_int(f"{prefix}.{key}", section[key])
    if "min_window" in out and out["min_window"] < 2:
        raise ConfigError(f"{prefix}.min_window", out["min_window"], "an integer >= 2")
    if "alpha" in section:
        out["alpha"] = _probability(f"{prefix}.alpha", section["alpha"])
    if "correction" in section:
        out["correction"] = _enum(f"{prefix}.correction", section["correction"], Correction)
    if "reduction" in section:
        out["reduction"] = _enum(f"{prefix}.reduction", section["reduction"], Reduction)
    if "multivariate" in section:
        mv = section["multivariate"]
        mv = {True: "mmd", False: "off"}.get(mv, mv) if isinstance(mv, bool) else mv
        out["multivariate"] = _enum(f"{prefix}.multivariate", mv, Multivariate)
    if "bandwidth" in section:
        bw = section["bandwidth"]
        if bw not in (None, "median"):
            if isinstance(bw, bool) or not isinstance(bw, int | float) or not bw > 0:
                raise ConfigError(f"{prefix}.bandwidth", bw, "a positive number or \"median\"")
            out["bandwidth"] = float(bw)
        else:
            out["bandwidth"] = None
    if "tests" in section:
        tests = section["tests"]
        if not isinstance(tests, Mapping):
            raise ConfigError(f"{prefix}.tests", tests, "a table with keys numeric ('ks'|'cvm'), categorical")
        if "numeric" in tests:
            if tests["numeric"] not in NUMERIC_TESTS:
                raise ConfigError(f"{prefix}.tests.numeric", tests["numeric"], "one of 'ks', 'cvm'")
            out["numeric_test"] = tests["numeric"]
        if "categorical" in tests:
            if tests["categorical"] not in CATEGORICAL_TESTS:
                raise ConfigError(f"{prefix}.tests.categorical", tests["categorical"], "'chi2'")
            out["categorical_test"] = tests["categorical"]
        for k in tests:
            if k not in ("numeric", "categorical"):
                raise ConfigError(f"{prefix}.tests.{k}", tests[k], "keys numeric or categorical")
    if "thresholds" in section:
        th = section["thresholds"]
        if not isinstance(th, Mapping):
            raise ConfigError(f"{prefix}.thresholds", th, "a table {numeric, categorical, multivariate}")
        names = {"numeric": "threshold_numeric", "categorical": "threshold_categorical",
                 "multivariate": "threshold_multivariate"}
        for k, v in th.items():
            if k not in names:
                raise ConfigError(f"{prefix}.thresholds.{k}", v, "keys numeric, categorical or multivariate")
            out[names[k]] = _non_negative(f"{prefix}.thresholds.{k}", v)
    if "reference" in section:
        ref = section["reference"]
        if ref is not None and not isinstance(ref, str):
            raise ConfigError(f"{prefix}.reference", ref, "a path to a .npz, .npy, .csv or .parquet file")
        out["reference"] = ref
    if "label_column" in section:
        if not isinstance(section["label_column"], str):
            raise ConfigError(f"{prefix}.label_column", section["label_column"], "a column name")
        out["label_column"] = section["label_column"]
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise ConfigError(f"{prefix}.enabled", section["enabled"], "true or false")
        out["enabled"] = section["enabled"]
    if "seed" in section:
        if isinstance(section["seed"], bool) or not isinstance(section["seed"], int):
            raise ConfigError(f"{prefix}.seed", section["seed"], "an integer")
        out["seed"] = section["seed"]
    if "feature_types" in section:
        ft = section["feature_types"]
        if not isinstance(ft, Mapping):
            raise ConfigError(f"{prefix}.feature_types", ft, "a table: feature = type")
        types = dict(cfg.feature_types)
        for k, v in ft.items():
            types[str(k)] = _enum(f"{prefix}.feature_types.{k}", v, FeatureType)
        out["feature_types"] = types
    return replace(cfg, **out)


def parse_config(section: Mapping[str, Any]) -> tuple[DriftConfig, dict[str, DriftConfig]]:
    """The default config and per-model configs (``[drift.models.NAME]`` merged over the default)."""
    default = parse_section({k: v for k, v in section.items() if k != "models"})
    models = section.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigError("drift.models", models, "a table of per-model tables")
    per_model: dict[str, DriftConfig] = {}
    for name, sub in models.items():
        if not isinstance(sub, Mapping):
            raise ConfigError(f"drift.models.{name}", sub, "a table of drift settings")
        if "models" in sub:
            raise ConfigError(f"drift.models.{name}.models", sub["models"], "no nested models table")
        per_model[str(name)] = parse_section(sub, default, prefix=f"drift.models.{name}")
    return default, per_model


CONFIG_FIELDS = tuple(f.name for f in fields(DriftConfig))
