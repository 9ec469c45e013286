"""Durable delivery of stored feedback: the OTLP log export (one ``ml.feedback`` log record per event)
and the machinery every delivery shares (a store mark, batches, backoff, a delivery thread).

Progress is a high-water mark in the store (``export`` for the OTLP export): it moves
past a batch only after the receiver accepted it, so rows that failed (or that an
earlier process never delivered) go out on a later pass. A crash between the
acknowledgement and the mark update re-sends that batch once; receivers deduplicate by
``ml.feedback.event_id`` (Phoenix upserts by the annotation's identifier). Records carry
the prediction's trace and span ids when the store remembers them, so backends show the
feedback under the prediction's span.

A delivery that needs the span (``hold_pending``: Phoenix annotations) waits for the
worker's join: an event whose prediction row has not arrived yet keeps the mark behind
it while later, joined events go out (remembered in memory so a pass does not send them
twice; after a restart they are re-sent once, which an upsert absorbs).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from agent.plugin import DeliveryError, describe_exception
from plugins.feedback import names as n
from plugins.feedback.store import JOIN_PENDING, FeedbackStore, StoredFeedback

EVENT_NAME = n.EVENT_FEEDBACK
SCOPE = InstrumentationScope("infersight.feedback", "0.1.0")


SpanIds = Mapping[str, tuple[str | None, str | None]]  # prediction id -> (trace id, span id) as stored


@dataclass(frozen=True, slots=True)
class ExportPass:
    """Outcome of one export pass: records acknowledged, and whether a batch failed."""

    exported: int
    failed: bool
    skipped_backoff: bool = False
    pending: int | None = None  # events past the mark after the pass (when the export counts them)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a sender did with one batch: events the receiver accepted, events it will never send (by reason)."""

    delivered: int
    skipped: Mapping[str, int] = field(default_factory=dict)


class Sender(Protocol):
    """Delivers one batch of stored feedback; raises (``DeliveryError`` or anything) to have it retried later."""

    def send(self, rows: list[StoredFeedback], spans: SpanIds) -> Sent:
        """Send ``rows`` (``spans``: the stored trace and span ids of their predictions)."""
        ...


class LogRecordSender:
    """Sends each event as one ``ml.feedback`` OTLP log record through a ``LogRecordExporter``."""

    def __init__(self, exporter: LogRecordExporter, resource: Resource | None = None) -> None:
        self.exporter = exporter
        self.resource = resource or Resource.get_empty()

    def send(self, rows: list[StoredFeedback], spans: SpanIds) -> Sent:
        """Export the batch; ``DeliveryError`` when the exporter does not return SUCCESS."""
        records = [build_log_record(r, self.resource, *spans.get(r.event.prediction_id, (None, None))) for r in rows]
        result = self.exporter.export(records)
        if result is not LogRecordExportResult.SUCCESS:
            raise DeliveryError("exporter", f"exporter returned {result}")
        return Sent(len(rows))


def feedback_attributes(stored: StoredFeedback) -> dict[str, Any]:
    """OTLP attributes of one feedback event (in the spirit of ``gen_ai.evaluation.result``)."""
    e = stored.event
    attrs: dict[str, Any] = {
        n.ATTR_EVENT_ID: e.event_id,
        n.ATTR_KIND: e.kind,
        n.ATTR_PREDICTION: e.prediction_id,
    }
    if e.value is not None:
        attrs[n.ATTR_VALUE] = _attr_value(e.value)
    if e.model is not None:
        attrs[n.ATTR_MODEL] = e.model
    if e.item_id is not None:
        attrs[n.ATTR_ITEM_ID] = e.item_id
    if e.position is not None:
        attrs[n.ATTR_POSITION] = _attr_value(e.position)
    for key, value in e.attributes.items():
        attrs.setdefault(n.custom_attribute(key), _attr_value(value))
    return attrs


_INT64 = (-(2**63), 2**63 - 1)


def _attr_value(value: Any) -> Any:
    # OTLP attributes are str, bool, int64 or double: an int beyond int64 would fail the
    # encoding of the whole batch (and block the export mark), so it goes out as text.
    if isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    return json.dumps(value)


def build_log_record(
    stored: StoredFeedback, resource: Resource, trace_id: str | None = None, span_id: str | None = None
) -> ReadableLogRecord:
    """The SDK log record for one stored event, parented to the prediction's span when known."""
    context = Context()
    if trace_id and span_id:
        span_context = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        context = set_span_in_context(NonRecordingSpan(span_context), context)
    record = LogRecord(
        timestamp=int(stored.event.timestamp * 1e9),
        observed_timestamp=int(stored.received * 1e9),
        context=context,
        severity_text="INFO",
        severity_number=SeverityNumber.INFO,
        body=None,
        attributes=feedback_attributes(stored),
        event_name=EVENT_NAME,
    )
    return ReadableLogRecord(log_record=record, resource=resource, instrumentation_scope=SCOPE)


class FeedbackExport:
    """Sends undelivered feedback from the store through a sender (or a log exporter), with backoff after failures."""

    def __init__(
        self,
        store: FeedbackStore,
        exporter: LogRecordExporter | Sender,
        *,
        resource: Resource | None = None,
        batch_size: int = 512,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[int, bool], None] | None = None,
        mark: str = "export",
        hold_pending: bool = False,
        lookahead: int = 50_000,
        on_skipped: Callable[[str, int], None] | None = None,
        count_pending: bool = False,
    ) -> None:
        self.store = store
        self.sender: Sender = (LogRecordSender(exporter, resource) if isinstance(exporter, LogRecordExporter)
                               else exporter)
        self.batch_size = batch_size
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.on_result = on_result
        self.on_skipped = on_skipped
        self.mark = mark
        self.hold_pending = hold_pending
        self.lookahead = lookahead
        self.count_pending = count_pending
        self.backoff_s = 0.0
        self.next_attempt = 0.0
        self.last_error: str | None = None
        self.last_reason: str | None = None  # DeliveryError.reason of the last failure (else the exception type)
        self._done: set[int] = set()  # seqs past the mark already delivered while an earlier event waits

    def run_once(self, *, force: bool = False) -> ExportPass:
        """Deliver everything past the mark, batch by batch, stopping at the first failure."""
        now = self.clock()
        if not force and now < self.next_attempt:
            return ExportPass(0, False, skipped_backoff=True)
        total = 0
        cursor = mark = self.store.mark(self.mark)
        held = False  # an event waits for its join: the mark stays behind it
        failed = False
        while True:
            rows = self.store.after(cursor, self.batch_size)
            if not rows:
                break
            batch = rows
            if self.hold_pending:
                batch = [r for r in rows if r.join_state != JOIN_PENDING and r.seq not in self._done]
            ok, delivered = True, 0
            if batch:
                ok, delivered = self._send(batch)
                if self.on_result is not None:
                    self.on_result(len(batch) if not ok else delivered, ok)
            if not ok:
                self.backoff_s = min(self.max_backoff_s, max(self.min_backoff_s, self.backoff_s * 2))
                self.next_attempt = self.clock() + self.backoff_s
                failed = True
                break
            total += delivered
            waiting = next((r.seq for r in rows if r.join_state == JOIN_PENDING), None) if self.hold_pending else None
            if not held and waiting is not None:
                held, mark = True, waiting - 1
            elif not held:
                mark = rows[-1].seq
            if held:
                self._done.update(r.seq for r in batch)
            else:
                self.store.set_mark(self.mark, mark)
            cursor = rows[-1].seq
            self.backoff_s = 0.0
            self.next_attempt = 0.0
            if held and len(self._done) >= self.lookahead:
                break  # far enough ahead of the waiting event: the rest waits for the next pass
        if held or failed:
            self.store.set_mark(self.mark, mark)
        self._done = {s for s in self._done if s > mark}
        pending = self.store.count_after(self.mark) - len(self._done) if self.count_pending else None
        return ExportPass(total, failed, pending=pending)

    def _send(self, rows: list[StoredFeedback]) -> tuple[bool, int]:
        try:
            preds = self.store.predictions_for(r.event.prediction_id for r in rows)
            spans = {pid: (prs[0].trace_id, prs[0].span_id) for pid, prs in preds.items() if prs}
            sent = self.sender.send(rows, spans)
        except DeliveryError as exc:
            self.last_error, self.last_reason = str(exc), exc.reason
            return False, 0
        except Exception as exc:  # an exporter may raise instead of returning FAILURE
            self.last_error, self.last_reason = describe_exception(exc), type(exc).__name__
            return False, 0
        self.last_error = self.last_reason = None
        if self.on_skipped is not None:
            for reason, count in sent.skipped.items():
                if count:
                    self.on_skipped(reason, count)
        return True, sent.delivered


class ExportThread:
    """Runs ``FeedbackExport`` passes on its own thread so a slow collector never holds up the worker."""

    def __init__(self, export: FeedbackExport, *, on_error: Callable[[BaseException], None] | None = None,
                 on_pass: Callable[[ExportPass], None] | None = None,
                 name: str = "infersight-feedback-export") -> None:
        self.export = export
        self.on_error = on_error
        self.on_pass = on_pass
        self._cv = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stop = False
        self._force = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def kick(self, *, force: bool = False) -> int:
        """Ask for a pass; returns the pass number to wait for with ``wait``."""
        with self._cv:
            self._requested += 1
            self._force = self._force or force
            self._cv.notify_all()
            return self._requested

    def wait(self, ticket: int, timeout: float | None = None) -> bool:
        """Wait until pass ``ticket`` has completed; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._completed >= ticket or self._stop, timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Run a pass now (ignoring backoff) and wait for it."""
        return self.wait(self.kick(force=True), timeout)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Finish the current pass, then stop the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._requested > self._completed or self._stop)
                if self._stop:
                    return
                target, force, self._force = self._requested, self._force, False
            try:
                outcome = self.export.run_once(force=force)
                if self.on_pass is not None and not outcome.skipped_backoff:
                    self.on_pass(outcome)
            except Exception as exc:  # the store may be closed or locked; retry on the next kick
                if self.on_error is not None:
                    self.on_error(exc)
            with self._cv:
                self._completed = target
                self._cv.notify_all()
