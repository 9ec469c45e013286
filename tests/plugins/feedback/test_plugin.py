"""The feedback plugin on the real host: agent.log_feedback into the real SQLite store, joins, windows, accounting."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

import agent
from agent.plugin import FeedbackEvent, RecordBatch
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.feedback import names as n

START = 1_700_000_000.0
MODELS = {
    "fraud": {"version": "3", "task": "classification"},
    "price": {"version": "1", "task": "regression"},
    "rec": {"version": "7", "task": "ranking"},
}


@contextmanager
def feedback(config: dict[str, Any] | None = None, **overrides: Any) -> Iterator[CapturedTelemetry]:
    """The feedback plugin alone on the real host, with a manual clock and the three models above."""
    full = {"feedback": {"export": False, **(config or {})}, "models": MODELS}
    with run_plugin("feedback", config=full, clock=ManualClock(START), **overrides) as h:
        yield h


def batch(ids: list[str], outputs: list[Any] | None, *, t: float = START,
          columns: dict[str, Any] | None = None) -> RecordBatch:
    """A RecordBatch of single-row calls with the given outputs (as the worker hands them over)."""
    out = None
    if outputs is not None:
        out = np.empty(len(outputs), dtype=object)
        out[:] = outputs
    return RecordBatch(
        prediction_ids=tuple(ids),
        row_index=np.zeros(len(ids), dtype=np.int64),
        timestamps=np.full(len(ids), t),
        columns={k: np.asarray(v, dtype=object) for k, v in (columns or {}).items()},
        outputs=out,
    )


def total(h: CapturedTelemetry, name: str, **attrs: Any) -> float:
    """Sum of a counter's points whose attributes include ``attrs``."""
    return sum(p.value or 0.0 for p in h.metric_points(name)
               if all(p.attributes.get(k) == v for k, v in attrs.items()))


def gauge(h: CapturedTelemetry, name: str) -> float | None:
    (point,) = h.metric_points(name)
    return point.value


def join_states(h: CapturedTelemetry) -> dict[str, int]:
    """prediction_id -> join_state of every stored event, read from the SQLite file itself."""
    path = h.plugin("feedback").store.path
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT prediction_id, join_state FROM feedback").fetchall())


# -- the sink ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "kwargs", "field"),
    [
        ("thumbs", None, {}, "kind"),
        ("click", "yes", {}, "value"),
        ("label", None, {}, "value"),
        ("click", None, {"attributes": {"pscore": 0.0}}, "pscore"),
        ("click", None, {"attributes": {"exploration": "yes"}}, "exploration"),
        ("label", float("nan"), {}, "value"),
        ("click", None, {"position": 2**70}, "position"),
    ],
)
def test_log_feedback_rejects_programming_errors_naming_the_field_and_counts_them(
    kind: str, value: Any, kwargs: dict[str, Any], field: str
) -> None:
    with feedback() as h:
        with pytest.raises(ValueError, match=field):
            agent.log_feedback("p", kind, value, **kwargs)
        h.tick()
        assert h.plugin("feedback").store.counts()["feedback"] == 0
        assert total(h, n.RECEIVED) == 1
        assert total(h, n.DROPPED, **{n.ATTR_REASON: n.DROP_INVALID}) == 1


def test_custom_kinds_from_config_are_stored_and_counted_by_kind() -> None:
    with feedback({"kinds": ["thumbs"]}) as h:
        agent.log_feedback("p", "thumbs", {"stars": 4})
        h.tick()
        assert total(h, n.COUNT, **{n.ATTR_KIND: "thumbs"}) == 1


def test_log_feedback_fills_model_and_normalises_numpy_values() -> None:
    with feedback() as h:
        h.process("fraud", batch(["p1"], [0.9]))
        h.tick()
        out = agent.log_feedback("p1", "label", np.int64(1))
        assert out is not None and out.model == "fraud"
        assert out.value == 1 and type(out.value) is int
        h.tick()
        assert total(h, n.COUNT, **{n.ATTR_KIND: "label"}) == 1


# -- accounting ----------------------------------------------------------------------------


def test_every_event_received_is_stored_or_dropped_by_reason() -> None:
    with feedback() as h:
        sink = h.plugin("feedback").log_event  # the sink agent.log_feedback calls
        for i in range(3):
            agent.log_feedback(f"p{i}", "click")
        with pytest.raises(ValueError):
            agent.log_feedback("p", "click", "not a number")
        repeated = FeedbackEvent(uuid.uuid4().hex, "p9", "click")
        sink(repeated)
        sink(repeated)  # an event id already stored: ignored
        h.plugin("feedback").store.close()  # the disk is gone: the next commit fails
        with pytest.raises(OSError, match=r"not stored|closed"):
            agent.log_feedback("p", "click")
        h.tick()
        received = total(h, n.RECEIVED)
        stored = total(h, n.COUNT)
        dropped = {p.attributes[n.ATTR_REASON]: p.value for p in h.metric_points(n.DROPPED)}
    assert (received, stored) == (7, 4)
    assert dropped == {n.DROP_INVALID: 1, n.DROP_DUPLICATE: 1, n.DROP_STORE_ERROR: 1}
    assert received == stored + sum(v or 0 for v in dropped.values())


def test_every_captured_row_is_remembered_or_dropped_alone_by_reason() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with feedback({"position_column": "pos"}) as h:
        rows = batch(["a", "b", "c", "d"], [0.1, Unprintable(), 0.3, 0.4], columns={"pos": [0, 1, "top", 2**64]})
        h.process("fraud", rows)
        h.process("fraud", batch(["a"], [0.1], columns={"pos": [0]}))  # already remembered
        h.tick()
        attrs = {n.ATTR_MODEL: "fraud", n.ATTR_VERSION: "3"}
        dropped = {p.attributes[n.ATTR_REASON]: p.value for p in h.metric_points(n.PREDICTION_ROWS_DROPPED)}
        assert total(h, n.PREDICTION_ROWS, **attrs) == 5
        assert total(h, n.PREDICTION_ROWS_STORED, **attrs) == 2  # a, and b with its output as text
        assert dropped == {n.ROW_MALFORMED: 2, n.ROW_DUPLICATE: 1}
        assert set(h.plugin("feedback").store.predictions_for(["a", "b", "c", "d"])) == {"a", "b"}
        assert h.plugin_errors == 0


def test_a_broken_batch_reaches_the_host_guard_and_the_plugin_goes_on() -> None:
    with feedback() as h:
        broken = RecordBatch(("a", "b"), np.zeros(1), np.zeros(3), {})
        h.process("fraud", broken)
        h.tick()
        assert h.plugin_errors == 1
        h.process("fraud", batch(["p1"], [0.9]))
        agent.log_feedback("p1", "label", 1)
        h.tick()
        assert total(h, n.JOINED) == 1


# -- joins -------------------------------------------------------------------------------


def test_feedback_after_its_prediction_is_joined_at_once_with_its_delay() -> None:
    with feedback() as h:
        h.process("fraud", batch(["p1"], [0.9], t=START - 30))
        agent.log_feedback("p1", "label", 1, timestamp=START)
        h.tick()
        assert total(h, n.JOINED) == 1 and gauge(h, n.PENDING) == 0
        (point,) = h.metric_points(n.LABEL_DELAY)
        assert point.sum == pytest.approx(30.0) and point.attributes[n.ATTR_MODEL] == "fraud"


def test_feedback_before_its_prediction_waits_then_joins() -> None:
    with feedback() as h:
        agent.log_feedback("p1", "label", 1)
        h.tick()
        assert gauge(h, n.PENDING) == 1 and total(h, n.JOINED) == 0
        h.process("fraud", batch(["p1"], [0.9]))
        h.tick(advance=1)
        assert gauge(h, n.PENDING) == 0 and total(h, n.JOINED) == 1
        assert total(h, n.ORPHANS) == 0


def test_feedback_for_unknown_or_pruned_prediction_becomes_orphan_after_timeout() -> None:
    with feedback({"pending_timeout_s": "1m", "prediction_max_rows": 2, "prune_interval_s": 0}) as h:
        h.process("fraud", batch(["old", "a", "b"], [0.1, 0.2, 0.3]))
        h.tick()  # prunes "old": only the newest 2 rows are kept
        for pid in ("old", "never-seen"):
            agent.log_feedback(pid, "click")
        h.tick(advance=10)
        assert gauge(h, n.PENDING) == 2
        h.tick(advance=61)
        assert gauge(h, n.PENDING) == 0
        assert total(h, n.ORPHANS, **{n.ATTR_REASON: n.ORPHAN_TIMEOUT}) == 2
        assert join_states(h) == {"old": 2, "never-seen": 2}


def test_pending_beyond_max_pending_become_orphans_oldest_first() -> None:
    with feedback({"max_pending": 2}) as h:
        for pid in ("a", "b", "c"):
            agent.log_feedback(pid, "click")
        h.tick()
        assert gauge(h, n.PENDING) == 2
        assert total(h, n.ORPHANS, **{n.ATTR_REASON: n.ORPHAN_OVERFLOW}) == 1
        assert join_states(h) == {"a": 2, "b": 0, "c": 0}


@pytest.mark.parametrize(("policy", "expected_accuracy"), [("last", 1.0), ("first", 0.5)])
def test_second_label_for_a_prediction_follows_label_policy(policy: str, expected_accuracy: float) -> None:
    with feedback({"label_policy": policy, "window": {"size": 2}, "min_window_rows": 1}) as h:
        h.process("fraud", batch(["p1", "p2"], [1, 1]))
        for pid, label in (("p1", 0), ("p1", 1), ("p2", 1)):  # wrong, then corrected
            agent.log_feedback(pid, "label", label)
            h.tick()
        assert gauge(h, n.ACCURACY) == expected_accuracy
        assert total(h, n.DUPLICATES, **{n.ATTR_DUPLICATE: n.DUPLICATE_LABEL}) == 1


def test_events_logged_by_another_process_are_joined_from_the_shared_store() -> None:
    from plugins.feedback.store import FeedbackStore

    with feedback() as h:
        h.process("fraud", batch(["p1"], [0.9]))
        h.tick()
        other = FeedbackStore(h.plugin("feedback").store.path)  # e.g. a label job on the same data directory
        stored = other.append(FeedbackEvent(uuid.uuid4().hex, "p1", "label", 1))
        other.close()
        assert stored.model == "fraud"
        h.tick(advance=1)
        assert total(h, n.JOINED) == 1


# -- realized performance -----------------------------------------------------------------


def test_classification_window_publishes_metrics_matching_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    scores = np.clip(0.4 * y + rng.normal(0.3, 0.2, 200), 0.01, 0.99)
    ids = [f"p{i}" for i in range(200)]
    with feedback({"window": {"size": 200}}) as h:
        h.process("fraud", batch(ids, scores.tolist()))
        for pid, label in zip(ids, y.tolist(), strict=True):
            agent.log_feedback(pid, "label", label)
        signals = h.tick()
        pred = (scores >= 0.5).astype(int)
        expected = {
            "accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
            "auc_roc": skm.roc_auc_score(y, scores), "log_loss": skm.log_loss(y, scores),
        }
        for name, value in expected.items():
            (point,) = h.metric_points(n.performance(name))
            assert point.value == pytest.approx(value), name
            assert point.attributes == {n.ATTR_MODEL: "fraud", n.ATTR_VERSION: "3"}
        by_name = {s.name: s for s in signals}
        assert by_name[n.ACCURACY].value == pytest.approx(expected["accuracy"])
        assert by_name[n.ACCURACY].labels == {"model": "fraud", "version": "3"}
        assert gauge(h, n.LABELLED_RATIO) == 1.0


def test_performance_drop_beyond_threshold_is_a_signal_and_an_info_event() -> None:
    rng = np.random.default_rng(2)
    with feedback({"window": {"size": 100}, "degradation_threshold": 0.1}) as h:

        def window(k: int, accuracy: float) -> list[Any]:
            ids = [f"w{k}-{i}" for i in range(100)]
            y = rng.integers(0, 2, 100)
            pred = np.where(rng.random(100) < accuracy, y, 1 - y)
            h.process("fraud", batch(ids, pred.tolist()))
            for pid, label in zip(ids, y.tolist(), strict=True):
                agent.log_feedback(pid, "label", label)
            return h.tick(advance=1)

        first = window(0, 0.95)
        assert not [s for s in first if s.name == n.SIGNAL_DEGRADED]
        second = window(1, 0.6)
        degraded = {s.labels["metric"]: s for s in second if s.name == n.SIGNAL_DEGRADED}
        assert "accuracy" in degraded and degraded["accuracy"].value > 0.1
        assert degraded["accuracy"].details["baseline"] > 0.85
        events = [e for e in h.events(n.EVENT_DEGRADED) if e[n.ATTR_METRIC] == "accuracy"]
        assert len(events) == 1 and events[0][n.ATTR_DROP] == pytest.approx(degraded["accuracy"].value)
        levels = {str(r.log_record.severity_text).lower() for r in h.log_records()
                  if r.log_record.body == n.EVENT_DEGRADED}
        assert levels == {"info"}


def test_configured_baseline_is_compared_from_the_first_window() -> None:
    with feedback({"window": {"size": 20}, "baseline": {"mae": 0.1}}) as h:
        h.process("price", batch([f"r{i}" for i in range(20)], [1.5] * 20))
        for i in range(20):
            agent.log_feedback(f"r{i}", "label", 1.0)
        (degraded,) = [s for s in h.tick() if s.name == n.SIGNAL_DEGRADED]
    assert degraded.labels["metric"] == "mae" and degraded.value == pytest.approx(4.0)


def test_regression_time_window_closes_on_the_clock() -> None:
    with feedback({"window": {"type": "time", "seconds": 60}, "min_window_rows": 5}) as h:
        y = np.arange(1.0, 11.0)
        h.process("price", batch([f"r{i}" for i in range(10)], (y + 0.5).tolist()))
        for i, v in enumerate(y.tolist()):
            agent.log_feedback(f"r{i}", "label", v)
        assert not [s for s in h.tick(advance=1) if s.name.startswith("ml.performance")]
        signals = {s.name: s.value for s in h.tick(advance=60)}
    assert signals[n.MAE] == pytest.approx(0.5)


def test_ranking_window_scores_clicks_that_arrive_within_the_grace_period() -> None:
    lists = [[f"i{(j + k) % 9}" for k in range(3)] for j in range(20)]
    ids = [f"q{j}" for j in range(20)]
    with feedback({"window": {"size": 20}, "k": 3, "click_grace_s": 30}) as h:
        agent.log_feedback("q0", "click", item_id="i0")  # before the impression is captured
        h.process("rec", batch(ids[:19], lists[:19]))
        agent.log_feedback("q1", "click", position=2)
        h.tick()
        h.process("rec", batch(ids[19:], lists[19:]))  # closes the window
        agent.log_feedback("q2", "click", item_id="i3")  # after the close, within the grace period
        assert not [s for s in h.tick(advance=10) if s.name.startswith("ml.performance")]
        signals = {s.name: s.value for s in h.tick(advance=30)}
        assert signals[n.CTR] == pytest.approx(3 / 60)
        assert signals[n.performance("precision_at_3")] == pytest.approx(3 / 3 / 20)
        agent.log_feedback("q3", "click", position=0)  # its window is scored already
        h.tick()
        assert total(h, n.LATE) == 1


def test_a_process_without_models_still_joins_and_counts_on_ticks() -> None:
    with run_plugin("feedback", config={"feedback": {"export": False}}, clock=ManualClock(START)) as h:
        h.process("ingest-only", batch(["p1"], [0.5]))
        agent.log_feedback("p1", "click")
        h.tick()
        assert total(h, n.COUNT) == 1 and total(h, n.JOINED) == 1
