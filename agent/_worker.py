"""The background worker: drains the hot path's queues, feeds plugins, ticks the signal pipeline.

One daemon thread per agent. Captures and control operations (reference data,
feedback, artifacts, flush markers) share ONE FIFO queue, so a control operation takes
effect in the order the application made it relative to the calls around it. Each
cycle is bounded in time (``_slice``, cut short when the tick falls due): the worker
drains call stats into the OpenTelemetry instruments, works through the queue until the
slice is spent (normalising captures into RecordBatches per model for
``infersight_process_records``), drains stats again, and runs the tick when ``tick_interval`` has passed. So under
overload the tick keeps its interval and per-call metrics stay exact; it is captures
that wait, and once the queue is full the hot path drops them (counted). The hot path
never signals the worker (setting an Event would take a lock): an idle worker polls
every ``POLL`` seconds, a busy one does not sleep.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from agent._capture import Capture, build_batch
from agent._errors import describe_exception
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from agent.semconv import (
    ATTR_ERROR_TYPE,
    ATTR_MODEL_NAME,
    ATTR_MODEL_VERSION,
    SIGNAL_ERROR_RATE,
    SIGNAL_LATENCY_P50,
    SIGNAL_LATENCY_P95,
    SIGNAL_LATENCY_P99,
    SIGNAL_THROUGHPUT,
)

if TYPE_CHECKING:
    from agent._agent import Agent

POLL = 0.05
_MAX_SLICE = 0.25  # seconds of queue work per cycle at most; the tick and stats come between slices
_MAX_ERROR_TYPES = 20  # bounded cardinality of error.type; the rest become "_OTHER" (OTel semconv)
_SAMPLE_PER_TICK = 2048


@dataclass
class _TickStats:
    """One tick's numbers for one model, kept for the signal window."""

    t: float
    calls: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)


@dataclass(slots=True)
class _Flush:
    """A flush marker: set ``done`` once everything queued before it is processed (``complete``: in time)."""

    deadline: float  # time.monotonic() after which the caller no longer waits
    done: threading.Event = field(default_factory=threading.Event)
    complete: bool = True


class _ModelStats:
    """Per-model aggregation state owned by the worker thread."""

    def __init__(self, info: ModelInfo, queue: deque[tuple[float, str | None, int]]) -> None:
        self.info = info
        self.queue = queue
        self.attrs = {ATTR_MODEL_NAME: info.name, ATTR_MODEL_VERSION: info.version}
        self.error_attrs: dict[str, dict[str, str]] = {}
        self.window: deque[_TickStats] = deque()
        self.current = _TickStats(time.time())

    def error_attributes(self, etype: str) -> dict[str, str]:
        attrs = self.error_attrs.get(etype)
        if attrs is None:
            if len(self.error_attrs) >= _MAX_ERROR_TYPES:
                etype = "_OTHER"
            attrs = self.error_attrs.setdefault(etype, {**self.attrs, ATTR_ERROR_TYPE: etype})
        return attrs


class Worker:
    """Owns the worker thread; all plugin data hooks run on it."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        # The one ordered queue the hot path and the control operations share (agent.captures).
        self.queue: deque[Any] = agent.captures
        self._models: dict[tuple[str, str], _ModelStats] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = 0.0
        self._batch_size = agent.settings.agent["batch_size"]
        self._tick_interval = agent.settings.agent["tick_interval"]
        self._window_s = agent.settings.agent["signal_window"]
        self._slice = min(_MAX_SLICE, self._tick_interval / 2)
        self.ticks = 0
        self.clock: Callable[[], float] = time.time

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start the daemon thread (the first tick comes one ``tick_interval`` later, or at a flush)."""
        self._last_tick = self.clock()
        self._thread = threading.Thread(target=self._run, name="infersight-worker", daemon=True)
        self._thread.start()

    def track(self, info: ModelInfo, queue: deque[tuple[float, str | None, int]]) -> None:
        """Start aggregating the stats queue of a (model, version)."""
        self._models[info.key] = _ModelStats(info, queue)

    def submit(self, kind: str, payload: Any) -> None:
        """Queue a control operation behind every capture queued before it (any thread)."""
        self.queue.append((kind, payload))

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call is processed and a tick has run; False on timeout."""
        if self._thread is None or not self._thread.is_alive():
            return False
        marker = _Flush(time.monotonic() + timeout)
        self.submit("flush", marker)
        self._wake.set()
        return marker.done.wait(timeout) and marker.complete

    def stop(self, timeout: float) -> None:
        """Drain, call ``infersight_shutdown`` on the worker thread, and stop (bounded by ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- loop ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.queue:
                self._wake.wait(POLL)
                self._wake.clear()
            self._guarded(self._cycle)
        deadline = time.monotonic() + max(self._slice, 1.0)
        while self.queue and time.monotonic() < deadline:  # what was queued before shutdown, bounded
            self._guarded(self._cycle)
        self.agent.jobs.stop(max(0.0, deadline - time.monotonic()))
        self._guarded(lambda: self._cycle(force_tick=True))
        self._guarded(lambda: self.agent.host.call("infersight_shutdown", agent=self.agent.context))
        self._release_flushes()

    def _guarded(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except BaseException as exc:  # the worker must survive anything, SystemExit included
            if sys.is_finalizing():
                raise
            self.agent.count_drop("worker_error")
            try:
                self.agent.log.error("ml.agent.worker_error", error=describe_exception(exc))
            except Exception:
                pass

    def _cycle(self, force_tick: bool = False) -> None:
        flushes: list[_Flush] = []
        # The slice ends early when the tick falls due, so the tick waits for one batch at most.
        until_tick = self._tick_interval - (self.clock() - self._last_tick)
        deadline = time.monotonic() + max(0.0, min(self._slice, until_tick))
        self._drain_stats()
        self._drain_queue(deadline, flushes)
        self._drain_stats()
        settle_until = max((f.deadline for f in flushes), default=None)
        now = self.clock()
        if force_tick or flushes or now - self._last_tick >= self._tick_interval:
            self._last_tick = now
            self.ticks += 1
            # A flush's tick waits for the plugins' deferred work (window tests) queued before it.
            complete = self._tick(now, settle_until)
            for f in flushes:
                f.complete = complete
        for f in flushes:
            f.done.set()

    def _release_flushes(self) -> None:
        while self.queue:
            item = self.queue.popleft()
            if type(item) is tuple and item[0] == "flush":
                item[1].done.set()

    # -- stats --------------------------------------------------------------------

    def _drain_stats(self) -> None:
        inst = self.agent.instruments
        for ms in list(self._models.values()):
            q = ms.queue
            n = len(q)
            if not n:
                continue
            calls = rows = 0
            errors: dict[str, int] = {}
            cur = ms.current
            durations: list[float] = []
            for _ in range(n):
                duration, etype, nrows = q.popleft()
                durations.append(duration)
                calls += 1
                rows += nrows
                if etype is not None:
                    errors[etype] = errors.get(etype, 0) + 1
                if len(cur.durations) < _SAMPLE_PER_TICK:
                    cur.durations.append(duration)
            if self.agent.latency_native:
                self.agent.latency.record_many(ms.attrs, np.asarray(durations, dtype=np.float64))
            else:
                self.agent.duration_recorder.record_many(ms.attrs, durations)
            inst.calls.add(calls, ms.attrs)
            inst.rows.add(rows, ms.attrs)
            for etype, count in errors.items():
                inst.errors.add(count, ms.error_attributes(etype))
            cur.calls += calls
            cur.errors += sum(errors.values())

    def _model_signals(self, now: float) -> list[Signal]:
        out: list[Signal] = []
        for ms in self._models.values():
            ms.window.append(ms.current)
            ms.current = _TickStats(now)
            while ms.window and ms.window[0].t < now - self._window_s:
                ms.window.popleft()
            calls = sum(t.calls for t in ms.window)
            if not calls:
                continue
            errors = sum(t.errors for t in ms.window)
            span = max(now - ms.window[0].t, self._tick_interval)
            labels = {"model": ms.info.name, "version": ms.info.version}
            durations = np.fromiter((d for t in ms.window for d in t.durations), dtype=np.float64)
            details = {"calls": calls, "errors": errors, "window_seconds": round(span, 3)}
            out.append(Signal(SIGNAL_ERROR_RATE, errors / calls, labels, details, now))
            out.append(Signal(SIGNAL_THROUGHPUT, calls / span, labels, details, now))
            if durations.size:
                p50, p95, p99 = np.quantile(durations, [0.5, 0.95, 0.99])
                out.append(Signal(SIGNAL_LATENCY_P50, float(p50), labels, details, now))
                out.append(Signal(SIGNAL_LATENCY_P95, float(p95), labels, details, now))
                out.append(Signal(SIGNAL_LATENCY_P99, float(p99), labels, details, now))
        return out

    # -- captures and control -------------------------------------------------------

    def _drain_queue(self, deadline: float, flushes: list[_Flush]) -> None:
        """Work through the queue in order until it is empty, a flush marker is reached, or ``deadline``."""
        q = self.queue
        chunk: dict[tuple[str, str], list[Capture]] = {}
        count = 0
        while q:
            item = q.popleft()  # the worker is the only consumer
            if type(item) is Capture:
                chunk.setdefault(item.model.key, []).append(item)
                count += 1
                if count >= self._batch_size:
                    self._process(chunk)
                    chunk, count = {}, 0
                    if time.monotonic() >= deadline:
                        break
                continue
            if chunk:  # captures queued before a control operation are processed before it
                self._process(chunk)
                chunk, count = {}, 0
            kind, payload = item
            if kind == "flush":
                flushes.append(payload)
                break
            self._handle_control(kind, payload)
            if time.monotonic() >= deadline:
                break
        if chunk:
            self._process(chunk)

    def _process(self, chunk: dict[tuple[str, str], list[Capture]]) -> None:
        for caps in chunk.values():
            model = caps[0].model
            for batch, bad in self._batches(caps):
                for reason, count in bad.items():
                    self.agent.instruments.unprocessable.add(count, {ATTR_MODEL_NAME: model.name, "reason": reason})
                if batch is not None:
                    self.agent.host.call("infersight_process_records", model=model, records=batch)

    def _batches(self, caps: list[Capture]) -> list[tuple[RecordBatch | None, dict[str, int]]]:
        """Build the batch; when assembling it fails, bisect so only the offending rows are lost (counted)."""
        try:
            return [build_batch(caps)]
        except Exception as exc:
            if len(caps) == 1:
                return [(None, {f"malformed {type(exc).__name__}": 1})]
        mid = len(caps) // 2
        return self._batches(caps[:mid]) + self._batches(caps[mid:])

    def _handle_control(self, kind: str, payload: Any) -> None:
        host = self.agent.host
        if kind == "reference":
            model, batch = payload
            assert isinstance(batch, RecordBatch)
            host.call("infersight_set_reference", model=model, records=batch)
        elif kind == "feedback":
            events: list[FeedbackEvent] = [payload]
            q = self.queue
            while q and type(q[0]) is tuple and q[0][0] == "feedback" and len(events) < self._batch_size:
                events.append(q.popleft()[1])
            by_model: dict[str, list[FeedbackEvent]] = {}
            for ev in events:
                by_model.setdefault(ev.model or "", []).append(ev)
            for name, evs in by_model.items():
                host.call("infersight_process_feedback", model=self.agent.context.model(name), events=evs)
        elif kind == "training":
            model, training = payload
            host.call("infersight_training_recorded", model=model, training=training)
        elif kind == "artifact":
            model, identity = payload
            host.call("infersight_artifact_recorded", model=model, artifact=identity)
        elif kind == "call":
            payload()

    # -- tick -----------------------------------------------------------------------

    def _tick(self, now: float, settle_until: float | None = None) -> bool:
        """Collect and hand on this tick's Signals; with ``settle_until`` (a flush), wait for deferred work first.

        Returns False when deferred work was still running at ``settle_until``.
        """
        signals = self._model_signals(now)
        signals.extend(self.agent.operational_signals(now))
        for info in list(self.agent.context.models.values()):
            for result in self.agent.host.call("infersight_collect_signals", model=info, now=now):
                if isinstance(result, list):
                    signals.extend(s for s in result if isinstance(s, Signal))
        settled = True
        if settle_until is not None:  # windows this tick closed are tested now; their Signals join this tick
            settled = self.agent.jobs.wait_idle(max(0.0, settle_until - time.monotonic()))
        signals.extend(self.agent.context.take_published())
        # Every tick, even with no signals: the alert engine advances timers (no-data, repeats,
        # delayed resolves, Alertmanager re-posts) on ticks too.
        self.agent.host.call("infersight_handle_signals", signals=signals, now=now)
        return settled
