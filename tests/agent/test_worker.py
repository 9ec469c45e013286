"""The worker under load and in order: the tick keeps time, per-call metrics stay exact, control ops keep their place.

Counts, not timings, decide these tests: how many calls arrived at a loopback OTLP
receiver, how many ticks ran and how far apart they were on the worker's own clock,
which rows a plugin saw before and after ``set_reference``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent
from agent import ModelInfo, RecordBatch, Signal
from agent._capture import Capture
from agent._jobs import JOB_LIMIT
from agent.testing import capture_telemetry
from tests.agent.conftest import latest_points, make_receiver, start_agent


class TickClock:
    """Records the wall-clock time of every tick and the rows each batch held."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.rows = 0
        self.lock = threading.Lock()

    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        with self.lock:
            self.ticks.append(time.monotonic())

    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        with self.lock:
            self.rows += len(records)


@pytest.mark.timing
def test_sustained_load_keeps_the_tick_on_time_and_call_metrics_exact(tmp_path: Path) -> None:
    calls = 200_000
    interval = 1.0  # the default tick_interval
    with make_receiver("http/protobuf") as rx:
        running = start_agent(rx.endpoint, "http/protobuf", tmp_path,
                              agent_options={"tick_interval": interval, "queue_size": 10_000},
                              models={"load": {"capture": True}})
        clock = TickClock()
        running.host.register(clock, "tick-clock", "test")

        @agent.monitor(model="load")
        def predict(x: dict[str, float]) -> float:
            return x["a"]

        started = time.monotonic()
        row = {"a": 1.0, "b": 2.0, "c": "x"}
        for _ in range(calls):
            predict(row)
        ended = time.monotonic()
        assert agent.flush(60)
        drops = running.drops()
        point = latest_points(rx.wait_for_metric("ml.inference.calls"))
        agent.shutdown()
    total = sum(p.value for p in point.values() if p.attributes.get("ml.model.name") == "load")
    assert total == calls  # every call counted, at any load
    during = [t for t in clock.ticks if started <= t <= ended]
    edges = [started, *during, ended]
    gaps = np.diff(edges)
    assert len(during) >= 1
    assert gaps.max() <= 2 * interval + 0.25, f"tick gaps up to {gaps.max():.2f}s under load"
    # Every capture is either processed or counted as dropped: none vanish.
    assert clock.rows + drops.get("capture", 0) == calls


class OrderRecorder:
    """Remembers, per row it is given, whether the reference had been set yet."""

    def __init__(self) -> None:
        self.reference_rows = 0
        self.seen: list[tuple[float, bool]] = []

    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        self.reference_rows = len(records)

    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        for value in records.columns["a"]:
            self.seen.append((float(value), self.reference_rows > 0))


def test_set_reference_takes_effect_in_order_with_the_calls_around_it() -> None:
    recorder = OrderRecorder()
    with capture_telemetry(register=[("order", recorder)], models={"m": {"capture": True}},
                           agent={"batch_size": 1000}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return x["a"]

        for i in range(500):
            predict({"a": float(i)})
        agent.set_reference("m", [{"a": -1.0}] * 50)
        for i in range(500, 1000):
            predict({"a": float(i)})
        assert tel.flush(30)
    before = [ref for value, ref in recorder.seen if value < 500]
    after = [ref for value, ref in recorder.seen if value >= 500]
    assert len(before) == 500 and not any(before)  # rows made before set_reference were not given it
    assert len(after) == 500 and all(after)  # rows made after it were


def test_flush_returns_after_a_tick_that_saw_everything_queued_before_it() -> None:
    ticks: list[int] = []

    class Counter:
        rows = 0

        def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
            Counter.rows += len(records)

        def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
            ticks.append(Counter.rows)

    with capture_telemetry(register=[("counter", Counter())], models={"m": {"capture": True}},
                           agent={"tick_interval": 3600}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        for _ in range(3_000):
            predict({"a": 1.0})
        result = agent.flush(30)
        assert result and result.pending == ()
        assert ticks[-1] == 3_000  # the last tick before flush returned had seen every row
        assert tel.flush()


def test_flush_without_exporters_waits_for_the_plugins_only(tmp_path: Path) -> None:
    seen: list[int] = []

    class Counter:
        def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
            seen.append(len(records))

    agent.init(exporter={"type": "file"}, metrics={"export_interval": 3600},
               agent={"data_dir": str(tmp_path), "stderr_level": "off"}, models={"m": {"capture": True}},
               plugins={"enabled": [], "entry_points": False})
    try:
        agent.register_plugin(Counter(), name="counter")

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        for _ in range(10):
            predict({"a": 1.0})
        metrics = tmp_path / "telemetry" / "metrics.jsonl"
        result = agent.flush(30, exporters=False)
        assert result and sum(seen) == 10  # the plugins saw every row...
        assert not metrics.exists() or "ml.inference.calls" not in metrics.read_text()  # ...nothing exported
        assert agent.flush(30)
        assert "ml.inference.calls" in metrics.read_text()
    finally:
        agent.shutdown()


def test_flush_reports_what_did_not_finish() -> None:
    release = threading.Event()

    class Slow:
        def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
            release.wait(10)

    with capture_telemetry(register=[("slow", Slow())], models={"m": {"capture": True}}):

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        predict({"a": 1.0})
        result = agent.flush(0.2)
        release.set()
        assert not result and "worker" in result.pending
        assert agent.flush(10)


class Deferring:
    """Defers one job per batch; each job waits for ``release`` and then publishes a Signal."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.ticked = threading.Event()
        self.accepted: list[bool] = []
        self.burst = 1  # jobs deferred per batch
        self.ran = 0
        self.fail_with: BaseException | None = None

    def infersight_configure(self, config: dict[str, Any], agent: Any) -> None:
        self.agent = agent

    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        def work() -> None:
            self.started.set()
            self.release.wait(30)
            if self.fail_with is not None:
                raise self.fail_with
            self.ran += 1
            self.agent.publish([Signal("deferred.done", float(self.ran), {"model": model.name})])

        for _ in range(self.burst):
            self.accepted.append(self.agent.defer(self, "test work", work))

    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        self.ticked.set()


def test_deferred_work_runs_off_the_worker_and_a_flush_waits_for_it() -> None:
    plugin = Deferring()
    with capture_telemetry(register=[("deferring", plugin)], models={"m": {"capture": True}},
                           agent={"tick_interval": 0.05}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        predict({"a": 1.0})
        assert not agent.flush(0.3)  # the deferred job is still waiting: the flush says so
        plugin.ticked.clear()
        assert plugin.ticked.wait(10)  # ...while the worker goes on ticking
        predict({"a": 2.0})  # and on draining: the second batch queues a second job
        plugin.release.set()
        result = agent.flush(30)
        assert result and result.pending == ()
        assert plugin.ran == 2 and plugin.accepted == [True, True]
        assert [s.value for s in tel.signals if s.name == "deferred.done"] == [1.0, 2.0]


def test_deferred_work_is_bounded_and_its_failures_are_contained() -> None:
    plugin = Deferring()
    with capture_telemetry(register=[("deferring", plugin)], models={"m": {"capture": True}},
                           agent={"tick_interval": 3600, "plugin_max_failures": 3}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        predict({"a": 0.0})
        assert not tel.flush(0.05)
        assert plugin.started.wait(10)  # the first job is running; JOB_LIMIT more may wait, the rest are refused
        plugin.burst = JOB_LIMIT + 3
        predict({"a": 1.0})
        assert not tel.flush(0.05)
        assert plugin.accepted == [True] * (1 + JOB_LIMIT) + [False] * 3
        plugin.fail_with = SystemExit(3)  # contained like a hook's failure, counted, the plugin disabled
        plugin.release.set()
        assert agent.flush(30)
        assert plugin.ran == 0
        errors = sum(p.value for p in tel.metric_points("ml.agent.plugin_errors"))
        assert errors == 3  # then disabled: its remaining jobs are skipped
        assert tel.plugin("deferring") is None
        predict({"a": 0.0})
        assert agent.flush(10)  # the worker and the jobs thread survived


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**400), max_value=10**400),
    st.text(max_size=5), st.none(), st.booleans(), st.lists(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_inputs = st.one_of(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), _values, max_size=3),
    st.lists(st.dictionaries(st.sampled_from(["a", "b"]), _values, max_size=2), max_size=3),
    st.lists(st.lists(_values, min_size=2, max_size=2), max_size=3),
    _values,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_inputs, min_size=1, max_size=12))
def test_a_bad_row_is_skipped_alone_never_its_batch(inputs: list[Any]) -> None:
    """Good rows from other calls survive whatever else is in the batch (fuzzed batch assembly)."""
    from agent._worker import Worker

    model = ModelInfo(name="m", capture=True)
    good = [Capture(model, f"good-{i}", 0.0, {"a": float(i), "b": 1.0}, 0.5, 0, 0) for i in range(5)]
    odd = [Capture(model, f"odd-{i}", 0.0, x, None, 0, 0) for i, x in enumerate(inputs)]
    caps = [c for pair in zip(good, odd, strict=False) for c in pair] + good[len(odd):] + odd[len(good):]
    worker = Worker.__new__(Worker)
    batches = Worker._batches(worker, caps)
    seen = {pid for batch, _ in batches if batch is not None for pid in batch.prediction_ids}
    assert {c.prediction_id for c in good} <= seen
