"""The feedback plugin through its hooks, with a real PluginContext and an in-memory metric reader."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from sklearn import metrics as skm

from agent._errors import ConfigError
from agent._types import FeedbackEvent, ModelInfo, RecordBatch
from tests.plugins.feedback.conftest import MakeHarness, batch
from tests.support.otlp import OTLPHttpReceiver

CLF = ModelInfo("fraud", "3", task="classification")
REG = ModelInfo("price", "1", task="regression")
RANK = ModelInfo("rec", "7", task="ranking")


def fb(pid: str, kind: str = "label", value: object = None, **kw: object) -> FeedbackEvent:
    return FeedbackEvent(uuid.uuid4().hex, pid, kind, value, **kw)  # type: ignore[arg-type]


# -- the sink ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (fb("p", "thumbs"), "kind"),
        (fb("p", "click", "yes"), "value"),
        (fb("p", "label", None), "value"),
        (fb("", "click"), "prediction_id"),
        (fb("p", "click", position=-1), "position"),
        (fb("p", "click", item_id=2.5), "item_id"),
        (fb("p", "click", attributes={"pscore": 0.0}), "pscore"),
        (fb("p", "click", attributes={"exploration": "yes"}), "exploration"),
        (fb("p", "label", float("nan")), "value"),
    ],
)
def test_sink_rejects_programming_errors_naming_the_field(make_harness: MakeHarness, event: FeedbackEvent,
                                                          field: str) -> None:
    h = make_harness()
    with pytest.raises(ValueError, match=field):
        h.plugin.log_event(event)
    assert h.plugin.store is not None and h.plugin.store.counts()["feedback"] == 0


def test_custom_kinds_from_config_are_accepted(make_harness: MakeHarness) -> None:
    h = make_harness({"kinds": ["thumbs"]})
    h.plugin.log_event(fb("p", "thumbs", {"stars": 4}))
    h.tick()
    assert h.total("ml.feedback.count", **{"ml.feedback.kind": "thumbs"}) == 1


def test_bad_config_raises_config_error_naming_the_key(make_harness: MakeHarness) -> None:
    with pytest.raises(ConfigError, match=r"feedback\.synchronous"):
        make_harness({"synchronous": "SOMETIMES"})
    with pytest.raises(ConfigError, match=r"feedback\.window_size"):
        make_harness({"window_size": 0})


def test_sink_fills_model_and_normalises_numpy_values(make_harness: MakeHarness) -> None:
    h = make_harness(models=[CLF])
    h.plugin.infersight_process_records(model=CLF, records=batch(["p1"], [0.9]))
    out = h.plugin.log_event(fb("p1", "label", np.int64(1), position=np.int32(0)))
    assert out.model == "fraud"
    assert out.value == 1 and type(out.value) is int
    h.tick()
    assert h.total("ml.feedback.count", **{"ml.feedback.kind": "label"}) == 1


# -- joins -------------------------------------------------------------------------------


def test_feedback_after_its_prediction_is_joined_at_once(make_harness: MakeHarness) -> None:
    h = make_harness(models=[CLF])
    h.plugin.infersight_process_records(model=CLF, records=batch(["p1"], [0.9], t=h.clock.now - 30))
    ev = h.plugin.log_event(fb("p1", "label", 1, timestamp=h.clock.now))
    h.plugin.infersight_process_feedback(model=CLF, events=[ev])
    assert h.plugin.stats["joined"] == 1 and h.plugin.stats["pending"] == 0
    (attrs, point), = h.points("ml.feedback.label_delay")
    assert point.sum == pytest.approx(30.0) and attrs["ml.model.name"] == "fraud"


def test_feedback_before_its_prediction_waits_then_joins(make_harness: MakeHarness) -> None:
    h = make_harness(models=[CLF])
    ev = h.plugin.log_event(fb("p1", "label", 1))
    h.plugin.infersight_process_feedback(model=CLF, events=[ev])
    assert h.plugin.stats["pending"] == 1 and h.plugin.stats["joined"] == 0
    h.plugin.infersight_process_records(model=CLF, records=batch(["p1"], [0.9]))
    h.tick()
    assert h.plugin.stats["pending"] == 0 and h.plugin.stats["joined"] == 1
    assert h.total("ml.feedback.orphans") == 0


def test_feedback_for_unknown_or_pruned_prediction_becomes_orphan_after_timeout(make_harness: MakeHarness) -> None:
    h = make_harness({"pending_timeout_s": 60, "prediction_max_rows": 2, "prune_interval_s": 0}, models=[CLF])
    h.plugin.infersight_process_records(model=CLF, records=batch(["old", "a", "b"], [0.1, 0.2, 0.3]))
    h.tick()  # prunes "old": only the newest 2 rows are kept
    for pid in ("old", "never-seen"):
        h.plugin.log_event(fb(pid, "click"))
    h.tick(10)
    assert h.plugin.stats["pending"] == 2
    h.tick(61)
    assert h.plugin.stats["orphans"] == 2 and h.plugin.stats["pending"] == 0
    assert h.total("ml.feedback.orphans", reason="timeout") == 2


def test_pending_beyond_max_pending_become_orphans_oldest_first(make_harness: MakeHarness) -> None:
    h = make_harness({"max_pending": 2}, models=[CLF])
    first = h.plugin.log_event(fb("a", "click"))
    for pid in ("b", "c"):
        h.plugin.log_event(fb(pid, "click"))
    h.tick()
    assert h.plugin.stats["pending"] == 2
    assert h.total("ml.feedback.orphans", reason="overflow") == 1
    assert first.event_id not in {r.event.event_id for r in h.plugin._pending.values()}


def test_duplicate_event_id_is_stored_once_and_counted(make_harness: MakeHarness) -> None:
    h = make_harness(models=[CLF])
    h.plugin.infersight_process_records(model=CLF, records=batch(["p1"], [0.9]))
    ev = fb("p1", "click")
    h.plugin.log_event(ev)
    h.plugin.log_event(ev)
    h.tick()
    assert h.plugin.stats["joined"] == 1
    assert h.total("ml.feedback.duplicates", what="event") == 1


@pytest.mark.parametrize(("policy", "expected_accuracy"), [("last", 1.0), ("first", 0.5)])
def test_second_label_for_a_prediction_follows_label_policy(make_harness: MakeHarness, policy: str,
                                                            expected_accuracy: float) -> None:
    h = make_harness({"label_policy": policy, "window_size": 2, "min_window_rows": 1}, models=[CLF])
    h.plugin.infersight_process_records(model=CLF, records=batch(["p1", "p2"], [1, 1]))
    h.plugin.log_event(fb("p1", "label", 0))  # wrong, then corrected
    h.plugin.infersight_process_feedback(model=CLF, events=[])
    h.plugin.log_event(fb("p1", "label", 1))
    h.plugin.infersight_process_feedback(model=CLF, events=[])
    h.plugin.log_event(fb("p2", "label", 1))
    h.plugin.infersight_process_feedback(model=CLF, events=[])
    (_, result), = h.plugin.results
    assert result.metrics["accuracy"] == expected_accuracy
    assert h.total("ml.feedback.duplicates", what="label") == 1


def test_events_logged_by_another_process_are_joined_from_the_shared_store(make_harness: MakeHarness) -> None:
    serving = make_harness(models=[CLF])
    ingest = make_harness(models=[])  # e.g. a label job pointing at the same data directory
    serving.plugin.infersight_process_records(model=CLF, records=batch(["p1"], [0.9]))
    out = ingest.plugin.log_event(fb("p1", "label", 1))
    assert out.model == "fraud"
    serving.tick()
    assert serving.plugin.stats["joined"] == 1


# -- realized performance -----------------------------------------------------------------


def test_classification_window_publishes_metrics_matching_sklearn(make_harness: MakeHarness) -> None:
    h = make_harness({"window_size": 200}, models=[CLF])
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    scores = np.clip(0.4 * y + rng.normal(0.3, 0.2, 200), 0.01, 0.99)
    ids = [f"p{i}" for i in range(200)]
    h.plugin.infersight_process_records(model=CLF, records=batch(ids, scores.tolist()))
    for pid, label in zip(ids, y.tolist(), strict=True):
        h.plugin.log_event(fb(pid, "label", label))
    signals = h.tick()
    pred = (scores >= 0.5).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
        "auc_roc": skm.roc_auc_score(y, scores), "log_loss": skm.log_loss(y, scores),
    }
    for name, value in expected.items():
        (attrs, point), = h.points(f"ml.performance.{name}")
        assert point.value == pytest.approx(value), name
        assert attrs == {"ml.model.name": "fraud", "ml.model.version": "3"}
    by_name = {s.name: s for s in signals}
    assert by_name["ml.performance.accuracy"].value == pytest.approx(expected["accuracy"])
    assert by_name["ml.performance.accuracy"].labels == {"model": "fraud", "version": "3"}
    (_, ratio), = h.points("ml.feedback.labelled_ratio")
    assert ratio.value == 1.0


def test_performance_drop_beyond_threshold_raises_degraded_signal(make_harness: MakeHarness) -> None:
    h = make_harness({"window_size": 100, "degradation_threshold": 0.1}, models=[CLF])
    rng = np.random.default_rng(2)

    def window(k: int, accuracy: float) -> list:
        ids = [f"w{k}-{i}" for i in range(100)]
        y = rng.integers(0, 2, 100)
        pred = np.where(rng.random(100) < accuracy, y, 1 - y)
        h.plugin.infersight_process_records(model=CLF, records=batch(ids, pred.tolist()))
        for pid, label in zip(ids, y.tolist(), strict=True):
            h.plugin.log_event(fb(pid, "label", label))
        return h.tick()

    first = window(0, 0.95)
    assert not [s for s in first if s.name == "ml.performance.degraded"]
    second = window(1, 0.6)
    degraded = {s.labels["metric"]: s for s in second if s.name == "ml.performance.degraded"}
    assert "accuracy" in degraded and degraded["accuracy"].value > 0.1
    assert degraded["accuracy"].details["baseline"] > 0.85


def test_configured_baseline_is_compared_from_the_first_window(make_harness: MakeHarness) -> None:
    h = make_harness({"window_size": 20, "baseline": {"mae": 0.1}}, models=[REG])
    h.plugin.infersight_process_records(model=REG, records=batch([f"r{i}" for i in range(20)], [1.5] * 20))
    for i in range(20):
        h.plugin.log_event(fb(f"r{i}", "label", 1.0))
    (degraded,) = [s for s in h.tick() if s.name == "ml.performance.degraded"]
    assert degraded.labels["metric"] == "mae" and degraded.value == pytest.approx(4.0)


def test_regression_time_window_scores_mae(make_harness: MakeHarness) -> None:
    h = make_harness({"window_type": "time", "window_seconds": 60, "min_window_rows": 5}, models=[REG])
    y = np.arange(1.0, 11.0)
    h.plugin.infersight_process_records(model=REG, records=batch([f"r{i}" for i in range(10)], (y + 0.5).tolist()))
    for i, v in enumerate(y.tolist()):
        h.plugin.log_event(fb(f"r{i}", "label", v))
    assert not [s for s in h.tick(1) if s.name.startswith("ml.performance")]
    signals = {s.name: s.value for s in h.tick(60)}
    assert signals["ml.performance.mae"] == pytest.approx(0.5)


def test_ranking_window_scores_clicks_that_arrive_within_the_grace_period(make_harness: MakeHarness) -> None:
    h = make_harness({"window_size": 20, "k": 3, "click_grace_s": 30}, models=[RANK])
    lists = [[f"i{(j + n) % 9}" for n in range(3)] for j in range(20)]
    ids = [f"q{j}" for j in range(20)]
    h.plugin.log_event(fb("q0", "click", item_id="i0"))  # before the impression is captured
    h.plugin.infersight_process_records(model=RANK, records=batch(ids[:19], lists[:19]))
    h.plugin.log_event(fb("q1", "click", position=2))
    h.tick()
    h.plugin.infersight_process_records(model=RANK, records=batch(ids[19:], lists[19:]))  # closes the window
    h.plugin.log_event(fb("q2", "click", item_id="i3"))  # after the close, within the grace period
    assert not [s for s in h.tick(10) if s.name.startswith("ml.performance")]
    signals = {s.name: s.value for s in h.tick(30)}
    assert signals["ml.performance.ctr"] == pytest.approx(3 / 60)
    assert signals["ml.performance.precision_at_3"] == pytest.approx(3 / 3 / 20)
    h.plugin.log_event(fb("q3", "click", position=0))  # its window is scored already
    h.tick()
    assert h.total("ml.feedback.late") == 1


# -- robustness ----------------------------------------------------------------------------


def test_hooks_never_raise_on_bad_input(make_harness: MakeHarness) -> None:
    h = make_harness(models=[CLF, RANK])
    broken = RecordBatch(prediction_ids=("a", "b"), row_index=np.zeros(1), timestamps=np.zeros(3), columns={})
    h.plugin.infersight_process_records(model=CLF, records=broken)
    odd = batch(["x", "y"], [object(), {"items": [1, None]}], columns={"item": ["i", None]})
    h.plugin.infersight_process_records(model=RANK, records=odd)
    h.plugin.infersight_process_feedback(model=CLF, events=[None])  # type: ignore[list-item]
    h.plugin.log_event(fb("x", "label", "a string label"))
    h.plugin.log_event(fb("y", "click", position=99))
    h.tick()
    h.plugin.infersight_collect_signals(model=ModelInfo("never-seen"), now=float("nan"))
    assert h.plugin.stats["errors.process_records"] == 1
    assert h.total("ml.feedback.errors", hook="process_records") == 1


def test_collector_down_for_the_whole_run_then_every_event_arrives_once(make_harness: MakeHarness) -> None:
    with OTLPHttpReceiver(mode="error") as rx:
        h = make_harness({"export_min_backoff_s": 0.0},
                         exporter=OTLPLogExporter(endpoint=rx.url("logs"), timeout=0.5), models=[CLF])
        assert h.plugin.export_thread is not None
        ids = {h.plugin.log_event(fb(f"p{i}", "click")).event_id for i in range(50)}
        h.tick()
        assert h.plugin.export_thread.flush(timeout=30)
        assert h.plugin.stats["export_failures"] >= 1 and h.plugin.stats["exported"] == 0
        rx.mode = "ok"
        assert h.plugin.export_thread.flush(timeout=30)
        got = Counter(r.attributes["ml.feedback.event_id"] for r in rx.log_records())
    assert set(got) == ids and set(got.values()) == {1}
    assert h.total("ml.feedback.exported") == 50
