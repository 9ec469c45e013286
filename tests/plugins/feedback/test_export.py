"""OTLP export of stored feedback: records, trace parenting, retry from the store, exactly-once delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from agent._types import FeedbackEvent
from plugins.feedback.export import EVENT_NAME, FeedbackExport
from plugins.feedback.store import FeedbackStore, PredictionRow
from tests.plugins.feedback.test_store import _CHILD, REPO
from tests.support.otlp import OTLPHttpReceiver


def test_log_record_carries_feedback_attributes_and_prediction_span(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.add_predictions([PredictionRow("p1", 0, 1.0, "rec", "2", ["a", "b"], trace_id="ab" * 16, span_id="cd" * 8)])
    store.append(FeedbackEvent("e1", "p1", "click", item_id="b", position=1, attributes={"pscore": 0.25}))
    store.append(FeedbackEvent("e2", "p-unknown", "label", value=1))
    mem = InMemoryLogRecordExporter()
    assert FeedbackExport(store, mem).run_once().exported == 2
    first, second = mem.get_finished_logs()
    rec = first.log_record
    assert rec.event_name == EVENT_NAME
    assert dict(rec.attributes or {}) == {
        "ml.feedback.event_id": "e1", "ml.feedback.kind": "click", "ml.prediction.id": "p1",
        "ml.model.name": "rec", "ml.item.id": "b", "ml.feedback.position": 1, "ml.feedback.pscore": 0.25,
    }
    assert (rec.trace_id, rec.span_id) == (int("ab" * 16, 16), int("cd" * 8, 16))
    assert second.log_record.trace_id == 0  # unknown prediction: no parent
    assert dict(second.log_record.attributes or {})["ml.feedback.value"] == 1
    store.close()


def test_failed_export_is_retried_from_the_store_after_backoff(tmp_path: Path) -> None:
    now = [0.0]
    store = FeedbackStore(tmp_path / "fb.sqlite")
    for i in range(5):
        store.append(FeedbackEvent(f"e{i}", "p", "click"))
    with OTLPHttpReceiver(mode="error") as rx:
        exp = FeedbackExport(store, OTLPLogExporter(endpoint=rx.url("logs"), timeout=0.5),
                             min_backoff_s=2.0, clock=lambda: now[0])
        assert exp.run_once().failed
        assert store.counts()["unexported"] == 5
        rx.mode = "ok"
        assert exp.run_once().skipped_backoff  # still backing off at t=0
        now[0] = 2.5
        assert exp.run_once().exported == 5
        ids = Counter(r.attributes["ml.feedback.event_id"] for r in rx.log_records())
    assert ids == Counter({f"e{i}": 1 for i in range(5)})
    assert store.counts()["unexported"] == 0
    store.close()


def test_events_of_a_killed_process_are_all_exported_exactly_once_when_collector_returns(tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db)], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    acked = [child.stdout.readline().strip() for _ in range(1500)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    acked += [line.strip() for line in child.stdout if line.strip()]

    store = FeedbackStore(db)
    stored = store.counts()["feedback"]
    with OTLPHttpReceiver(mode="error") as rx:  # the collector is down for the whole first run
        exp = FeedbackExport(store, OTLPLogExporter(endpoint=rx.url("logs"), timeout=0.5), batch_size=400)
        assert exp.run_once(force=True).failed
        assert exp.run_once(force=True).failed
        rx.mode = "ok"
        assert exp.run_once(force=True).exported == stored
        received = Counter(r.attributes["ml.feedback.event_id"] for r in rx.log_records() if r.event_name == EVENT_NAME)
    delivered_ok = set(received)
    assert set(received.values()) == {1}  # exactly once
    assert set(acked) <= delivered_ok
    assert len(delivered_ok) == stored
    # the receiver also recorded the rejected attempts; among accepted requests each id came once
    accepted = [r for r in rx.received if r.outcome == "ok"]
    assert sum(len(sl.log_records) for req in accepted for rl in req.message.resource_logs
               for sl in rl.scope_logs) == stored
    store.close()


def test_exporter_exception_counts_as_failure_and_keeps_rows(tmp_path: Path) -> None:
    class Broken(InMemoryLogRecordExporter):
        def export(self, batch):  # type: ignore[no-untyped-def]
            raise ConnectionError("collector gone")

    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.append(FeedbackEvent(uuid.uuid4().hex, "p", "click"))
    exp = FeedbackExport(store, Broken())
    assert exp.run_once().failed
    assert exp.last_error is not None and "collector gone" in exp.last_error
    assert store.counts()["unexported"] == 1
    store.close()
