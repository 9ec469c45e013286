"""Helpers for testing code that uses InferSight, in the spirit of ``structlog.testing.capture_logs``.

    from agent.testing import capture_telemetry

    def test_my_model_is_monitored():
        with capture_telemetry() as tel:
            predict({"x": 1.0})
            tel.flush()
        assert tel.spans()[0].name == "predict my-model"
        assert tel.metric_points("ml.inference.calls")[0].value == 1

The agent runs for real (worker thread, plugins, hooks); only the exporters are
replaced by the SDK's in-memory exporter and reader.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent import _agent, _state
from agent._types import FeedbackEvent, ModelInfo, Notification, RecordBatch, Signal
from agent.hookspecs import hookimpl

__all__ = ["CapturedTelemetry", "MetricPoint", "capture_telemetry"]


@dataclass(frozen=True)
class MetricPoint:
    """One data point: metric name, attributes, and value (sum/gauge) or count/sum (histogram)."""

    name: str
    attributes: Mapping[str, Any]
    value: float | None
    count: int | None = None
    sum: float | None = None


class _Recorder:
    """A plugin that records what the agent hands to plugins."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[tuple[ModelInfo, RecordBatch]] = []
        self.feedback: list[FeedbackEvent] = []
        self.signals: list[Signal] = []
        self.notifications: list[Notification] = []

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        with self.lock:
            self.records.append((model, records))

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        with self.lock:
            self.feedback.extend(events)

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        with self.lock:
            self.signals.extend(signals)


class CapturedTelemetry:
    """What the agent emitted while the ``capture_telemetry`` block ran."""

    def __init__(self, spans: InMemorySpanExporter, reader: InMemoryMetricReader,
                 logs: InMemoryLogRecordExporter, recorder: _Recorder, running: _agent.Agent | None) -> None:
        self._agent = running
        self._spans = spans
        self._reader = reader
        self._logs = logs
        self._recorder = recorder

    def flush(self, timeout: float = 10.0) -> bool:
        """Run everything queued through the worker and plugins (call before asserting)."""
        agent = _state.AGENT
        return agent.flush(timeout) if agent is not None else True

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in end order."""
        return list(self._spans.get_finished_spans())

    def metric_points(self, name: str) -> list[MetricPoint]:
        """Current data points of the metric ``name`` (cumulative), across all scopes."""
        data = self._reader.get_metrics_data()
        if self._agent is not None and self._agent.latency_native:
            data = self._agent.latency.inject(data)
        out: list[MetricPoint] = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != name:
                        continue
                    for p in metric.data.data_points:
                        point: Any = p
                        attrs = dict(point.attributes or {})
                        if hasattr(point, "bucket_counts"):
                            out.append(MetricPoint(name, attrs, None, int(point.count), float(point.sum)))
                        else:
                            out.append(MetricPoint(name, attrs, float(point.value)))
        return out

    def log_records(self) -> list[ReadableLogRecord]:
        """Log records the agent emitted (its structlog events)."""
        return list(self._logs.get_finished_logs())

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Log events as dicts (``event`` plus attributes), optionally only those named ``name``."""
        out = []
        for rec in self.log_records():
            lr: Any = getattr(rec, "log_record", rec)
            event = {"event": str(lr.body), **dict(lr.attributes or {})}
            if name is None or event["event"] == name:
                out.append(event)
        return out

    @property
    def records(self) -> list[tuple[ModelInfo, RecordBatch]]:
        """Every (model, RecordBatch) handed to ``infersight_process_records``."""
        with self._recorder.lock:
            return list(self._recorder.records)

    @property
    def feedback(self) -> list[FeedbackEvent]:
        """Every feedback event handed to ``infersight_process_feedback``."""
        with self._recorder.lock:
            return list(self._recorder.feedback)

    @property
    def signals(self) -> list[Signal]:
        """Every Signal handed to ``infersight_handle_signals``."""
        with self._recorder.lock:
            return list(self._recorder.signals)


@contextmanager
def capture_telemetry(
    config: str | Mapping[str, Any] | None = None, **overrides: Any
) -> Iterator[CapturedTelemetry]:
    """Run the agent with in-memory exporters for the block; shuts it down afterwards.

    Plugins default to none (``plugins={"enabled": [...]}`` to add some) and the data
    directory to a fresh temporary one.
    """
    spans, reader, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
    hooks = _agent.TestingHooks(
        span_processors=[SimpleSpanProcessor(spans)],
        metric_readers=[reader],
        log_processors=[SimpleLogRecordProcessor(logs)],
    )
    overrides.setdefault("exporter", {"type": "none"})
    overrides.setdefault("plugins", {"enabled": [], "entry_points": False})
    with tempfile.TemporaryDirectory(prefix="infersight-test-") as tmp:
        agent_over = dict(overrides.get("agent", {}))
        agent_over.setdefault("data_dir", tmp)
        agent_over.setdefault("stderr_level", "off")
        overrides["agent"] = agent_over
        running = _agent.init(config, testing=hooks, **overrides)
        recorder = _Recorder()
        if running is not None:
            running.host.register(recorder, "testing-recorder", "agent.testing")
        try:
            yield CapturedTelemetry(spans, reader, logs, recorder, running)
        finally:
            _agent.shutdown()
