"""The ``[drift]`` table on the shared key table: defaults, per-model layering, moved keys."""

from __future__ import annotations

import pytest

from agent.plugin import ConfigError, FeatureType, Window
from plugins.drift.config import KEYS, MOVED, DriftConfig, Multivariate, parse_config
from plugins.drift.correction import Correction


def test_defaults_match_the_dataclass() -> None:
    default, per_model = parse_config({})
    assert default == DriftConfig() and per_model == {}
    assert default.window == Window("count", 1000, 60.0)


def test_a_model_table_is_laid_over_the_drift_table_key_by_key() -> None:
    default, per_model = parse_config({
        "window": {"type": "time", "seconds": 30},
        "alpha": 0.01,
        "thresholds": {"numeric": 0.2},
        "tests": {"numeric": "cvm"},
        "feature_types": {"zip": "categorical"},
        "multivariate": False,
        "bandwidth": "median",
        "correction": "BH",
        "models": {"fraud": {"window": {"size": 500}, "thresholds": {"categorical": 0.3},
                             "feature_types": {"age": "numeric"}, "multivariate": "lsdd", "bandwidth": 2}},
    })
    assert default.window == Window("time", 1000, 30.0)
    assert (default.alpha, default.threshold_numeric, default.numeric_test) == (0.01, 0.2, "cvm")
    assert default.multivariate is Multivariate.OFF and default.bandwidth is None
    assert default.correction is Correction.BH
    fraud = per_model["fraud"]
    assert fraud.window == Window("time", 500, 30.0)  # the window keys given, over the inherited ones
    assert (fraud.threshold_numeric, fraud.threshold_categorical) == (0.2, 0.3)
    assert fraud.numeric_test == "cvm" and fraud.alpha == 0.01
    assert fraud.feature_types == {"zip": FeatureType.CATEGORICAL, "age": FeatureType.NUMERIC}
    assert fraud.multivariate is Multivariate.LSDD and fraud.bandwidth == 2.0


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_moved_keys_name_their_new_place(old: str, new: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({old: 1})
    assert info.value.key == f"drift.{old}" and new in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config({"models": {"fraud": {old: 1}}})
    assert info.value.key == f"drift.models.fraud.{old}"


def test_the_verdict_rule_defaults_are_meaningful_thresholds_and_one_joint_test() -> None:
    d = DriftConfig()
    assert (d.threshold_numeric, d.threshold_categorical, d.threshold_multivariate) == (0.1, 0.1, 0.1)
    assert d.multivariate is Multivariate.MMD and d.min_window == 30 and d.joint_reference_rows == 5000


def test_discrete_is_a_feature_type_of_its_own_and_the_linear_mmd_is_gone() -> None:
    default, per_model = parse_config({"feature_types": {"zip": "categorical", "rooms": "discrete"},
                                       "models": {"m": {"feature_types": {"age": "Discrete"}}}})
    assert default.feature_types == {"zip": FeatureType.CATEGORICAL, "rooms": FeatureType.NUMERIC}
    assert default.discrete_features == {"rooms"} and per_model["m"].discrete_features == {"rooms", "age"}
    with pytest.raises(ConfigError) as info:
        parse_config({"multivariate": "mmd_linear"})
    assert info.value.key == "drift.multivariate" and "'lsdd'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config({"linear_mmd_above": 5000})
    assert "joint_reference_rows" in str(info.value)


def test_the_reference_is_not_a_drift_key() -> None:
    assert "reference" not in KEYS and MOVED["reference"] == "models.NAME.reference"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"bandwidth": 0}, "drift.bandwidth"),
        ({"bandwidth": "wide"}, "drift.bandwidth"),
        ({"multivariate": "pca"}, "drift.multivariate"),
        ({"tests": {"joint": "mmd"}}, "drift.tests.joint"),
        ({"tests": "ks"}, "drift.tests"),
        ({"thresholds": {"numeric": float("nan")}}, "drift.thresholds.numeric"),
        ({"min_window": 1}, "drift.min_window"),
        ({"feature_types": {"x": "ordinal"}}, "drift.feature_types.x"),
        ({"discrete_levels": 1}, "drift.discrete_levels"),
        ({"reduction": "umap"}, "drift.reduction"),
        ({"label_column": ""}, "drift.label_column"),
        ({"models": {"fraud": {"models": {}}}}, "drift.models.fraud.models"),
        ({"models": ["fraud"]}, "drift.models"),
    ],
)
def test_bad_values_name_the_full_key_path(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(section)
    assert info.value.key == key
