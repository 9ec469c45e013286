"""The running agent: built by ``init``, torn down by ``shutdown``, rebuilt in a forked child."""

from __future__ import annotations

import atexit
import itertools
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agent import _state
from agent._capture import (
    UnprocessableError,
    _assemble,
    _outputs,
    _stack_outputs,
    redact_columns,
    redact_mapping,
    rows_of,
)
from agent._config import Settings, redact_url, resolve, unknown_sections
from agent._errors import HIDDEN, ConfigError, describe_exception
from agent._fileexport import dir_mode, ensure_dir
from agent._histogram import LatencyHistograms, SdkBulkRecorder
from agent._ids import IdGenerator
from agent._jobs import Jobs
from agent._logging import make_logger
from agent._plugins import PluginHost
from agent._runtime import PluginContext
from agent._tables import load_table, vectors_per_row
from agent._telemetry import Pipelines, build_pipelines
from agent._types import (
    ArtifactIdentity,
    FeedbackEvent,
    FlushResult,
    ModelInfo,
    RecordBatch,
    Signal,
    TrainingRecord,
)
from agent._worker import Worker
from agent.semconv import (
    AGENT_DROPPED,
    AGENT_EXPORT_FAILURES,
    AGENT_PLUGIN_ERRORS,
    AGENT_QUEUE_SIZE,
    AGENT_UNPROCESSABLE,
    ATTR_MODEL_NAME,
    ATTR_MODEL_VERSION,
    EVENT_DROPPED,
    EVENT_EXPORT_FAILED,
    EVENT_STARTED,
    EVENT_STOPPED,
    INFERENCE_CALLS,
    INFERENCE_DURATION,
    INFERENCE_ERRORS,
    INFERENCE_IN_FLIGHT,
    INFERENCE_ROWS,
    LATENCY_BUCKETS,
    SIGNAL_DROPS,
    SIGNAL_EXPORT_FAILURES,
    SIGNAL_PLUGIN_ERRORS,
)

VERSION = "0.1.0"
_EVENT_INTERVAL = 60.0  # seconds between repeated drop / export-failure events
_GENERATIONS = itertools.count(1)


def _peek(counter: itertools.count[int]) -> int:
    """Current value of an ``itertools.count`` without advancing it (``next`` is atomic; this is a read)."""
    return int(repr(counter)[6:-1])  # "count(N)"; itertools.count.__reduce__ is gone in 3.14


@dataclass
class Instruments:
    """The core's synchronous instruments, used only by the worker thread."""

    duration: Histogram
    calls: Counter
    errors: Counter
    rows: Counter
    unprocessable: Counter


@dataclass(frozen=True)
class TestingHooks:
    """Extra processors/readers that ``agent.testing`` attaches alongside the configured exporters."""

    span_processors: Sequence[SpanProcessor] = ()
    metric_readers: Sequence[MetricReader] = ()
    log_processors: Sequence[LogRecordProcessor] = ()
    plugins: Sequence[tuple[str, Any]] = ()  # (name, object) registered before configure, like entry points
    clock: Callable[[], float] | None = None  # the worker's and plugins' wall clock (a test's manual clock)


def model_info(name: str, table: Mapping[str, Any]) -> ModelInfo:
    """A ModelInfo from a validated ``[models.NAME]`` table (defaults for missing keys)."""
    return ModelInfo(
        name=name,
        version=str(table.get("version", "")),
        task=str(table.get("task", "other")),
        capture=bool(table.get("capture", False)),
        sample_rate=float(table.get("sample_rate", 1.0)),
        feature_names=tuple(table.get("feature_names", ())),
        options=dict(table),
    )


class Agent:
    """One running agent: telemetry pipelines, plugin host, worker, and the hot path's queues."""

    def __init__(self, settings: Settings, testing: TestingHooks | None = None) -> None:
        self.settings = settings
        self.testing = testing or TestingHooks()
        self.generation = next(_GENERATIONS)
        self.disabled = False
        self.pid = os.getpid()
        self.ids = IdGenerator()
        self.captures: deque[Any] = deque()  # captures and control operations, in order (the worker's queue)
        self._stats_queues: dict[tuple[str, str], deque[tuple[float, str | None, int]]] = {}
        self._drops: dict[str, itertools.count[int]] = {}
        self._drops_reported: dict[str, int] = {}
        self._plugin_errors = itertools.count()
        self._plugin_errors_reported = 0
        self._export_reported = 0
        self._last_drop_event = self._last_export_event = float("-inf")  # events rate-limited per minute
        self._lock = threading.Lock()
        self.latency = LatencyHistograms(
            INFERENCE_DURATION, "s", "Latency of monitored calls", LATENCY_BUCKETS,
            InstrumentationScope("infersight.latency", VERSION),
        )
        self.pipelines: Pipelines = build_pipelines(
            settings, self.testing.metric_readers, self.latency.inject, on_drop=self.count_drop
        )
        # With an application-owned MeterProvider the agent cannot add to its exports, so the
        # worker records the durations into the application's SDK histogram instead, a batch at
        # a time where the SDK's layout is known (SdkBulkRecorder), else one by one.
        self.latency_native = "metrics" not in self.pipelines.reused
        for proc in self.testing.span_processors:
            self.pipelines.tracer_provider.add_span_processor(proc)  # type: ignore[attr-defined]
        for lproc in self.testing.log_processors:
            self.pipelines.logger_provider.add_log_record_processor(lproc)  # type: ignore[attr-defined]
        self.tracer = self.pipelines.tracer_provider.get_tracer("infersight", VERSION)
        self.meter = self.pipelines.meter_provider.get_meter("infersight", VERSION)
        self.log, self.log_sink = make_logger(
            self.pipelines.logger_provider,
            level=settings.agent["log_level"],
            stderr_level=settings.agent["stderr_level"],
            stream=sys.stderr,
        )
        self.instruments = self._make_instruments()
        self.duration_recorder = SdkBulkRecorder(self.instruments.duration)
        self.models: dict[str, ModelInfo] = {}
        for name, table in settings.models.items():
            self.models[name] = self._model_info(name, table)
        self.host = PluginHost(self.log, settings.agent["plugin_max_failures"],
                               configure_timeout=settings.agent["plugin_configure_timeout"])
        self.host.on_error = lambda plugin, hook: self._count_plugin_error()
        self.jobs = Jobs(self.host)
        clock = self.testing.clock or time.time
        self.context = PluginContext(
            clock=clock,
            config=settings.raw,
            data_dir=settings.data_dir,
            meter=self.meter,
            log=self.log,
            models=self.models,
            resource=self.pipelines.resource,
            new_log_exporter=self.pipelines.new_log_exporter,
            notify=lambda n, c: self.host.notify(n, c, settings.agent["notify_timeout"]),
            file_mode=settings.agent["file_mode"],
            defer=self.jobs.submit,
        )
        self.worker = Worker(self)
        self.worker.clock = clock
        self._data_dir_problem: str | None = None
        self._artifacts_thread: threading.Thread | None = None
        self.configured_artifacts: dict[str, ArtifactIdentity] = {}  # [models.NAME] artifact, identified

    # -- start / stop ---------------------------------------------------------------

    def configure_plugins(self) -> None:
        """Load the plugins and let each validate its config table; unclaimed tables are errors.

        Raises ConfigError (a plugin's, or for an unknown table). Used by ``start`` and by
        ``infersight config check``, which stops here.
        """
        plugins = self.settings.plugins
        self.host.load(plugins["enabled"], plugins["paths"], plugins["entry_points"], plugins["disabled"])
        for name, obj in self.testing.plugins:
            self.host.register(obj, name, "agent.testing")
        self.host.configure(config=self.settings.raw, agent=self.context)
        unknown = unknown_sections(self.settings, self.context.claimed_sections)
        if unknown:
            raise ConfigError(unknown[0], HIDDEN,
                              "a core section or one claimed by a loaded plugin "
                              "(service, exporter, traces, metrics, agent, plugins, models, or a plugin's table)")

    def start(self) -> None:
        """Load and configure plugins, then start the worker; ConfigError from a plugin fails init."""
        try:
            ensure_dir(self.settings.data_dir, dir_mode(self.settings.agent["file_mode"]))
            if not self.settings.data_dir.is_dir():
                raise NotADirectoryError(f"{self.settings.data_dir} is not a directory")
        except OSError as exc:
            self._data_dir_problem = f"{type(exc).__name__}: {exc}"
        self.configure_plugins()
        references = self._load_references()
        for info in self.models.values():
            self.worker.track(info, self.stats_queue_for(info))
        # Before any traffic: control operations keep their order relative to the calls around them.
        for name, rows in references.items():
            self.set_reference(name, rows)
        with _state.LOCK:
            recorded = list(_state.ARTIFACTS.values())
        for identity in recorded:
            self.artifact_recorded(identity)
        self.worker.start()
        configured = [(name, t["artifact"]) for name, t in self.settings.models.items() if t.get("artifact")]
        if configured:
            # Hashing a large model file must not delay init: a daemon thread identifies configured
            # artifacts as agent.record_artifact would (it waits for init to release the state lock).
            self._artifacts_thread = threading.Thread(
                target=_identify_configured, args=(self, configured), name="infersight-artifacts", daemon=True)
            self._artifacts_thread.start()
        self.log.info(
            EVENT_STARTED,
            version=VERSION,
            pid=self.pid,
            config=self.settings.redacted(),
            plugins=[p.name for p in self.host.describe()],
            reused_providers=self.pipelines.reused,
        )
        if self._data_dir_problem:
            self.log.error("ml.agent.data_dir_unusable", path=str(self.settings.data_dir),
                           needed="write", error=self._data_dir_problem)

    def _load_references(self) -> dict[str, Any]:
        """Read each ``[models.NAME] reference`` file; a file that cannot be used fails init naming the key."""
        out: dict[str, Any] = {}
        for name, table in self.settings.models.items():
            path = table.get("reference")
            if not path:
                continue
            try:
                out[name] = load_table(Path(path).expanduser())
            except ImportError as exc:
                raise ConfigError(f"models.{name}.reference", path, f"a file this install can read ({exc})") from None
            except (OSError, ValueError) as exc:
                expected = f"a readable .npz, .npy, .csv, .parquet or .jsonl table ({describe_exception(exc)})"
                raise ConfigError(f"models.{name}.reference", path, expected) from None
        return out

    def register_plugin(self, plugin: Any, name: str) -> str:
        """Register a plugin object now (configured at once, as ``infersight_configure`` is historic)."""
        return self.host.register(plugin, name, "register_plugin")

    def record_training(self, training: TrainingRecord) -> None:
        """Queue a retraining record for ``infersight_training_recorded`` on the worker."""
        info = self.models.get(training.model) or self.register_model(training.model)
        self.worker.submit("training", (info, training))

    def artifact_recorded(self, identity: ArtifactIdentity) -> None:
        """Queue an identified artifact for ``infersight_artifact_recorded`` on the worker."""
        info = self.models.get(identity.model) or self.register_model(identity.model)
        self.worker.submit("artifact", (info, identity))

    def flush(self, timeout: float = 10.0, exporters: bool = True) -> FlushResult:
        """Drain the worker (plugins see every queued row, then a tick runs), then flush telemetry exporters."""
        deadline = time.monotonic() + timeout
        hashing = self._artifacts_thread
        if hashing is not None and hashing is not threading.current_thread():
            hashing.join(timeout)  # configured artifacts are identified and queued before the flush marker
        ok = self.worker.flush(max(0.0, deadline - time.monotonic()))
        if not exporters:
            return FlushResult(worker=ok, exporters=True)
        remaining = max(0.0, deadline - time.monotonic())
        return FlushResult(worker=ok, exporters=self.pipelines.force_flush(remaining))

    def stop(self) -> None:
        """Stop the worker (plugins flush), log the final counts, flush and shut down exporters."""
        timeout = self.settings.agent["shutdown_timeout"]
        deadline = time.monotonic() + timeout
        self.worker.stop(timeout * 0.5)
        try:
            self.log.info(EVENT_STOPPED, dropped={k: _peek(v) for k, v in self._drops.items()})
        except Exception:
            pass
        remaining = max(0.1, deadline - time.monotonic())
        self.pipelines.force_flush(remaining * 0.6)
        self.pipelines.shutdown(max(0.1, deadline - time.monotonic()))

    # -- models -------------------------------------------------------------------

    def _model_info(self, name: str, table: Mapping[str, Any]) -> ModelInfo:
        return model_info(name, table)

    def register_model(
        self,
        name: str,
        *,
        version: str | None = None,
        task: str | None = None,
        capture: bool | None = None,
        sample_rate: float | None = None,
    ) -> ModelInfo:
        """The ModelInfo for a decorated model: config's ``[models.NAME]`` overridden by decorator args."""
        with self._lock:
            base = self.models.get(name) or self._model_info(name, {})
            info = replace(
                base,
                version=base.version if version is None else str(version),
                task=base.task if task is None else task,
                capture=base.capture if capture is None else capture,
                sample_rate=base.sample_rate if sample_rate is None else sample_rate,
            )
            if info != base or name not in self.models:
                self.models[name] = info
            if info.key not in self._stats_queues:
                self.worker.track(info, self.stats_queue_for(info))
        return info

    def stats_queue_for(self, info: ModelInfo) -> deque[tuple[float, str | None, int]]:
        """The (shared) stats deque of a (model, version)."""
        return self._stats_queues.setdefault(info.key, deque())

    # -- counting -------------------------------------------------------------------

    def count_drop(self, reason: str) -> None:
        """Count one dropped item (atomic; callable from any thread, including the hot path)."""
        counter = self._drops.get(reason)
        if counter is None:
            counter = self._drops.setdefault(reason, itertools.count())
        next(counter)

    def drops(self) -> dict[str, int]:
        """Dropped items so far, by reason."""
        return {k: _peek(v) for k, v in list(self._drops.items())}

    def _count_plugin_error(self) -> None:
        next(self._plugin_errors)

    def _make_instruments(self) -> Instruments:
        m = self.meter
        self.meter.create_observable_counter(
            AGENT_DROPPED, [self._observe_drops], unit="{record}", description="Items dropped by the agent"
        )
        self.meter.create_observable_counter(
            AGENT_PLUGIN_ERRORS, [self._observe_plugin_errors], unit="{error}",
            description="Plugin hook calls that raised",
        )
        self.meter.create_observable_counter(
            AGENT_EXPORT_FAILURES, [self._observe_export_failures], unit="{export}",
            description="Exports that failed, by signal",
        )
        self.meter.create_observable_up_down_counter(
            AGENT_QUEUE_SIZE, [self._observe_queue], unit="{record}", description="Captures waiting for the worker"
        )
        self.meter.create_observable_up_down_counter(
            INFERENCE_IN_FLIGHT, [self._observe_in_flight], unit="{call}",
            description="Monitored calls queued for aggregation (approximate in-flight work)",
        )
        return Instruments(
            duration=m.create_histogram(
                INFERENCE_DURATION, unit="s", description="Latency of monitored calls",
                explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS),
            ),
            calls=m.create_counter(INFERENCE_CALLS, unit="{call}", description="Monitored calls"),
            errors=m.create_counter(INFERENCE_ERRORS, unit="{call}", description="Monitored calls that raised"),
            rows=m.create_counter(INFERENCE_ROWS, unit="{row}", description="Rows predicted"),
            unprocessable=m.create_counter(
                AGENT_UNPROCESSABLE, unit="{row}", description="Captured inputs the agent could not normalise"
            ),
        )

    def _observe_drops(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {"reason": k}) for k, v in self.drops().items()]

    def _observe_plugin_errors(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(_peek(self._plugin_errors))]

    def _observe_export_failures(self, options: CallbackOptions) -> Iterable[Observation]:
        f = self.pipelines.failures
        return [Observation(f.total(s), {"signal": s}) for s in ("traces", "metrics", "logs")]

    def _observe_queue(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(len(self.captures))]

    def _observe_in_flight(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(len(q), {ATTR_MODEL_NAME: k[0], ATTR_MODEL_VERSION: k[1]})
            for k, q in list(self._stats_queues.items())
        ]

    def operational_signals(self, now: float) -> list[Signal]:
        """Agent-level signals since the previous tick: drops, plugin errors, export failures."""
        out: list[Signal] = []
        drops = self.drops()
        new_drops: dict[str, int] = {}
        for reason, total in drops.items():
            delta = total - self._drops_reported.get(reason, 0)
            self._drops_reported[reason] = total
            if delta:
                new_drops[reason] = delta
            out.append(Signal(SIGNAL_DROPS, float(delta), {"reason": reason}, {"total": total}, now))
        if new_drops and now - self._last_drop_event >= _EVENT_INTERVAL:
            self._last_drop_event = now
            self.log.warning(EVENT_DROPPED, new=new_drops, total=drops)
        errors = _peek(self._plugin_errors)
        new_errors = float(errors - self._plugin_errors_reported)
        out.append(Signal(SIGNAL_PLUGIN_ERRORS, new_errors, {}, {"total": errors}, now))
        self._plugin_errors_reported = errors
        failures = sum(self.pipelines.failures.total(s) for s in ("traces", "metrics", "logs"))
        new_failures = float(failures - self._export_reported)
        out.append(Signal(SIGNAL_EXPORT_FAILURES, new_failures, {}, {"total": failures}, now))
        if new_failures and now - self._last_export_event >= _EVENT_INTERVAL:
            self._last_export_event = now
            f = self.pipelines.failures
            self.log.warning(
                EVENT_EXPORT_FAILED,
                exporter=self.settings.exporter_type,
                endpoint=redact_url(self.settings.exporter["endpoint"] or ""),
                failures={s: f.total(s) for s in ("traces", "metrics", "logs")},
            )
        self._export_reported = failures
        return out

    # -- reference and feedback -----------------------------------------------------

    def set_reference(self, model: str, rows: Any, outputs: Any = None) -> None:
        """Normalise reference rows and hand them to the plugins on the worker thread."""
        info = self.models.get(model) or self.register_model(model)
        if _is_columns(rows):
            got: Any = {str(k): vectors_per_row(v) for k, v in rows.items()}
        else:
            try:
                got = rows_of(rows, info)
            except UnprocessableError as exc:
                raise ValueError(f"set_reference({model!r}): cannot use {exc}") from None
        if isinstance(got, dict):
            columns = dict(got)
            n = len(next(iter(columns.values()))) if columns else 0
        else:
            n = len(got)
            columns = _assemble(got, [], n)
        # Reference rows are data entering the agent like captures: the model's redaction applies.
        columns = redact_columns(columns, info)
        stacked = None
        if outputs is not None:
            try:
                per_row = _outputs(outputs, n)
                if any(isinstance(o, Mapping) for o in per_row):
                    per_row = [redact_mapping(o, info) if isinstance(o, Mapping) else o for o in per_row]
                stacked = _stack_outputs(per_row)
            except UnprocessableError as exc:
                raise ValueError(f"set_reference({model!r}): cannot use outputs: {exc}") from None
        batch = RecordBatch(
            prediction_ids=tuple("reference" for _ in range(n)),
            row_index=np.arange(n),
            timestamps=np.zeros(n),
            columns=columns,
            outputs=stacked,
        )
        self.worker.submit("reference", (info, batch))

    def _redact_feedback(self, event: FeedbackEvent) -> FeedbackEvent:
        """Feedback attributes get the model's redaction (every model's when the model is not named)."""
        if not event.attributes:
            return event
        infos = [self.models[event.model]] if event.model in self.models else list(self.models.values())
        attrs = dict(event.attributes)
        for info in infos:
            attrs = redact_mapping(attrs, info)
        return event if attrs == dict(event.attributes) else replace(event, attributes=attrs)

    def log_feedback(self, event: FeedbackEvent) -> FeedbackEvent:
        """Redact, make feedback durable through the feedback plugin's sink, then queue it for the plugins."""
        event = self._redact_feedback(event)
        sink = self.context.feedback_sink
        if sink is not None:
            event = sink(event)
        else:
            self.count_drop("feedback_not_durable")
        # Captures stop at queue_size; feedback (already durable) has as much again of headroom.
        if len(self.captures) < 2 * self.settings.agent["queue_size"]:
            self.worker.submit("feedback", event)
        else:
            self.count_drop("feedback_dispatch")
        return event


def _identify_configured(agent: Agent, configured: list[tuple[str, str]]) -> None:
    """Identify each ``[models.NAME] artifact`` for this agent (its config, so not kept past it)."""
    from agent import _artifacts

    for name, path in configured:
        try:
            identity = _artifacts.identify(name, Path(path).expanduser())
            agent.configured_artifacts[name] = identity
            agent.artifact_recorded(identity)
        except Exception:
            pass  # identify() reports unreadable paths itself; nothing may escape a daemon thread


def _is_columns(rows: Any) -> bool:
    """A dict of columns (what ``load_table`` returns), not one row: every value an array or list, equal lengths.

    A column may hold one vector per row (a 2-D array, a list of lists): an embedding feature.
    """
    if not isinstance(rows, Mapping) or not rows:
        return False

    def length(v: Any) -> int:
        if isinstance(v, np.ndarray):
            return len(v) if v.ndim >= 1 else -1
        return len(v) if isinstance(v, list | tuple) else -1

    lengths = {length(v) for v in rows.values()}
    return len(lengths) == 1 and -1 not in lengths


# -- module-level lifecycle (the public functions in agent/__init__ call these) ------------


def init(
    path_or_dict: Any = None, *, testing: TestingHooks | None = None, **overrides: Any
) -> Agent | None:
    """Resolve config and start the agent; idempotent for the same config. Returns None when disabled."""
    settings = resolve(path_or_dict, overrides)
    with _state.LOCK:
        current = _state.AGENT
        if current is not None:
            if _same(current.settings, settings) and testing is None:
                return current
            _shutdown_locked()
        if settings.disabled:
            return None
        agent = Agent(settings, testing)
        try:
            agent.start()
        except BaseException:
            agent.stop()
            raise
        _state.AGENT = agent
        _register_exit_hooks()
        return agent


def _same(a: Settings, b: Settings) -> bool:
    ra, rb = a.redacted(), b.redacted()
    ra["service"].pop("instance_id", None)
    rb["service"].pop("instance_id", None)
    return bool(ra == rb and a.raw == b.raw and a.exporter["headers"] == b.exporter["headers"])


def shutdown() -> None:
    """Flush everything and stop the agent; safe to call twice and at exit."""
    with _state.LOCK:
        _shutdown_locked()


def _shutdown_locked() -> None:
    agent = _state.AGENT
    _state.AGENT = None
    if agent is not None and agent.pid == os.getpid():
        agent.stop()


def _register_exit_hooks() -> None:
    if _state.HOOKS_REGISTERED:
        return
    _state.HOOKS_REGISTERED = True
    atexit.register(shutdown)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _after_fork_in_child() -> None:
    """Pre-fork servers: rebuild pipelines, worker and plugins in the child, as a new instance."""
    agent = _state.AGENT
    if agent is None or agent.pid == os.getpid():
        return
    _state.LOCK = threading.RLock()  # the parent's lock may have been held by another thread at fork
    settings = replace(agent.settings, service={**agent.settings.service, "instance_id": uuid.uuid4().hex})
    try:
        child = Agent(settings, agent.testing)
        child.start()
        _state.AGENT = child
    except Exception:
        _state.AGENT = None  # never break the child process; it runs unmonitored
