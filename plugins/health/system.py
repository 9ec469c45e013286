"""Process and system metrics with OpenTelemetry semantic-convention names, read at export time.

Every instrument is observable: its callback runs when a metric reader collects
(the periodic exporter's thread), so nothing here touches the model's hot path. The
one exception is GC pause timing, which must be measured as it happens: a
``gc.callbacks`` hook stores two ``perf_counter`` readings per collection. Measured
at about 0.5-0.7 µs per collection (CPython builds an info dict and calls the hook
twice), i.e. +3-4 % on a synthetic loop that triggers a collection every ~70 calls
of a microsecond each, and nothing measurable on calls that take milliseconds;
``[health] gc_pauses = false`` turns it off.

Why not ``opentelemetry-instrumentation-system-metrics`` (on PyPI, not a dependency):
it requires psutil with no fallback, its instrumentor is a process-wide singleton (one
``instrument()`` per process, so a second ``agent.init`` with a new MeterProvider
cannot re-register without ``uninstrument``), it is a beta release pinned in
lock-step to the SDK version (one more constraint on users' environments), it still
emits legacy names (``process.runtime.cpython.*``) beside the current ones, measures
no GC pauses and no GPU, and by default observes every network interface and disk.
The dozen instruments below cost less than that dependency, follow the current names,
and fall back to ``/proc`` and ``os`` when psutil is absent.

Readers: psutil when importable, else Linux ``/proc``, else only what ``os`` and
``gc`` give on every platform (CPU time, GC, filesystem). Utilisation gauges divide
the change since the previous collection by the elapsed time; with several readers
the interval is the time since any reader last collected.
"""

from __future__ import annotations

import functools
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from plugins.health import names as n

__all__ = [
    "GcPauseTimer",
    "ProcessSample",
    "SystemMetrics",
    "cpu_mode_utilization",
    "read_memory",
    "read_process",
    "read_system_cpu_times",
    "register_system_metrics",
]

_PROC = Path("/proc")
_Callback = Callable[[CallbackOptions], Iterable[Observation]]


@functools.cache
def psutil_module() -> ModuleType | None:
    """psutil when installed (the ``health`` extra), else None."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of the process: resident and virtual memory (bytes), open fds, threads (None: unknown)."""

    rss: int | None
    vms: int | None
    fds: int | None
    threads: int | None


def read_process(psutil: ModuleType | None = None) -> ProcessSample:
    """Read this process's memory, fd and thread counts from psutil, else /proc, else leave them unknown."""
    if psutil is not None:
        proc = psutil.Process()
        with proc.oneshot():
            mem = proc.memory_info()
            fds = proc.num_fds() if hasattr(proc, "num_fds") else None
            return ProcessSample(int(mem.rss), int(mem.vms), fds, int(proc.num_threads()))
    rss = vms = fds = threads = None
    statm = _PROC / "self" / "statm"
    if statm.exists():
        page = os.sysconf("SC_PAGE_SIZE")
        size, resident = statm.read_text().split()[:2]
        vms, rss = int(size) * page, int(resident) * page
        fds = len(os.listdir(_PROC / "self" / "fd"))
        for line in (_PROC / "self" / "status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    return ProcessSample(rss, vms, fds, threads)


# /proc/stat column order; irq and softirq are both the semconv ``interrupt`` mode.
_STAT_MODES = ("user", "nice", "system", "idle", "iowait", "interrupt", "interrupt", "steal")


def read_system_cpu_times(psutil: ModuleType | None = None) -> dict[str, float] | None:
    """Cumulative seconds all CPUs spent per semconv ``cpu.mode``; None when the platform hides them."""
    if psutil is not None:
        t = psutil.cpu_times()._asdict()
        out: dict[str, float] = {}
        for field, mode in (("user", "user"), ("nice", "nice"), ("system", "system"), ("idle", "idle"),
                            ("iowait", "iowait"), ("irq", "interrupt"), ("softirq", "interrupt"),
                            ("steal", "steal")):
            if field in t:
                out[mode] = out.get(mode, 0.0) + float(t[field])
        return out
    stat = _PROC / "stat"
    if not stat.exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    fields = stat.read_text().splitlines()[0].split()[1:]
    out = {}
    for mode, value in zip(_STAT_MODES, fields, strict=False):
        out[mode] = out.get(mode, 0.0) + int(value) / ticks
    return out


def cpu_mode_utilization(prev: Mapping[str, float], cur: Mapping[str, float]) -> dict[str, float]:
    """Share of CPU time per mode between two cumulative readings (sums to 1; {} when no time passed)."""
    deltas = {m: max(cur[m] - prev.get(m, 0.0), 0.0) for m in cur}
    total = sum(deltas.values())
    return {m: d / total for m, d in deltas.items()} if total > 0 else {}


def read_memory(psutil: ModuleType | None = None) -> dict[str, int] | None:
    """System memory in bytes: total, used, free, buffers, cached (used = total - free - buffers - cached)."""
    if psutil is not None:
        vm = psutil.virtual_memory()
        total, free = int(vm.total), int(vm.free)
        buffers, cached = int(getattr(vm, "buffers", 0)), int(getattr(vm, "cached", 0))
    else:
        meminfo = _PROC / "meminfo"
        if not meminfo.exists():
            return None
        kib = {}
        for line in meminfo.read_text().splitlines():
            key, _, rest = line.partition(":")
            kib[key] = int(rest.split()[0]) * 1024
        total, free, buffers = kib["MemTotal"], kib["MemFree"], kib.get("Buffers", 0)
        cached = kib.get("Cached", 0) + kib.get("SReclaimable", 0)
    used = max(total - free - buffers - cached, 0)
    return {"total": total, "used": used, "free": free, "buffers": buffers, "cached": cached}


def _mountpoint(path: Path) -> str:
    p = path.resolve()
    while not os.path.ismount(p) and p.parent != p:
        p = p.parent
    return str(p)


def _cpus_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class GcPauseTimer:
    """Accumulates the wall time each GC generation spends collecting, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Runs on whichever thread triggered the collection: two clock reads, no allocation-heavy work.
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            gen = info.get("generation", 0)
            if 0 <= gen < 3:
                self.seconds[gen] += time.perf_counter() - self._started
            self._started = 0.0

    def close(self) -> None:
        """Stop timing (removes the gc callback)."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)


class SystemMetrics:
    """The registered process/system instruments; ``close`` makes their callbacks report nothing."""

    def __init__(self, meter: Meter, *, data_dir: Path, on_error: Callable[[str, Exception], None],
                 psutil: ModuleType | None, gc_pauses: bool = True) -> None:
        self._psutil = psutil
        self._on_error = on_error
        self._closed = False
        self._lock = threading.Lock()  # two readers may collect at once; the utilisation state is shared
        self._gc = GcPauseTimer() if gc_pauses else None
        self._ncpu = _cpus_available()
        self._fs_path = data_dir if data_dir.exists() else Path.cwd()
        self._fs_mount = _mountpoint(self._fs_path)
        t = os.times()
        self._proc_prev = (time.monotonic(), t.user, t.system)
        self._sys_prev = read_system_cpu_times(psutil) or {}
        gauge, counter, updown = (meter.create_observable_gauge, meter.create_observable_counter,
                                  meter.create_observable_up_down_counter)
        gc_stats = ((n.CPYTHON_GC_COLLECTIONS, "collections", "{collection}"),
                    (n.CPYTHON_GC_COLLECTED, "collected", "{object}"),
                    (n.CPYTHON_GC_UNCOLLECTABLE, "uncollectable", "{object}"))
        table: list[tuple[Any, str, Callable[[], Iterable[Observation]], str, str]] = [
            (counter, n.PROCESS_CPU_TIME, self._cpu_time, "s", "Total CPU seconds by CPU mode."),
            (gauge, n.PROCESS_CPU_UTILIZATION, self._cpu_util, "1",
             "Process CPU time since the previous collection per elapsed time and available CPU."),
            (updown, n.PROCESS_MEMORY_USAGE, self._rss, "By", "The amount of physical memory in use (RSS)."),
            (updown, n.PROCESS_MEMORY_VIRTUAL, self._vms, "By", "The amount of committed virtual memory."),
            (updown, n.PROCESS_FD_COUNT, self._fds, "{file_descriptor}", "UNIX file descriptors in use."),
            (updown, n.PROCESS_THREAD_COUNT, self._threads, "{thread}", "Process threads count."),
            *((counter, name, functools.partial(self._gc_stat, key), unit,
               f"CPython GC {key} per generation since interpreter start.") for name, key, unit in gc_stats),
            *([(counter, n.GC_PAUSE_TIME, self._gc_pause, "s",
                "Wall time spent in CPython GC collections since the agent started, per generation.")]
              if gc_pauses else []),
            (gauge, n.SYSTEM_CPU_UTILIZATION, self._sys_cpu, "1",
             "Share of all CPUs' time per mode since the previous collection."),
            (updown, n.SYSTEM_MEMORY_USAGE, self._mem, "By", "Reports memory in use by state."),
            (updown, n.SYSTEM_MEMORY_LIMIT, self._mem_limit, "By", "Total memory of the system."),
            (gauge, n.SYSTEM_MEMORY_UTILIZATION, self._mem_util, "1", "Fraction of memory bytes in use."),
            (updown, n.SYSTEM_FILESYSTEM_USAGE, self._fs, "By",
             "Space usage of the data directory's filesystem by state."),
            (gauge, n.SYSTEM_FILESYSTEM_UTILIZATION, self._fs_util, "1",
             "Fraction of the data directory's filesystem used."),
        ]
        for create, name, read, unit, description in table:
            create(name, callbacks=[self._guard(name, read)], unit=unit, description=description)

    @property
    def backend(self) -> str:
        """Where readings come from: ``psutil``, ``proc`` or ``os`` (CPU time, GC and filesystem only)."""
        if self._psutil is not None:
            return "psutil"
        return "proc" if (_PROC / "self" / "statm").exists() else "os"

    def close(self) -> None:
        """Detach the GC hook and make every callback report nothing (instruments cannot be removed)."""
        self._closed = True
        if self._gc is not None:
            self._gc.close()

    def _guard(self, name: str, read: Callable[[], Iterable[Observation]]) -> _Callback:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            if self._closed:
                return []
            try:
                return list(read())
            except Exception as exc:  # a reader failing must not break the export of other metrics
                self._on_error(name, exc)
                return []

        return callback

    def _cpu_time(self) -> Iterable[Observation]:
        t = os.times()
        return [
            Observation(t.user, {n.ATTR_CPU_MODE: "user"}),
            Observation(t.system, {n.ATTR_CPU_MODE: "system"}),
        ]

    def _cpu_util(self) -> Iterable[Observation]:
        now, t = time.monotonic(), os.times()
        with self._lock:
            (then, user0, sys0), self._proc_prev = self._proc_prev, (now, t.user, t.system)
        span = (now - then) * self._ncpu
        if span <= 0:
            return []
        return [Observation(max(t.user - user0, 0.0) / span, {n.ATTR_CPU_MODE: "user"}),
                Observation(max(t.system - sys0, 0.0) / span, {n.ATTR_CPU_MODE: "system"})]

    def _process_value(self, field: str) -> Iterable[Observation]:
        value = getattr(read_process(self._psutil), field)
        return [] if value is None else [Observation(value)]

    def _rss(self) -> Iterable[Observation]:
        return self._process_value("rss")

    def _vms(self) -> Iterable[Observation]:
        return self._process_value("vms")

    def _fds(self) -> Iterable[Observation]:
        return self._process_value("fds")

    def _threads(self) -> Iterable[Observation]:
        return self._process_value("threads")

    def _gc_stat(self, key: str) -> Iterable[Observation]:
        return [Observation(s[key], {n.ATTR_GC_GENERATION: gen}) for gen, s in enumerate(gc.get_stats())]

    def _gc_pause(self) -> Iterable[Observation]:
        seconds = self._gc.seconds if self._gc is not None else []
        return [Observation(s, {n.ATTR_GC_GENERATION: gen}) for gen, s in enumerate(seconds)]

    def _sys_cpu(self) -> Iterable[Observation]:
        cur = read_system_cpu_times(self._psutil)
        if cur is None:
            return []
        with self._lock:
            prev, self._sys_prev = self._sys_prev, cur
        return [Observation(v, {n.ATTR_CPU_MODE: m}) for m, v in cpu_mode_utilization(prev, cur).items()]

    def _mem(self) -> Iterable[Observation]:
        mem = read_memory(self._psutil)
        states = ("used", "free", "buffers", "cached")
        return [] if mem is None else [Observation(mem[s], {n.ATTR_MEMORY_STATE: s}) for s in states]

    def _mem_limit(self) -> Iterable[Observation]:
        mem = read_memory(self._psutil)
        return [] if mem is None else [Observation(mem["total"])]

    def _mem_util(self) -> Iterable[Observation]:
        mem = read_memory(self._psutil)
        if not mem or not mem["total"]:
            return []
        return [Observation(mem["used"] / mem["total"], {n.ATTR_MEMORY_STATE: "used"})]

    def _fs_states(self) -> dict[str, int]:
        st = os.statvfs(self._fs_path)
        return {
            "used": (st.f_blocks - st.f_bfree) * st.f_frsize,
            "free": st.f_bavail * st.f_frsize,
            "reserved": (st.f_bfree - st.f_bavail) * st.f_frsize,
        }

    def _fs(self) -> Iterable[Observation]:
        return [Observation(v, {n.ATTR_FS_STATE: s, n.ATTR_FS_MOUNTPOINT: self._fs_mount})
                for s, v in self._fs_states().items()]

    def _fs_util(self) -> Iterable[Observation]:
        states = self._fs_states()
        total = sum(states.values())
        attrs = {n.ATTR_FS_MOUNTPOINT: self._fs_mount}
        return [Observation(states["used"] / total, attrs)] if total else []


def register_system_metrics(meter: Meter, *, data_dir: Path, on_error: Callable[[str, Exception], None],
                            use_psutil: bool = True, gc_pauses: bool = True) -> SystemMetrics:
    """Create the process and system observable instruments on ``meter`` (psutil when present and allowed)."""
    return SystemMetrics(meter, data_dir=data_dir, on_error=on_error,
                         psutil=psutil_module() if use_psutil else None, gc_pauses=gc_pauses)
