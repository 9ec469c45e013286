"""OTLP log export of stored feedback: one ``ml.feedback`` log record per event, retried from the store.

Progress is the store's ``export`` mark: it moves past a batch only after the exporter
returned SUCCESS, so rows that failed (or that an earlier process never exported) go
out on a later pass. A crash between SUCCESS and the mark update re-sends that batch
once; receivers deduplicate by ``ml.feedback.event_id``. Records carry the
prediction's trace and span ids when the store remembers them, so backends show the
feedback under the prediction's span.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from plugins.feedback import names as n
from plugins.feedback.store import FeedbackStore, StoredFeedback

EVENT_NAME = n.EVENT_FEEDBACK
SCOPE = InstrumentationScope("infersight.feedback", "0.1.0")


@dataclass(frozen=True, slots=True)
class ExportPass:
    """Outcome of one export pass: records acknowledged, and whether a batch failed."""

    exported: int
    failed: bool
    skipped_backoff: bool = False


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
    """Sends unexported feedback from the store through ``exporter``, with backoff after failures."""

    def __init__(
        self,
        store: FeedbackStore,
        exporter: LogRecordExporter,
        *,
        resource: Resource | None = None,
        batch_size: int = 512,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.store = store
        self.exporter = exporter
        self.resource = resource or Resource.get_empty()
        self.batch_size = batch_size
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.on_result = on_result
        self.backoff_s = 0.0
        self.next_attempt = 0.0
        self.last_error: str | None = None

    def run_once(self, *, force: bool = False) -> ExportPass:
        """Export everything past the mark, batch by batch, stopping at the first failure."""
        now = self.clock()
        if not force and now < self.next_attempt:
            return ExportPass(0, False, skipped_backoff=True)
        total = 0
        while True:
            rows = self.store.unexported(self.batch_size)
            if not rows:
                break
            ok = self._send(rows)
            if self.on_result is not None:
                self.on_result(len(rows), ok)
            if not ok:
                self.backoff_s = min(self.max_backoff_s, max(self.min_backoff_s, self.backoff_s * 2))
                self.next_attempt = self.clock() + self.backoff_s
                return ExportPass(total, True)
            self.store.mark_exported(rows[-1].seq)
            total += len(rows)
            self.backoff_s = 0.0
            self.next_attempt = 0.0
        return ExportPass(total, False)

    def _send(self, rows: list[StoredFeedback]) -> bool:
        spans: Mapping[str, tuple[str | None, str | None]] = {}
        try:
            preds = self.store.predictions_for(r.event.prediction_id for r in rows)
            spans = {pid: (prs[0].trace_id, prs[0].span_id) for pid, prs in preds.items() if prs}
            records = [
                build_log_record(r, self.resource, *spans.get(r.event.prediction_id, (None, None))) for r in rows
            ]
            result = self.exporter.export(records)
        except Exception as exc:  # an exporter may raise instead of returning FAILURE
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if result is LogRecordExportResult.SUCCESS:
            self.last_error = None
            return True
        self.last_error = f"exporter returned {result}"
        return False


class ExportThread:
    """Runs ``FeedbackExport`` passes on its own thread so a slow collector never holds up the worker."""

    def __init__(self, export: FeedbackExport, *, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.export = export
        self.on_error = on_error
        self._cv = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stop = False
        self._force = False
        self._thread = threading.Thread(target=self._run, name="infersight-feedback-export", daemon=True)
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
                self.export.run_once(force=force)
            except Exception as exc:  # the store may be closed or locked; retry on the next kick
                if self.on_error is not None:
                    self.on_error(exc)
            with self._cv:
                self._completed = target
                self._cv.notify_all()
