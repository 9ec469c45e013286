"""Process and system metrics: semantic-convention names, units and values, with psutil and without."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.semconv._incubating.metrics import (
    cpython_metrics,
    hw_metrics,
    process_metrics,
    system_metrics,
)

from plugins.health import names as n
from plugins.health import system as system_module
from plugins.health.system import (
    SystemMetrics,
    cpu_mode_utilization,
    read_memory,
    read_process,
    read_system_cpu_times,
    register_system_metrics,
)
from tests.plugins.health.conftest import collect, metric_points

HAS_PROC = Path("/proc/self/statm").exists()


def _register(provider: MeterProvider, tmp_path: Path, *, use_psutil: bool) -> tuple[SystemMetrics, list[str]]:
    errors: list[str] = []
    sm = register_system_metrics(provider.get_meter("t"), data_dir=tmp_path,
                                 on_error=lambda name, exc: errors.append(f"{name}: {exc}"),
                                 use_psutil=use_psutil)  # fmt: skip
    return sm, errors


def _let_cpu_clock_tick() -> None:
    """Spin until the kernel's cumulative CPU counters advance (they tick at USER_HZ, often 100/s).

    Utilisation is a delta between collections; a collection right after registration
    may see no tick yet, and then reports nothing for that interval (by design).
    """
    start = read_system_cpu_times(None) or read_system_cpu_times(psutil)
    deadline = time.monotonic() + 2.0
    while (read_system_cpu_times(None) or read_system_cpu_times(psutil)) == start and time.monotonic() < deadline:
        pass


def test_names_are_the_current_semantic_conventions() -> None:
    assert n.PROCESS_CPU_TIME == process_metrics.PROCESS_CPU_TIME
    assert n.PROCESS_CPU_UTILIZATION == process_metrics.PROCESS_CPU_UTILIZATION
    assert n.PROCESS_MEMORY_USAGE == process_metrics.PROCESS_MEMORY_USAGE
    assert n.PROCESS_MEMORY_VIRTUAL == process_metrics.PROCESS_MEMORY_VIRTUAL
    # the older process.open_file_descriptor.count is deprecated in favour of this one
    assert n.PROCESS_FD_COUNT == process_metrics.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT
    assert n.PROCESS_THREAD_COUNT == process_metrics.PROCESS_THREAD_COUNT
    assert n.CPYTHON_GC_COLLECTIONS == cpython_metrics.CPYTHON_GC_COLLECTIONS
    assert n.CPYTHON_GC_COLLECTED == cpython_metrics.CPYTHON_GC_COLLECTED_OBJECTS
    assert n.CPYTHON_GC_UNCOLLECTABLE == cpython_metrics.CPYTHON_GC_UNCOLLECTABLE_OBJECTS
    assert n.SYSTEM_CPU_UTILIZATION == system_metrics.SYSTEM_CPU_UTILIZATION
    assert n.SYSTEM_MEMORY_USAGE == system_metrics.SYSTEM_MEMORY_USAGE
    assert n.SYSTEM_MEMORY_LIMIT == system_metrics.SYSTEM_MEMORY_LIMIT
    assert n.SYSTEM_MEMORY_UTILIZATION == system_metrics.SYSTEM_MEMORY_UTILIZATION
    assert n.SYSTEM_FILESYSTEM_USAGE == system_metrics.SYSTEM_FILESYSTEM_USAGE
    assert n.SYSTEM_FILESYSTEM_UTILIZATION == system_metrics.SYSTEM_FILESYSTEM_UTILIZATION
    assert n.HW_GPU_UTILIZATION == hw_metrics.HW_GPU_UTILIZATION
    assert n.HW_GPU_MEMORY_USAGE == hw_metrics.HW_GPU_MEMORY_USAGE
    assert n.HW_GPU_MEMORY_LIMIT == hw_metrics.HW_GPU_MEMORY_LIMIT
    assert n.HW_GPU_MEMORY_UTILIZATION == hw_metrics.HW_GPU_MEMORY_UTILIZATION
    assert n.HW_TEMPERATURE == hw_metrics.HW_TEMPERATURE


@pytest.mark.parametrize("use_psutil", [True, False], ids=["psutil", "fallback"])
def test_process_and_system_metrics_arrive_through_a_reader(
    tmp_path: Path, provider: MeterProvider, reader: InMemoryMetricReader, use_psutil: bool
) -> None:
    if not use_psutil and not HAS_PROC:
        pytest.skip("the /proc fallback needs Linux")
    sm, errors = _register(provider, tmp_path, use_psutil=use_psutil)
    try:
        _let_cpu_clock_tick()
        metrics = collect(reader)
    finally:
        sm.close()
    assert errors == []
    assert sm.backend == ("psutil" if use_psutil else "proc")
    expected = {
        n.PROCESS_CPU_TIME: "s", n.PROCESS_CPU_UTILIZATION: "1", n.PROCESS_MEMORY_USAGE: "By",
        n.PROCESS_MEMORY_VIRTUAL: "By", n.PROCESS_FD_COUNT: "{file_descriptor}",
        n.PROCESS_THREAD_COUNT: "{thread}", n.CPYTHON_GC_COLLECTIONS: "{collection}",
        n.CPYTHON_GC_COLLECTED: "{object}", n.CPYTHON_GC_UNCOLLECTABLE: "{object}", n.GC_PAUSE_TIME: "s",
        n.SYSTEM_CPU_UTILIZATION: "1", n.SYSTEM_MEMORY_USAGE: "By", n.SYSTEM_MEMORY_LIMIT: "By",
        n.SYSTEM_MEMORY_UTILIZATION: "1", n.SYSTEM_FILESYSTEM_USAGE: "By", n.SYSTEM_FILESYSTEM_UTILIZATION: "1",
    }  # fmt: skip
    assert {name: metrics[name].unit if name in metrics else None for name in expected} == expected
    points = {name: list(m.data.data_points) for name, m in metrics.items()}

    me = psutil.Process()
    [rss] = points[n.PROCESS_MEMORY_USAGE]
    assert 0.5 < rss.value / me.memory_info().rss < 2.0
    [threads] = points[n.PROCESS_THREAD_COUNT]
    assert threads.value == me.num_threads()
    [fds] = points[n.PROCESS_FD_COUNT]
    assert abs(fds.value - me.num_fds()) <= 2  # listing /proc/self/fd opens one itself
    cpu_modes = {p.attributes[n.ATTR_CPU_MODE] for p in points[n.PROCESS_CPU_TIME]}
    assert cpu_modes == {"user", "system"}
    gens = sorted(p.attributes[n.ATTR_GC_GENERATION] for p in points[n.CPYTHON_GC_COLLECTIONS])
    assert gens == [0, 1, 2]
    mem_states = {p.attributes[n.ATTR_MEMORY_STATE]: p.value for p in points[n.SYSTEM_MEMORY_USAGE]}
    [limit] = points[n.SYSTEM_MEMORY_LIMIT]
    assert sum(mem_states.values()) == limit.value  # semconv: states add up to the limit
    fs = {p.attributes[n.ATTR_FS_STATE] for p in points[n.SYSTEM_FILESYSTEM_USAGE]}
    assert fs == {"used", "free", "reserved"}
    [util] = points[n.SYSTEM_MEMORY_UTILIZATION]
    assert 0.0 < util.value < 1.0


def test_cpu_utilisation_reflects_work_done_between_collections(
    tmp_path: Path, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    sm, _ = _register(provider, tmp_path, use_psutil=True)
    try:
        metric_points(reader)  # first collection sets the baseline
        x = 0
        for i in range(2_000_000):  # ~0.1 s of pure-Python CPU work on this thread
            x += i
        _let_cpu_clock_tick()
        points = metric_points(reader)
    finally:
        sm.close()
    busy = sum(p.value for p in points[n.PROCESS_CPU_UTILIZATION])
    assert busy > 0.0
    sys_modes = {p.attributes[n.ATTR_CPU_MODE]: p.value for p in points[n.SYSTEM_CPU_UTILIZATION]}
    assert sum(sys_modes.values()) == pytest.approx(1.0)
    assert {"user", "system", "idle"} <= set(sys_modes)


def test_gc_pause_time_accumulates_when_collections_run(
    tmp_path: Path, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    sm, _ = _register(provider, tmp_path, use_psutil=True)
    try:
        junk = [[i] for i in range(50_000)]
        gc.collect(2)
        del junk
        points = metric_points(reader)
    finally:
        sm.close()
    pauses = {p.attributes[n.ATTR_GC_GENERATION]: p.value for p in points[n.GC_PAUSE_TIME]}
    assert pauses[2] > 0.0


def test_a_failing_reader_reports_once_and_leaves_other_metrics_alone(
    tmp_path: Path, provider: MeterProvider, reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm, errors = _register(provider, tmp_path, use_psutil=True)

    def broken() -> None:
        raise OSError("statvfs failed")

    monkeypatch.setattr(sm, "_fs_states", broken)
    try:
        points = metric_points(reader)
    finally:
        sm.close()
    assert n.SYSTEM_FILESYSTEM_USAGE not in points
    assert n.PROCESS_MEMORY_USAGE in points
    assert any(e.startswith(n.SYSTEM_FILESYSTEM_USAGE) for e in errors)


def test_readings_happen_only_when_a_reader_collects_on_its_thread(
    tmp_path: Path, provider: MeterProvider, reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = system_module.read_process

    def spy(ps: object = None) -> system_module.ProcessSample:
        seen.append(threading.current_thread().name)
        return real(ps)  # type: ignore[arg-type]

    monkeypatch.setattr(system_module, "read_process", spy)
    sm, _ = _register(provider, tmp_path, use_psutil=True)
    try:
        assert seen == []  # registering reads nothing
        collector = threading.Thread(target=lambda: metric_points(reader), name="exporter")
        collector.start()
        collector.join()
    finally:
        sm.close()
    assert seen and set(seen) == {"exporter"}


def test_cpu_mode_utilization_is_the_share_of_each_mode() -> None:
    prev = {"user": 10.0, "system": 5.0, "idle": 85.0}
    cur = {"user": 13.0, "system": 6.0, "idle": 91.0}
    assert cpu_mode_utilization(prev, cur) == pytest.approx({"user": 0.3, "system": 0.1, "idle": 0.6})
    assert cpu_mode_utilization(cur, cur) == {}


@pytest.mark.skipif(not HAS_PROC, reason="the /proc fallback needs Linux")
def test_proc_fallback_agrees_with_psutil() -> None:
    fallback, real = read_process(None), read_process(psutil)
    # a thread from an earlier test may still be exiting between the two reads
    assert fallback.threads is not None and real.threads is not None
    assert abs(fallback.threads - real.threads) <= 1
    assert fallback.rss is not None and real.rss is not None and 0.5 < fallback.rss / real.rss < 2.0
    mem_fallback, mem_real = read_memory(None), read_memory(psutil)
    assert mem_fallback is not None and mem_real is not None
    assert mem_fallback["total"] == mem_real["total"]
    cpu = read_system_cpu_times(None)
    assert cpu is not None and set(cpu) >= {"user", "system", "idle"}
    assert os.cpu_count()
