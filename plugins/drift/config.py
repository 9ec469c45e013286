"""The ``[drift]`` config table: keys, checks, per-model overrides and the frozen ``DriftConfig``.

Declared once as ``KEYS`` and checked with the shared key table (``agent.plugin``):
``[drift]`` holds the defaults and each ``[drift.models.NAME]`` table takes the same
keys, laid over them. A model's reference data is not configured here: it lives in
``[models.NAME] reference`` (core config) and reaches the plugin through
``infersight_set_reference``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from agent.plugin import (
    ConfigError,
    FeatureType,
    Key,
    Window,
    boolean,
    enum_of,
    int_at_least,
    integer,
    non_negative,
    nonempty_string,
    number_between,
    parse_models,
    positive_int,
    probability,
    window,
)
from plugins.drift.correction import Correction
from plugins.drift.reduction import Reduction
from plugins.drift.vectors import VectorTest


class Multivariate(Enum):
    """Which kernel statistic the joint test over all features (and over output vectors) uses."""

    MMD = "mmd"  # MMD² at the median-heuristic bandwidth and at half of it, aggregated
    LSDD = "lsdd"
    OFF = "off"  # no joint test: the features alone, each at the corrected level


DEFAULT_WINDOW = Window("count", 1000, 60.0)
NUMERIC_TESTS = ("ks", "cvm")
CATEGORICAL_TESTS = ("chi2",)
MIN_VECTOR_ROWS = 10  # vector_reference_rows at least: fewer reference rows cannot give a permutation test power
DISCRETE = "discrete"  # a feature_types value of its own: integer codes with few values (tie-aware tests)


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Validated drift settings for one model.

    The verdict rule (``plugins.drift.verdict``): a result is drift when it is significant
    (corrected p-value below ``alpha``, and the window's joint test rejected when it runs) and
    its noise-corrected effect is at least its threshold: Wasserstein-1 in reference σ for
    numerics (``threshold_numeric``), total variation distance for categoricals, booleans and
    discrete features (``threshold_categorical``, a share of rows), and for the joint test the
    one-feature mean shift in σ with the same MMD (``threshold_multivariate``); for a vector
    (embedding) feature, the domain classifier's held-out AUC above 0.5 (``threshold_vector``).
    """

    window: Window = DEFAULT_WINDOW
    min_window: int = 30
    alpha: float = 0.05
    correction: Correction = Correction.BONFERRONI
    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    threshold_numeric: float = 0.1
    threshold_categorical: float = 0.1
    threshold_multivariate: float = 0.1
    threshold_vector: float = 0.05  # held-out AUC - 0.5 of a classifier telling window from reference vectors
    multivariate: Multivariate = Multivariate.MMD
    permutations: int = 100
    reduction: Reduction = Reduction.AUTO
    n_components: int = 32
    bandwidth: float | None = None
    joint_reference_rows: int = 5000
    vector_test: VectorTest = VectorTest.BOTH
    vector_components: int = 16
    vector_reference_rows: int = 1000
    discrete_levels: int = 20
    discrete_features: frozenset[str] = frozenset()
    bins: int = 10
    reference_from_live: int = 1000
    label_column: str = "label"
    feature_types: Mapping[str, FeatureType] = field(default_factory=dict)
    seed: int = 0
    enabled: bool = True


_D = DriftConfig()

# -- checks for the drift-specific value shapes -------------------------------------------------


def _tests(key: str, value: Any) -> dict[str, str]:
    """``{numeric = "ks"|"cvm", categorical = "chi2"}``, either key optional."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a table {numeric = 'ks'|'cvm', categorical = 'chi2'}")
    out: dict[str, str] = {}
    for k, v in value.items():
        allowed = {"numeric": NUMERIC_TESTS, "categorical": CATEGORICAL_TESTS}.get(str(k))
        if allowed is None:
            raise ConfigError(f"{key}.{k}", v, "one of the keys numeric, categorical")
        if v not in allowed:
            raise ConfigError(f"{key}.{k}", v, "one of " + ", ".join(repr(a) for a in allowed))
        out[str(k)] = str(v)
    return out


def _thresholds(key: str, value: Any) -> dict[str, float]:
    """``{numeric, categorical, multivariate, vector}`` effect-size thresholds, each a finite number >= 0
    (``vector`` at most 0.5: an AUC above chance)."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a table {numeric, categorical, multivariate, vector} of numbers >= 0")
    out: dict[str, float] = {}
    for k, v in value.items():
        if k not in ("numeric", "categorical", "multivariate", "vector"):
            raise ConfigError(f"{key}.{k}", v, "one of the keys numeric, categorical, multivariate, vector")
        out[str(k)] = (number_between(0.0, 0.5)(f"{key}.{k}", v) if k == "vector"
                       else non_negative(f"{key}.{k}", v))
    return out


def _multivariate(key: str, value: Any) -> Multivariate:
    """A joint test name, or ``true`` (mmd) / ``false`` (off)."""
    if isinstance(value, bool):
        return Multivariate.MMD if value else Multivariate.OFF
    member: Multivariate = enum_of(Multivariate)(key, value)
    return member


def _feature_types(key: str, value: Any) -> dict[str, str]:
    """``{feature = "numeric"|"discrete"|"categorical"|"boolean"}``."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "a table {feature = 'numeric'|'discrete'|'categorical'|'boolean'}")
    allowed = [t.value for t in FeatureType] + [DISCRETE]
    out: dict[str, str] = {}
    for k, v in value.items():
        text = str(v).lower() if isinstance(v, str) else v
        if text not in allowed:
            raise ConfigError(f"{key}.{k}", v, "one of " + ", ".join(repr(a) for a in allowed))
        out[str(k)] = str(text)
    return out


def split_feature_types(types: Mapping[str, str]) -> tuple[dict[str, FeatureType], frozenset[str]]:
    """Feature types as the shared ``FeatureType`` (discrete ones as numeric) and the set of discrete features."""
    discrete = frozenset(k for k, v in types.items() if v == DISCRETE)
    return {k: FeatureType.NUMERIC if v == DISCRETE else FeatureType(v) for k, v in types.items()}, discrete


def _bandwidth(key: str, value: Any) -> float | None:
    """A positive kernel bandwidth, or ``"median"`` (the median heuristic, the default)."""
    if value is None or value == "median":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value > 0 and math.isfinite(value)):
        raise ConfigError(key, value, 'a positive number or "median"')
    return float(value)


KEYS: dict[str, Key] = {
    "enabled": Key(boolean, _D.enabled),
    "window": Key(window, _D.window),
    "min_window": Key(int_at_least(2), _D.min_window),
    "alpha": Key(probability, _D.alpha),
    "correction": Key(enum_of(Correction), _D.correction),
    "tests": Key(_tests, {}),
    "thresholds": Key(_thresholds, {}),
    "multivariate": Key(_multivariate, _D.multivariate),
    "permutations": Key(positive_int, _D.permutations),
    "reduction": Key(enum_of(Reduction), _D.reduction),
    "n_components": Key(positive_int, _D.n_components),
    "bandwidth": Key(_bandwidth, _D.bandwidth),
    "joint_reference_rows": Key(int_at_least(2), _D.joint_reference_rows),
    "vector_test": Key(enum_of(VectorTest), _D.vector_test),
    "vector_components": Key(positive_int, _D.vector_components),
    "vector_reference_rows": Key(int_at_least(MIN_VECTOR_ROWS), _D.vector_reference_rows),
    "discrete_levels": Key(int_at_least(2), _D.discrete_levels),
    "bins": Key(positive_int, _D.bins),
    "reference_from_live": Key(positive_int, _D.reference_from_live),
    "label_column": Key(nonempty_string, _D.label_column),
    "feature_types": Key(_feature_types, {}),
    "seed": Key(integer, _D.seed),
}

MOVED: dict[str, str] = {
    # A model's reference data has one home, read by the core and delivered through
    # infersight_set_reference: [models.NAME] reference = "path".
    "reference": "models.NAME.reference",
    "window_type": "window.type",
    "window_size": "window.size",
    "window_seconds": "window.seconds",
    # The joint test uses the whole window at every size (no linear-time fallback) and up to
    # joint_reference_rows reference rows.
    "mmd_reference_rows": "joint_reference_rows",
    "linear_mmd_above": "joint_reference_rows",
}


def _build(values: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> DriftConfig:
    """A ``DriftConfig`` from parsed values; partial ``tests``/``thresholds``/``feature_types`` tables
    are laid over the parent table's (``[drift]`` for a model) and the defaults."""
    up = parent or {}
    tests = {"numeric": _D.numeric_test, "categorical": _D.categorical_test,
             **up.get("tests", {}), **values["tests"]}
    thresholds = {"numeric": _D.threshold_numeric, "categorical": _D.threshold_categorical,
                  "multivariate": _D.threshold_multivariate, "vector": _D.threshold_vector,
                  **up.get("thresholds", {}), **values["thresholds"]}
    feature_types, discrete = split_feature_types({**up.get("feature_types", {}), **values["feature_types"]})
    return DriftConfig(
        window=values["window"],
        min_window=values["min_window"],
        alpha=values["alpha"],
        correction=values["correction"],
        numeric_test=tests["numeric"],
        categorical_test=tests["categorical"],
        threshold_numeric=thresholds["numeric"],
        threshold_categorical=thresholds["categorical"],
        threshold_multivariate=thresholds["multivariate"],
        threshold_vector=thresholds["vector"],
        multivariate=values["multivariate"],
        permutations=values["permutations"],
        reduction=values["reduction"],
        n_components=values["n_components"],
        bandwidth=values["bandwidth"],
        joint_reference_rows=values["joint_reference_rows"],
        vector_test=values["vector_test"],
        vector_components=values["vector_components"],
        vector_reference_rows=values["vector_reference_rows"],
        discrete_levels=values["discrete_levels"],
        discrete_features=discrete,
        bins=values["bins"],
        reference_from_live=values["reference_from_live"],
        label_column=values["label_column"],
        feature_types=feature_types,
        seed=values["seed"],
        enabled=values["enabled"],
    )


def parse_config(section: Mapping[str, Any]) -> tuple[DriftConfig, dict[str, DriftConfig]]:
    """The default config and the per-model configs (``[drift.models.NAME]`` laid over ``[drift]``).

    Raises ``ConfigError`` naming the full key path (``drift.models.fraud.alpha``); a key that
    moved (``reference``, ``window_size``, ...) names its new place.
    """
    defaults, per_model = parse_models("drift", section, KEYS, moved=MOVED)
    default = _build(defaults)
    return default, {name: _build(values, defaults) for name, values in per_model.items()}

