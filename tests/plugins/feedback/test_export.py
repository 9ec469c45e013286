"""OTLP export of stored feedback: records, trace parenting, retry from the store, exactly-once delivery.

The export pass itself is unit-tested on a real store; the plugin's export runs on the
real host against the loopback OTLP receiver (collector down, then back).
"""

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

import agent
from agent.plugin import FeedbackEvent
from agent.testing import ManualClock, run_plugin
from plugins.feedback import names as n
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
        n.ATTR_EVENT_ID: "e1", n.ATTR_KIND: "click", n.ATTR_PREDICTION: "p1",
        n.ATTR_MODEL: "rec", n.ATTR_ITEM_ID: "b", n.ATTR_POSITION: 1, n.custom_attribute("pscore"): 0.25,
    }
    assert (rec.trace_id, rec.span_id) == (int("ab" * 16, 16), int("cd" * 8, 16))
    assert second.log_record.trace_id == 0  # unknown prediction: no parent
    assert dict(second.log_record.attributes or {})[n.ATTR_VALUE] == 1
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
        ids = Counter(r.attributes[n.ATTR_EVENT_ID] for r in rx.log_records())
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
        received = Counter(r.attributes[n.ATTR_EVENT_ID] for r in rx.log_records() if r.event_name == EVENT_NAME)
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


def test_values_beyond_otlp_int64_go_out_as_text_and_do_not_block_the_export(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.append(FeedbackEvent("big", "p", "purchase", value=2**70, attributes={"basket": 2**64}))
    store.append(FeedbackEvent("next", "p", "click"))
    mem = InMemoryLogRecordExporter()
    assert FeedbackExport(store, mem).run_once().exported == 2
    attrs = dict(mem.get_finished_logs()[0].log_record.attributes or {})
    assert (attrs[n.ATTR_VALUE], attrs[n.custom_attribute("basket")]) == (str(2**70), str(2**64))
    store.close()


def test_plugin_exports_every_event_once_after_the_collector_was_down_for_the_whole_run() -> None:
    with OTLPHttpReceiver(mode="error") as rx:
        exporter = {"type": "otlp", "protocol": "http/protobuf", "endpoint": rx.endpoint, "timeout": 0.5}
        with run_plugin("feedback", config={"feedback": {"export_min_backoff_s": 0}}, clock=ManualClock(),
                        exporter=exporter) as h:
            ids = set()
            for i in range(50):
                stored = agent.log_feedback(f"p{i}", "click")
                assert stored is not None
                ids.add(stored.event_id)
            h.tick()
            export = h.plugin("feedback").export_thread
            assert export is not None and export.flush(timeout=30)
            failures = sum(p.value or 0 for p in h.metric_points(n.EXPORT_FAILURES)
                           if p.attributes[n.ATTR_REASON] == n.EXPORT_REJECTED)
            assert failures >= 1 and not h.metric_points(n.EXPORTED)
            rx.mode = "ok"
            assert export.flush(timeout=30)
            got = Counter(r.attributes[n.ATTR_EVENT_ID] for r in rx.log_records() if r.event_name == EVENT_NAME)
            (exported,) = h.metric_points(n.EXPORTED)
    assert set(got) == ids and set(got.values()) == {1}
    assert exported.value == 50
