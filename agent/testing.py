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

Plugin authors test a plugin on the real host with ``run_plugin``: the plugin is loaded
as the agent loads every plugin (an entry-point name, or an object registered the same
way), its config table is checked by its own ``infersight_configure``, every hook call
goes through the host's guard, and what it emits is captured::

    from agent.testing import run_plugin

    def test_my_plugin_flags_a_shift():
        with run_plugin(MyPlugin(), config={"my_plugin": {"threshold": 0.2}}) as h:
            h.set_reference("m", reference_rows)
            h.feed("m", shifted_rows)
            signals = h.tick()
        assert any(s.name == "my_plugin.shift" for s in signals)
"""

from __future__ import annotations

import inspect
import tempfile
import threading
import types
from collections.abc import Iterator, Mapping, Sequence
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
from agent._monitor import observe
from agent._plugins import instances
from agent._types import FeedbackEvent, ModelInfo, Notification, RecordBatch, Signal
from agent.hookspecs import hookimpl

__all__ = ["CapturedTelemetry", "ManualClock", "MetricPoint", "capture_telemetry", "run_plugin"]


class ManualClock:
    """A wall clock that moves only when told (``advance``); the worker's ticks and plugins read it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``; returns the new time."""
        with self._lock:
            self._now += float(seconds)
            return self._now


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
        self.seen = 0
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
                 logs: InMemoryLogRecordExporter, recorder: _Recorder, running: _agent.Agent | None,
                 clock: ManualClock | None = None) -> None:
        self._agent = running
        self._spans = spans
        self._reader = reader
        self._logs = logs
        self._recorder = recorder
        self.clock = clock

    # -- driving the agent (each through the public API and the real worker) -----------

    def set_reference(self, model: str, rows: Any) -> None:
        """``agent.set_reference``: the plugins get it on the worker, in order with the calls around it."""
        if self._agent is not None:
            self._agent.set_reference(model, rows)

    def feed(self, model: str, inputs: Any, outputs: Any = None, *, version: str | None = None) -> str | None:
        """One monitored call with capture on, through the hot path; returns its prediction id.

        ``inputs`` is anything ``@monitor`` captures: a mapping (one row), a list of
        mappings, a 2-D array or a DataFrame (a batch call of N rows).
        """
        with observe(model, inputs=inputs, version=version, capture=True) as call:
            call.set_output(outputs)
        return call.prediction_id

    def process(self, model: ModelInfo | str, records: RecordBatch) -> None:
        """Hand a ready ``RecordBatch`` to ``infersight_process_records`` on the worker, through the host."""
        self._control("infersight_process_records", model=self._model(model), records=records)

    def process_feedback(self, model: ModelInfo | str, events: list[FeedbackEvent]) -> None:
        """Hand feedback events to ``infersight_process_feedback`` on the worker, through the host."""
        self._control("infersight_process_feedback", model=self._model(model), events=list(events))

    def _model(self, model: ModelInfo | str) -> ModelInfo:
        """The model as the agent knows it, registered (so ticks collect its signals) when it was not."""
        if self._agent is None:
            return model if isinstance(model, ModelInfo) else ModelInfo(name=model)
        name = model.name if isinstance(model, ModelInfo) else model
        if name not in self._agent.models:
            self._agent.register_model(name, version=model.version if isinstance(model, ModelInfo) else None)
        return model if isinstance(model, ModelInfo) else self._agent.context.model(name)

    def _control(self, hook: str, **kwargs: Any) -> None:
        if self._agent is not None:
            host = self._agent.host
            self._agent.worker.submit("call", lambda: host.call(hook, **kwargs))

    def tick(self, advance: float = 0.0, timeout: float = 30.0) -> list[Signal]:
        """Process what is queued, advance the manual clock by ``advance`` seconds, run a tick; return Signals.

        Everything queued before is processed at the old time first; the Signals returned
        are those handed to ``infersight_handle_signals`` since the previous ``tick``.
        """
        with self._recorder.lock:
            start = self._recorder.seen
        if advance:
            if self.clock is None:
                raise RuntimeError("tick(advance=...) needs a manual clock: run_plugin(..., clock=ManualClock())")
            if not self.flush(timeout):  # what was queued before is processed at the old time
                raise TimeoutError(f"the agent did not finish its queued work within {timeout:g}s")
            self.clock.advance(advance)
        if not self.flush(timeout):
            raise TimeoutError(f"the agent did not finish its queued work within {timeout:g}s")
        with self._recorder.lock:
            self._recorder.seen = len(self._recorder.signals)
            return self._recorder.signals[start:]

    def plugin(self, name: str) -> Any:
        """The registered plugin object ``name`` (None when it is not registered or was disabled)."""
        return self._agent.host.plugin(name) if self._agent is not None else None

    @property
    def plugin_errors(self) -> int:
        """Hook calls that raised or overran so far (what ``ml.agent.plugin_errors`` counts)."""
        return _agent._peek(self._agent._plugin_errors) if self._agent is not None else 0

    @property
    def agent(self) -> _agent.Agent | None:
        """The running agent (for the core's own tests; plugins should not need it)."""
        return self._agent

    def flush(self, timeout: float = 10.0) -> bool:
        """Run everything queued through the worker and plugins, then a tick (call before asserting)."""
        agent = _state.AGENT
        return bool(agent.flush(timeout)) if agent is not None else True

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
    config: str | Mapping[str, Any] | None = None,
    *,
    register: Sequence[tuple[str, Any]] = (),
    clock: ManualClock | None = None,
    **overrides: Any,
) -> Iterator[CapturedTelemetry]:
    """Run the agent with in-memory exporters for the block; shuts it down afterwards.

    Entry-point plugins default to none (``plugins={"enabled": [...]}``, the ``[plugins]``
    config section, to add built-ins); ``register=[(name, object)]`` registers objects the
    way entry points are registered, before configuration. The data directory defaults to a fresh
    temporary one, and ``clock`` replaces the wall clock of the worker and the plugins.
    """
    spans, reader, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
    hooks = _agent.TestingHooks(
        span_processors=[SimpleSpanProcessor(spans)],
        metric_readers=[reader],
        log_processors=[SimpleLogRecordProcessor(logs)],
        plugins=tuple(register),
        clock=clock,
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
            yield CapturedTelemetry(spans, reader, logs, recorder, running, clock)
        finally:
            _agent.shutdown()


@contextmanager
def run_plugin(
    plugin: Any,
    config: Mapping[str, Any] | None = None,
    *,
    clock: ManualClock | None = None,
    **overrides: Any,
) -> Iterator[CapturedTelemetry]:
    """Run one plugin on the real host for the block: loaded, configured, guarded, its telemetry captured.

    ``plugin`` is the name of an installed entry point (``"drift"``, or a third party's)
    or a plugin object, class, factory or module, registered as the host registers an
    entry point's target. ``config`` is the whole agent config (the plugin's table and
    ``models``); a bad table raises the plugin's ``ConfigError`` here, as ``init`` would.
    """
    data = dict(config or {})
    if isinstance(plugin, str):
        overrides.setdefault("plugins", {"enabled": [plugin], "entry_points": False})
        with capture_telemetry(data, clock=clock, **overrides) as tel:
            yield tel
        return
    objs = instances(plugin)
    name = _plugin_name(plugin)
    named = [(name if len(objs) == 1 else f"{name}.{type(o).__name__.lower()}", o) for o in objs]
    with capture_telemetry(data, register=named, clock=clock, **overrides) as tel:
        yield tel


def _plugin_name(plugin: Any) -> str:
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__.rsplit(".", 1)[-1]
    if isinstance(plugin, type) or inspect.isroutine(plugin):
        return str(plugin.__name__).lower()
    return type(plugin).__name__.lower()
