"""The validation plugin through its hooks: one test per violation kind, outliers, unprocessable rows, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent._errors import ConfigError
from agent._types import ModelInfo
from plugins.validation import names
from tests.plugins.validation.harness import Harness, batch

MODEL = ModelInfo(name="m", task="classification")

SECTION: dict[str, Any] = {
    "window_seconds": 60,
    "violation_rate_threshold": 0.0,
    "models": {
        "m": {
            "features": {
                "amount": {"type": "float", "min": 0, "max": 100},
                "age": {"type": "int", "min": 0, "max": 120},
                "flag": {"type": "bool"},
                "country": {"type": "categorical", "allowed": ["FR", "DE"]},
                "email": {
                    "type": "string",
                    "regex": "[^@]+@[^@]+",
                    "sensitive": True,
                    "nullable": True,
                    "max_missing_rate": 0.2,
                },
                "needed": {"type": "float"},
            }
        }
    },
}


def good() -> dict[str, list[Any]]:
    return {
        "amount": [1.0, 2.0, 3.0, 4.0],
        "age": [30, 40, 50, 60],
        "flag": [True, False, True, False],
        "country": ["FR", "DE", "FR", "DE"],
        "email": ["a@b", "c@d", "e@f", "g@h"],
        "needed": [1.0, 2.0, 3.0, 4.0],
    }


def with_(**changes: Any) -> dict[str, Any]:
    cols: dict[str, Any] = good()
    for k, v in changes.items():
        if v is None:
            del cols[k]
        else:
            cols[k] = v
    return cols


CASES = [
    ("missing_feature", with_(needed=None), "needed", 4, []),
    ("unknown_feature", with_(extra=[1, 2, 3, 4]), "extra", 4, [1.0, 2.0, 3.0]),
    ("type_mismatch", with_(amount=["1.5", 2.0, 3.0, 4.0]), "amount", 1, ["1.5"]),
    ("null", with_(amount=[None, 2.0, 3.0, 4.0]), "amount", 1, [None]),
    ("null", with_(age=[float("nan"), 40, 50, 60]), "age", 1, ["nan"]),
    ("below_min", with_(amount=[-5.0, 2.0, 3.0, 4.0]), "amount", 1, [-5.0]),
    ("above_max", with_(age=[30, 40, 500, 60]), "age", 1, [500.0]),
    ("not_allowed", with_(country=["FR", "XX", "FR", "DE"]), "country", 1, ["XX"]),
    ("regex_mismatch", with_(email=["a@b", "nope", "e@f", "g@h"]), "email", 1, ["<redacted>"]),
    ("non_finite", with_(amount=[float("inf"), 2.0, 3.0, 4.0]), "amount", 1, ["inf"]),
    ("type_mismatch", with_(flag=[True, "yes", True, False]), "flag", 1, ["yes"]),
    ("type_mismatch", with_(age=[30.5, 40, 50, 60]), "age", 1, [30.5]),
]


@pytest.mark.parametrize(("kind", "columns", "feature", "count", "examples"), CASES)
def test_each_violation_kind_is_counted_logged_and_signalled(
    tmp_path: Path, kind: str, columns: dict[str, Any], feature: str, count: int, examples: list[Any]
) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(MODEL, batch(columns))
    signals = h.tick(MODEL)

    counted = h.points(names.VIOLATIONS)
    assert counted == [
        ({names.ATTR_MODEL: "m", names.ATTR_VERSION: "", names.ATTR_FEATURE: feature, names.ATTR_KIND: kind}, count)
    ]
    assert h.total(names.ROWS, **{names.ATTR_MODEL: "m"}) == 4
    [event] = h.events(names.EVENT_VIOLATION)
    assert event["log_level"] == "warning"
    assert (event["model"], event["feature"], event["kind"], event["count"]) == ("m", feature, kind, count)
    assert event["examples"] == examples
    [signal] = signals
    assert signal.name == names.SIGNAL_VIOLATION_RATE
    assert dict(signal.labels) == {"model": "m", "version": "", "feature": feature, "kind": kind}
    assert signal.value == pytest.approx(count / 4)


def test_missing_rate_over_a_window_is_one_violation_with_the_rate(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(MODEL, batch(with_(email=[None, "c@d", "e@f", "g@h"])))
    h.process(MODEL, batch(with_(email=[None, None, "e@f", "g@h"])))
    [signal] = h.tick(MODEL)
    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "missing_rate", names.ATTR_FEATURE: "email"}) == 1
    assert dict(signal.labels) == {"model": "m", "version": "", "feature": "email", "kind": "missing_rate"}
    assert signal.value == pytest.approx(3 / 8)
    [event] = h.events(names.EVENT_VIOLATION)
    assert event["kind"] == "missing_rate" and event["rate"] == pytest.approx(3 / 8)


def test_clean_rows_produce_no_violation_and_no_signal(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(MODEL, batch(good()))
    assert h.tick(MODEL) == []
    assert h.points(names.VIOLATIONS) == []
    assert h.events(names.EVENT_VIOLATION) == []
    assert h.total(names.ROWS) == 4


def test_rate_below_threshold_logs_but_does_not_signal(tmp_path: Path) -> None:
    h = Harness({**SECTION, "violation_rate_threshold": 0.5}, tmp_path)
    h.process(MODEL, batch(with_(amount=[-1.0, 2.0, 3.0, 4.0])))
    assert h.tick(MODEL) == []
    assert len(h.events(names.EVENT_VIOLATION)) == 1


def test_window_stays_open_until_its_duration_has_passed(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(MODEL, batch(with_(amount=[-1.0, 2.0, 3.0, 4.0])))
    assert h.tick(MODEL, advance=10) == []
    assert h.events(names.EVENT_VIOLATION) == []
    assert len(h.tick(MODEL, advance=60)) == 1


def test_outliers_against_the_reference_are_counted_with_rate_gauge_and_signal(tmp_path: Path) -> None:
    h = Harness({"outlier_rate_threshold": 0.05}, tmp_path)
    rng = np.random.default_rng(1)
    model = ModelInfo(name="ref", version="2")
    h.reference(model, {"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], size=5000).tolist()})
    x = rng.normal(size=100)
    x[:10] = 50.0
    h.process(model, batch({"x": x, "c": ["a"] * 100}))
    signals = h.tick(model)

    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "outlier", names.ATTR_FEATURE: "x"}) >= 10
    [(attrs, rate)] = h.points(names.OUTLIER_RATE)
    assert attrs == {names.ATTR_MODEL: "ref", names.ATTR_VERSION: "2", names.ATTR_FEATURE: "x"}
    assert 0.1 <= rate < 0.15
    [sig] = [s for s in signals if s.name == names.SIGNAL_OUTLIER_RATE]
    assert dict(sig.labels) == {"model": "ref", "version": "2", "feature": "x"} and sig.value == rate
    # above the reference max is also a schema violation (range ever seen), reported separately
    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "above_max"}) == 10
    [event] = [e for e in h.events(names.EVENT_VIOLATION) if e["kind"] == "outlier"]
    assert event["examples"][0] == 50.0 and event["high"] < 50.0


def test_zscore_outlier_method_flags_far_values(tmp_path: Path) -> None:
    h = Harness({"outliers": {"method": "zscore", "z": 4.0}}, tmp_path)
    model = ModelInfo(name="z")
    h.reference(model, {"x": np.random.default_rng(2).normal(10, 2, size=2000)})
    h.process(model, batch({"x": [10.0, 11.0, 9.0, 40.0]}))
    h.tick(model)
    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "outlier"}) == 1


def test_batch_with_mismatched_column_lengths_is_counted_unprocessable(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    records = batch(good())
    cols = dict(records.columns)
    cols["amount"] = np.array([1.0, 2.0])
    broken = type(records)(records.prediction_ids, records.row_index, records.timestamps, cols)
    h.process(MODEL, broken)
    assert h.total(names.UNPROCESSABLE, **{names.ATTR_REASON: "length_mismatch"}) == 4
    assert h.total(names.ROWS) == 0


def test_configured_model_without_schema_yet_counts_rows_unprocessable(tmp_path: Path) -> None:
    h = Harness({"models": {"later": {"allow_unknown": True}}}, tmp_path)
    h.process(ModelInfo(name="later"), batch(good()))
    assert h.total(names.UNPROCESSABLE, **{names.ATTR_REASON: "no_schema"}) == 4


def test_unconfigured_model_without_reference_is_ignored(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(ModelInfo(name="other"), batch(good()))
    assert h.points(names.ROWS) == [] and h.points(names.UNPROCESSABLE) == []


def test_config_overrides_the_inferred_schema(tmp_path: Path) -> None:
    section = {"models": {"r": {"features": {"x": {"max": 1000.0}}}}}
    h = Harness(section, tmp_path)
    model = ModelInfo(name="r")
    h.reference(model, {"x": np.linspace(0, 10, 100), "y": np.linspace(0, 1, 100)})
    h.process(model, batch({"x": [500.0, 5.0], "y": [0.5, 5.0]}))
    h.tick(model)
    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "above_max", names.ATTR_FEATURE: "x"}) == 0
    assert h.total(names.VIOLATIONS, **{names.ATTR_KIND: "above_max", names.ATTR_FEATURE: "y"}) == 1


def test_reference_file_in_config_is_loaded_at_configure(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("a,b\n1,x\n2,y\n3,x\n4,y\n", encoding="utf-8")
    section = {"models": {"f": {"reference": str(tmp_path / "ref.csv")}}}
    h = Harness(section, tmp_path)
    h.process(ModelInfo(name="f"), batch({"a": [2.0, 9.0], "b": ["x", "z"]}))
    h.tick(ModelInfo(name="f"))
    kinds = {a[names.ATTR_KIND] for a, _ in h.points(names.VIOLATIONS)}
    assert kinds == {"above_max", "not_allowed"}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"models": {"m": {"features": {"x": {"type": "decimal"}}}}}, "validation.models.m.features.x.type"),
        ({"models": {"m": {"features": {"x": {"type": "float", "min": "0"}}}}}, "validation.models.m.features.x.min"),
        (
            {"models": {"m": {"features": {"x": {"type": "string", "regex": "("}}}}},
            "validation.models.m.features.x.regex",
        ),
        ({"models": {"m": {"features": {"x": {"type": "int", "colour": 1}}}}}, "validation.models.m.features.x.colour"),
        ({"models": {"m": {"features": {"x": {"min": 5, "max": 1}}}}}, "validation.models.m.features.x.min"),
        ({"thresholds": {"oops": 0.1}}, "validation.thresholds.oops"),
        ({"outliers": {"method": "iqr"}}, "validation.outliers.method"),
        ({"edge_cases": {"bins": 1000}}, "validation.edge_cases.bins"),
        ({"window_seconds": -1}, "validation.window_seconds"),
        ({"models": {"m": {"reference": "/nonexistent/ref.csv"}}}, "validation.models.m.reference"),
        ({"models": {"m": {"schema": "/nonexistent/schema.toml"}}}, "validation.models.m.schema"),
    ],
)
def test_bad_config_raises_config_error_naming_the_key_path(tmp_path: Path, section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Harness(section, tmp_path)
    assert info.value.key == key


def test_shutdown_flushes_the_open_window_as_log_events(tmp_path: Path) -> None:
    h = Harness(SECTION, tmp_path)
    h.process(MODEL, batch(with_(amount=[-1.0, 2.0, 3.0, 4.0])))
    h.plugin.infersight_shutdown(agent=h.agent)
    assert [e["kind"] for e in h.events(names.EVENT_VIOLATION)] == ["below_min"]
