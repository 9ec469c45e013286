"""The live drift plugin with a real PluginContext, in-memory metrics and captured log events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent._errors import ConfigError
from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch
from plugins.drift import make_plugin
from plugins.drift.plugin import DriftPlugin

MODEL = ModelInfo(name="fraud", version="3", task="classification")


class Harness:
    """A configured plugin plus the metric reader and the captured log events."""

    def __init__(self, tmp_path: Path, section: dict[str, Any]) -> None:
        self.reader = InMemoryMetricReader()
        self.events: list[dict[str, Any]] = []

        def capture(_: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
            self.events.append({"level": method, **event})
            raise structlog.DropEvent

        log = structlog.wrap_logger(None, processors=[capture])
        self.ctx = PluginContext(
            config={"drift": section}, data_dir=tmp_path,
            meter=MeterProvider(metric_readers=[self.reader]).get_meter("test"), log=log, models={},
        )
        self.plugin: DriftPlugin = make_plugin()
        self.plugin.infersight_configure(config={"drift": section}, agent=self.ctx)

    def metrics(self, name: str) -> list[tuple[dict[str, Any], float]]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        out.extend((dict(p.attributes or {}), p.value) for p in m.data.data_points)
        return out


def batch(cols: dict[str, np.ndarray], t0: float = 1000.0, outputs: np.ndarray | None = None) -> RecordBatch:
    n = len(next(iter(cols.values())))
    return RecordBatch(
        prediction_ids=tuple(f"p{i}" for i in range(n)), row_index=np.zeros(n, dtype=np.int64),
        timestamps=np.full(n, t0), columns=cols, outputs=outputs,
    )


def rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    return {
        "amount": rng.normal(shift, 1.0, n),
        "age": rng.normal(0.0, 1.0, n),
        "country": rng.choice(np.array(["fr", "de", "us"], dtype=object), n),
    }


SMALL = {"window": {"size": 200}, "min_window": 50, "permutations": 30}


def test_count_window_detects_shift_and_emits_signals_metrics_and_one_log_per_drift(tmp_path: Path) -> None:
    h = Harness(tmp_path, SMALL)
    rng = np.random.default_rng(0)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 1000)))
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 150, shift=1.0)))
    assert h.plugin.latest("fraud") == ()  # window not full yet
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 100, shift=1.0)))
    latest = {r.feature: r for r in h.plugin.latest("fraud")}
    assert latest["amount"].drifted and not latest["age"].drifted
    assert latest["amount"].n_window == 200
    signals = h.plugin.infersight_collect_signals(model=MODEL, now=2000.0) or []
    detected = {s.labels["feature"]: s.value for s in signals if s.name == "ml.drift.detected"}
    assert detected["amount"] == 1.0 and detected["age"] == 0.0
    amount = next(s for s in signals if s.name == "ml.drift.detected" and s.labels["feature"] == "amount")
    assert amount.labels == {"model": "fraud", "version": "3", "feature": "amount", "test": "ks"}
    assert amount.details["p_value"] < 1e-6 and amount.details["effect_size"] > 0.5
    assert h.plugin.infersight_collect_signals(model=MODEL, now=2001.0) is None  # only new signals
    drift_logs = [e for e in h.events if e["event"] == "ml.drift.detected"]
    assert {e["feature"] for e in drift_logs} == {r.feature for r in latest.values() if r.drifted}
    assert all(e["level"] == "warning" for e in drift_logs)
    det = {a["ml.feature.name"]: v for a, v in h.metrics("ml.drift.detected")}
    assert det["amount"] == 1.0 and det["age"] == 0.0
    assert any(a["ml.drift.stat"] == "mean" for a, _ in h.metrics("ml.drift.summary"))
    assert h.metrics("ml.drift.p_value") and h.metrics("ml.drift.effect_size") and h.metrics("ml.drift.statistic")


def test_memory_is_bounded_by_the_window_size(tmp_path: Path) -> None:
    h = Harness(tmp_path, {"window": {"type": "time", "seconds": 60, "size": 300}, "min_window": 50,
                           "multivariate": False})
    rng = np.random.default_rng(1)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 500)))
    for i in range(40):
        h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 500), t0=1000.0 + i))
        assert len(h.plugin._states["fraud"].inputs.buffer) <= 300
    assert h.plugin.infersight_collect_signals(model=MODEL, now=1030.0) is None
    signals = h.plugin.infersight_collect_signals(model=MODEL, now=1061.0) or []
    assert any(s.name == "ml.drift.detected" for s in signals)
    assert {r.n_window for r in h.plugin.latest("fraud")} == {300}


def test_reference_from_first_live_rows_when_none_is_set(tmp_path: Path) -> None:
    h = Harness(tmp_path, {**SMALL, "reference_from_live": 400})
    rng = np.random.default_rng(2)
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 400)))
    assert h.plugin.latest("fraud") == ()
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 200, shift=2.0)))
    assert {r.feature for r in h.plugin.latest("fraud") if r.drifted} >= {"amount"}


def test_schema_changes_are_their_own_signals(tmp_path: Path) -> None:
    h = Harness(tmp_path, {**SMALL, "multivariate": "off"})
    rng = np.random.default_rng(3)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600)))
    cur = rows(rng, 200)
    del cur["age"]
    cur["new_feature"] = rng.normal(size=200)
    cur["country"][:7] = "zz"
    h.plugin.infersight_process_records(model=MODEL, records=batch(cur))
    signals = h.plugin.infersight_collect_signals(model=MODEL, now=1.0) or []
    by_name = {(s.name, s.labels["feature"]): s for s in signals}
    assert ("ml.drift.feature_missing", "age") in by_name
    assert ("ml.drift.feature_added", "new_feature") in by_name
    new_cat = by_name[("ml.drift.new_category", "country")]
    assert new_cat.value == 7 and new_cat.details["examples"] == ["zz"]


def test_output_drift_new_class_and_regression_range(tmp_path: Path) -> None:
    h = Harness(tmp_path, SMALL)
    rng = np.random.default_rng(4)
    ref_out = rng.choice(np.array(["ok", "fraud"], dtype=object), 600, p=[0.9, 0.1])
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600), outputs=ref_out))
    out = rng.choice(np.array(["ok", "fraud", "review"], dtype=object), 200, p=[0.5, 0.3, 0.2])
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 200), outputs=out))
    signals = h.plugin.infersight_collect_signals(model=MODEL, now=1.0) or []
    assert any(s.name == "ml.drift.new_output_class" and s.details["examples"] == ["review"] for s in signals)
    assert next(r for r in h.plugin.latest("fraud") if r.feature == "output").drifted

    reg = ModelInfo(name="price", task="regression")
    h.plugin.infersight_set_reference(model=reg, records=batch(rows(rng, 600), outputs=rng.uniform(0, 1, 600)))
    h.plugin.infersight_process_records(model=reg, records=batch(rows(rng, 200), outputs=rng.uniform(0.5, 1.5, 200)))
    sig = [s for s in h.plugin.infersight_collect_signals(model=reg, now=1.0) or []
           if s.name == "ml.drift.output_out_of_range"]
    assert len(sig) == 1 and 0.3 < sig[0].value < 0.7


def test_probability_vector_outputs_use_the_multivariate_test(tmp_path: Path) -> None:
    h = Harness(tmp_path, SMALL)
    rng = np.random.default_rng(5)
    ref_p = rng.dirichlet([8, 2], 600)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600), outputs=ref_p))
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 200), outputs=rng.dirichlet([2, 8], 200)))
    out = next(r for r in h.plugin.latest("fraud") if r.feature == "output")
    assert out.test == "mmd" and out.drifted


def test_label_feedback_builds_a_label_drift_window(tmp_path: Path) -> None:
    h = Harness(tmp_path, {**SMALL, "reference_from_live": 300})
    rng = np.random.default_rng(6)

    def events(p: float, n: int) -> list[FeedbackEvent]:
        return [FeedbackEvent(event_id=f"e{i}", prediction_id=f"p{i}", kind="label", value=int(v))
                for i, v in enumerate(rng.random(n) < p)]

    h.plugin.infersight_process_feedback(model=MODEL, events=events(0.1, 300))
    h.plugin.infersight_process_feedback(model=MODEL, events=[
        FeedbackEvent(event_id="c", prediction_id="p", kind="click")])
    h.plugin.infersight_process_feedback(model=MODEL, events=events(0.5, 200))
    label = next(r for r in h.plugin.latest("fraud") if r.feature == "label")
    assert label.drifted and label.n_window == 200


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (lambda c: c["amount"].__setitem__(slice(0, 20), np.nan), None),
        (lambda c: c["amount"].__setitem__(slice(0, 20), np.inf), "non_finite"),
        (lambda c: c["age"].__setitem__(slice(None), 3.0), "constant_window"),
    ],
)
def test_bad_values_are_counted_and_never_raise(tmp_path: Path, bad: Any, reason: str | None) -> None:
    h = Harness(tmp_path, SMALL)
    rng = np.random.default_rng(7)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600)))
    cur = rows(rng, 200)
    bad(cur)
    h.plugin.infersight_process_records(model=MODEL, records=batch(cur))
    assert h.plugin.latest("fraud")
    if reason:
        assert any(a["ml.drift.reason"] == reason for a, _ in h.metrics("ml.drift.bad_values"))


def test_strings_in_a_numeric_feature_are_counted(tmp_path: Path) -> None:
    h = Harness(tmp_path, SMALL)
    rng = np.random.default_rng(8)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600)))
    cur = rows(rng, 200)
    amount = cur["amount"].astype(object)
    amount[:5] = "oops"
    cur["amount"] = amount
    h.plugin.infersight_process_records(model=MODEL, records=batch(cur))
    bad = {a["ml.drift.reason"]: v for a, v in h.metrics("ml.drift.bad_values")}
    assert bad["non_numeric"] == 5
    assert next(r for r in h.plugin.latest("fraud") if r.feature == "amount").skipped is None


def test_window_below_minimum_gives_skipped_results(tmp_path: Path) -> None:
    h = Harness(tmp_path, {"window": {"type": "time", "seconds": 10}, "min_window": 100})
    rng = np.random.default_rng(9)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 600)))
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 30)))
    h.plugin.infersight_collect_signals(model=MODEL, now=1011.0)
    latest = h.plugin.latest("fraud")
    assert latest and all(r.skipped == "window_too_small" for r in latest)
    assert any(a["ml.drift.reason"] == "window_too_small" for a, _ in h.metrics("ml.drift.skipped"))


def test_malformed_batch_is_counted_not_raised(tmp_path: Path) -> None:
    h = Harness(tmp_path, SMALL)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(np.random.default_rng(1), 600)))
    broken = RecordBatch(prediction_ids=("a", "b"), row_index=np.zeros(2), timestamps=np.zeros(2),
                         columns={"amount": np.zeros(3)})
    h.plugin.infersight_process_records(model=MODEL, records=broken)
    assert any(a["ml.drift.reason"] == "malformed_batch" for a, _ in h.metrics("ml.drift.bad_values"))


def test_reference_file_and_per_model_overrides(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    path = tmp_path / "ref.npz"
    np.savez(path, **{k: v for k, v in rows(rng, 600).items() if k != "country"})
    h = Harness(tmp_path, {**SMALL, "models": {"fraud": {"reference": str(path), "window": {"size": 100}}}})
    assert h.plugin.config_for("fraud").window_size == 100
    assert h.plugin.config_for("other").window_size == 200
    cur = rows(rng, 100, shift=1.5)
    del cur["country"]
    h.plugin.infersight_process_records(model=MODEL, records=batch(cur))
    assert any(r.feature == "amount" and r.drifted for r in h.plugin.latest("fraud"))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"window": {"size": 0}}, "drift.window.size"),
        ({"window": {"type": "hourly"}}, "drift.window.type"),
        ({"alpha": 1.5}, "drift.alpha"),
        ({"correction": "holm"}, "drift.correction"),
        ({"tests": {"numeric": "t"}}, "drift.tests.numeric"),
        ({"thresholds": {"numeric": -1}}, "drift.thresholds.numeric"),
        ({"models": {"m": {"permutations": "many"}}}, "drift.models.m.permutations"),
        ({"reference": "/nonexistent/ref.csv"}, "drift.reference"),
        ({"feature_types": {"x": "text"}}, "drift.feature_types.x"),
        ({"windw": {}}, "drift.windw"),
    ],
)
def test_bad_config_raises_config_error_naming_the_key(tmp_path: Path, section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Harness(tmp_path, section)
    assert info.value.key == key


def test_reference_and_window_summaries_are_both_exported(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    h = Harness(tmp_path, SMALL)
    ref = rows(rng, 1000)
    h.plugin.infersight_set_reference(model=MODEL, records=batch(ref))
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 200, shift=2.0)))
    means = {
        (a["ml.drift.sample"], a["ml.feature.name"]): v
        for a, v in h.metrics("ml.drift.summary") if a["ml.drift.stat"] == "mean"
    }
    assert means[("reference", "amount")] == pytest.approx(float(np.mean(ref["amount"])))
    assert means[("window", "amount")] > means[("reference", "amount")] + 1.5
    freqs = {a["ml.drift.stat"] for a, _ in h.metrics("ml.drift.summary")
             if a["ml.drift.sample"] == "reference" and a["ml.feature.name"] == "country"}
    assert {"freq:fr", "freq:de", "freq:us"} <= freqs


def test_a_model_can_be_switched_off(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    h = Harness(tmp_path, {**SMALL, "models": {"fraud": {"enabled": False}}})
    h.plugin.infersight_set_reference(model=MODEL, records=batch(rows(rng, 500)))
    h.plugin.infersight_process_records(model=MODEL, records=batch(rows(rng, 400, shift=3.0)))
    assert h.plugin.infersight_collect_signals(model=MODEL, now=2000.0) is None
    assert h.metrics("ml.drift.detected") == []
    with pytest.raises(ConfigError) as info:
        Harness(tmp_path, {"models": {"fraud": {"enabled": "no"}}})
    assert info.value.key == "drift.models.fraud.enabled"
