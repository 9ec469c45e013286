"""The ``[validation]`` table on the shared key table: bad values, moved keys and per-model overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.plugin import ConfigError, Window
from agent.testing import run_plugin
from plugins.validation.config import parse_config
from plugins.validation.outliers import OutlierMethod


def start(section: dict[str, Any]) -> None:
    with run_plugin("validation", config={"validation": section}):
        pass


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"models": {"m": {"features": {"x": {"type": "decimal"}}}}}, "validation.models.m.features.x.type"),
        ({"models": {"m": {"features": {"x": {"type": "float", "min": "0"}}}}}, "validation.models.m.features.x.min"),
        ({"models": {"m": {"features": {"x": {"type": "string", "regex": "("}}}}},
         "validation.models.m.features.x.regex"),
        ({"models": {"m": {"features": {"x": {"type": "int", "colour": 1}}}}}, "validation.models.m.features.x.colour"),
        ({"models": {"m": {"features": {"x": {"min": 5, "max": 1}}}}}, "validation.models.m.features.x.min"),
        ({"models": {"m": {"features": {"x": {"type": "list", "dim": -1}}}}}, "validation.models.m.features.x.dim"),
        ({"models": {"m": {"features": {"x": {"type": "list", "norm_max": -1}}}}},
         "validation.models.m.features.x.norm_max"),
        ({"models": {"m": {"features": {"x": {"type": "list", "norm_min": 3, "norm_max": 1}}}}},
         "validation.models.m.features.x.norm_min"),
        ({"thresholds": {"oops": 0.1}}, "validation.thresholds.oops"),
        ({"thresholds": {"null": 2}}, "validation.thresholds.null"),
        ({"outliers": {"method": "iqr"}}, "validation.outliers.method"),
        ({"outliers": {"low_quantile": 0.9, "high_quantile": 0.1}}, "validation.outliers.low_quantile"),
        ({"outliers": {"z": 0}}, "validation.outliers.z"),
        ({"edge_cases": {"bins": 1000}}, "validation.edge_cases.bins"),
        ({"edge_cases": {"factor": 0.5}}, "validation.edge_cases.factor"),
        ({"window": {"type": "sliding"}}, "validation.window.type"),
        ({"window": {"seconds": -1}}, "validation.window.seconds"),
        ({"range_tolerance": -1}, "validation.range_tolerance"),
        ({"models": {"m": {"max_examples": -1}}}, "validation.models.m.max_examples"),
        ({"models": {"m": {"schema": "/nonexistent/schema.toml"}}}, "validation.models.m.schema"),
        ({"models": {"m": "fraud.toml"}}, "validation.models.m"),
        ({"colour": 1}, "validation.colour"),
    ],
)
def test_bad_config_fails_init_naming_the_key_path(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        start(section)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("section", "key", "new"),
    [
        ({"window_seconds": 30}, "validation.window_seconds", "window.seconds"),
        ({"models": {"m": {"window_seconds": 30}}}, "validation.models.m.window_seconds", "window.seconds"),
        ({"models": {"m": {"reference": "train.csv"}}}, "validation.models.m.reference", "models.NAME.reference"),
    ],
)
def test_moved_keys_name_their_new_place(section: dict[str, Any], key: str, new: str) -> None:
    with pytest.raises(ConfigError) as info:
        start(section)
    assert info.value.key == key and repr(new) in str(info.value)


def test_defaults_and_per_model_overrides() -> None:
    cfg = parse_config({
        "window": {"type": "count", "size": 500},
        "thresholds": {"null": 0.5},
        "models": {"fraud": {"window": {"size": 50}, "outliers": {"method": "zscore"}, "allow_unknown": True}},
    })  # fmt: skip
    assert cfg.defaults.window == Window("count", 500, 60.0)
    fraud = cfg.for_model("fraud")
    assert fraud.window == Window("count", 50, 60.0)  # the window table is laid over the default
    assert fraud.outliers.method is OutlierMethod.ZSCORE and fraud.allow_unknown is True
    assert fraud.threshold("null") == 0.5 and fraud.threshold("above_max") == 0.01
    assert cfg.for_model("other") is cfg.defaults
    assert parse_config({}).defaults.window == Window("time", 1000, 60.0)


def test_schema_file_in_config_is_read_at_configure(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('allow_unknown = true\n[features.a]\ntype = "float"\nmax = 1\n', encoding="utf-8")
    settings = parse_config({"models": {"m": {"schema": str(path)}}}).for_model("m")
    assert settings.schema is not None and settings.schema.allow_unknown
    assert settings.schema.features["a"].max == 1
