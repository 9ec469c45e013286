"""The agent never hurts the model: a dead or stuck collector, a full queue, a slow plugin, many threads.

Wall-time bounds here are hang detectors, set far above normal run times; they are
not performance assertions (benchmarks/ measures overhead).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import agent
from agent.testing import capture_telemetry
from tests.agent import blocking_plugin
from tests.agent.conftest import Protocol, latest_points, make_receiver, running_agent, start_agent
from tests.support.otlp import OTLPHttpReceiver, closed_port

MODEL = "churn"
HANG_BOUND_S = 30.0  # 5,000 calls take well under a second; only a hot path that waits on I/O gets near this
SHUTDOWN_TIMEOUT_S = 1.0  # keeps teardown short where shutdown time is not what the test checks
BOUNDED_TIMEOUT_S = 2.0  # flush/shutdown budget where it is: far enough from 1 s that a doubled wait shows
MARGIN_S = 1.0  # thread start/join and scheduling on a loaded 2-core CI runner


def double(row: dict[str, float]) -> float:
    """The model: doubles feature ``x``."""
    return row["x"] * 2


@pytest.fixture(params=["down", "hang"])
def collector(request: pytest.FixtureRequest, protocol: Protocol) -> Iterator[str]:
    """The endpoint of a collector that is down (closed port) or stuck (accepts, never answers)."""
    if request.param == "down":
        yield f"http://127.0.0.1:{closed_port()}"
        agent.shutdown()
        return
    with make_receiver(protocol, "hang") as rx:
        yield rx.endpoint
        agent.shutdown()  # before the receiver releases its held requests


def start_against(endpoint: str, protocol: Protocol, tmp_path: Path, **agent_options: Any) -> None:
    options = {"shutdown_timeout": SHUTDOWN_TIMEOUT_S, **agent_options}
    start_agent(
        endpoint,
        protocol,
        tmp_path,
        timeout=2.0,
        agent_options=options,
        models={MODEL: {"version": "1", "capture": True}},
    )


def test_calls_return_promptly_when_collector_is_unreachable(
    collector: str, protocol: Protocol, tmp_path: Path
) -> None:
    start_against(collector, protocol, tmp_path)
    predict = agent.monitor(MODEL)(double)

    started = time.perf_counter()
    results = [predict({"x": float(i)}) for i in range(5_000)]
    elapsed = time.perf_counter() - started

    assert results == [2.0 * i for i in range(5_000)]
    assert elapsed < HANG_BOUND_S


@pytest.mark.timing
def test_flush_and_shutdown_keep_their_timeouts_when_collector_hangs(protocol: Protocol, tmp_path: Path) -> None:
    with make_receiver(protocol, "hang") as rx:
        start_against(rx.endpoint, protocol, tmp_path, shutdown_timeout=BOUNDED_TIMEOUT_S)
        predict = agent.monitor(MODEL)(double)
        for i in range(1_000):  # more than one span batch, so an export is already stuck
            predict({"x": float(i)})
        rx.wait_for(lambda: rx.received)

        started = time.perf_counter()
        flushed = agent.flush(timeout=BOUNDED_TIMEOUT_S)
        flush_s = time.perf_counter() - started
        started = time.perf_counter()
        agent.shutdown()
        shutdown_s = time.perf_counter() - started

    assert not flushed  # nothing could be delivered, and flush says so
    assert flush_s < BOUNDED_TIMEOUT_S + MARGIN_S
    assert not agent.is_running()
    assert shutdown_s < BOUNDED_TIMEOUT_S + MARGIN_S


def test_export_failures_are_counted_when_collector_is_down(protocol: Protocol) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with capture_telemetry(
        exporter={"type": "otlp", "endpoint": endpoint, "protocol": protocol, "timeout": 0.5},
        agent={"shutdown_timeout": SHUTDOWN_TIMEOUT_S},
        models={MODEL: {"version": "1"}},
    ) as tel:
        predict = agent.monitor(MODEL)(double)
        assert predict({"x": 1.0}) == 2.0
        tel.flush()

        assert running_agent().pipelines.failures.total("traces") > 0
        failures = {p.attributes["signal"]: p.value for p in tel.metric_points("ml.agent.export_failures")}
        assert failures["traces"] is not None and failures["traces"] > 0
        assert len(tel.spans()) == 1  # the in-memory pipeline still got the span


def test_spans_dropped_by_a_full_export_queue_are_counted(tmp_path: Path) -> None:
    with OTLPHttpReceiver(mode="hang") as rx:
        running = start_agent(
            rx.endpoint,
            "http/protobuf",
            tmp_path,
            agent_options={"shutdown_timeout": SHUTDOWN_TIMEOUT_S},
            models={MODEL: {"version": "1"}},
        )
        predict = agent.monitor(MODEL)(double)
        for i in range(12_000):  # the first export hangs, so at most 8192 queued + 512 in flight can leave
            predict({"x": float(i)})
        dropped = running.drops()
        agent.shutdown()
    assert dropped.get("spans", 0) >= 12_000 - 8192 - 512 * 4


def test_full_capture_queue_drops_and_counts_while_a_plugin_blocks(tmp_path: Path) -> None:
    with OTLPHttpReceiver() as rx:
        running = start_agent(
            rx.endpoint,
            "http/protobuf",
            tmp_path,
            agent_options={"queue_size": 10},
            models={MODEL: {"version": "1", "capture": True}},
            plugins={"enabled": [], "entry_points": False, "paths": ["tests.agent.blocking_plugin"]},
        )
        plugin = blocking_plugin.INSTANCES[-1]
        predict = agent.monitor(MODEL)(double)
        try:
            assert predict({"x": 0.0}) == 0.0
            assert plugin.entered.wait(10), "the worker never reached the plugin"
            started = time.perf_counter()
            results = [predict({"x": float(i)}) for i in range(1, 101)]
            assert time.perf_counter() - started < HANG_BOUND_S
            assert results == [2.0 * i for i in range(1, 101)]
            assert running.drops() == {"capture": 90}  # 10 queued behind the stuck worker, 90 dropped
        finally:
            plugin.release.set()
        assert agent.flush()

        dropped = latest_points(rx.wait_for_metric("ml.agent.dropped"))
        assert {dict(k)["reason"]: p.value for k, p in dropped.items()} == {"capture": 90}
        assert plugin.rows == 11
        (calls,) = latest_points(rx.metric_points("ml.inference.calls")).values()
        assert calls.value == 101  # stats are never dropped with the captures
        agent.shutdown()


def test_memory_stays_bounded_over_100k_calls_with_collector_stuck(tmp_path: Path) -> None:
    # RSS, not tracemalloc: tracing every allocation makes 100k calls take ~20 s, over this file's budget.
    # A stuck collector is the worst case: every exporter queue fills up and stays full.
    with OTLPHttpReceiver(mode="hang") as rx:
        start_agent(
            rx.endpoint,
            "http/protobuf",
            tmp_path,
            timeout=2.0,
            agent_options={"queue_size": 100, "shutdown_timeout": SHUTDOWN_TIMEOUT_S},
            models={MODEL: {"version": "1", "capture": True}},
        )
        predict = agent.monitor(MODEL)(lambda row: sum(row.values()))
        row = {f"f{i}": float(i) for i in range(20)}  # a leaked capture would cost ~1.5 KB a call: 120 MB
        process = psutil.Process()

        for _ in range(20_000):
            predict(row)
        gc.collect()
        baseline = process.memory_info().rss
        for _ in range(80_000):
            predict(row)
        gc.collect()
        growth = process.memory_info().rss - baseline

        assert growth < 20 * 1024 * 1024, f"RSS grew {growth / 1e6:.1f} MB between 20k and 100k calls"
        assert predict(row) == sum(row.values())
        assert running_agent().drops()["capture"] > 0  # the small capture queue overflowed and said so
        agent.shutdown()


def test_threads_and_tasks_yield_exactly_one_span_and_count_per_call() -> None:
    with capture_telemetry(models={MODEL: {"version": "1"}}) as tel:
        predict = agent.monitor(MODEL)(double)

        @agent.monitor(MODEL)
        async def apredict(row: dict[str, float]) -> float:
            await asyncio.sleep(0)  # every task suspends inside its span, interleaving with the others
            return row["x"] * 3

        barrier = threading.Barrier(8)
        results: dict[int, list[float]] = {}

        def work(k: int) -> None:
            barrier.wait()
            results[k] = [predict({"x": float(k * 1000 + i)}) for i in range(1000)]

        async def tasks() -> list[float]:
            return list(await asyncio.gather(*(apredict({"x": float(i)}) for i in range(1000))))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        async_results = asyncio.run(tasks())
        for t in threads:
            t.join(HANG_BOUND_S)
        assert not any(t.is_alive() for t in threads)
        assert tel.flush()

        assert async_results == [3.0 * i for i in range(1000)]
        assert results == {k: [2.0 * (k * 1000 + i) for i in range(1000)] for k in range(8)}
        spans = tel.spans()
        assert len(spans) == 9000
        assert len({(s.attributes or {})["ml.prediction.id"] for s in spans}) == 9000
        assert all(s.parent is None for s in spans)  # no task or thread leaked its span into another
        (calls,) = tel.metric_points("ml.inference.calls")
        assert calls.value == 9000
        (duration,) = tel.metric_points("ml.inference.duration")
        assert duration.count == 9000
