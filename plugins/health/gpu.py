"""NVIDIA GPU metrics through NVML (``nvidia-ml-py``, the ``gpu`` extra), named per the ``hw.*`` conventions.

Absent cleanly: when ``pynvml`` is not installed, or is installed on a machine with
no driver or no GPU, ``register_gpu_metrics`` returns None without logging; the
doctor reports the reason. Readings happen in observable callbacks at export time.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from plugins.health import names as n

__all__ = ["GpuMetrics", "load_nvml", "register_gpu_metrics"]


@dataclass(frozen=True, slots=True)
class NvmlStatus:
    """Whether NVML is usable: the module and device count, or the reason it is not."""

    module: ModuleType | None
    devices: int
    reason: str


def load_nvml() -> NvmlStatus:
    """Import and initialise NVML; never raises (a missing library or driver is a reason, not an error)."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return NvmlStatus(None, 0, "pynvml (nvidia-ml-py) is not installed")
    try:
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
    except Exception as exc:  # NVMLError subclasses: no driver, no device, insufficient permissions
        return NvmlStatus(None, 0, f"NVML unavailable: {exc}")
    if count == 0:
        nvml.nvmlShutdown()
        return NvmlStatus(None, 0, "NVML reports no GPU")
    return NvmlStatus(nvml, count, "")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuMetrics:
    """Per-device utilisation, memory and temperature instruments; ``close`` shuts NVML down."""

    def __init__(self, meter: Meter, nvml: ModuleType, count: int,
                 on_error: Callable[[str, Exception], None]) -> None:
        self._nvml = nvml
        self._on_error = on_error
        self._closed = False
        self._devices: list[tuple[Any, dict[str, str]]] = []
        for i in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            attrs = {
                n.ATTR_HW_ID: _text(nvml.nvmlDeviceGetUUID(handle)),
                n.ATTR_HW_NAME: _text(nvml.nvmlDeviceGetName(handle)),
                n.ATTR_HW_TYPE: "gpu",
                n.ATTR_HW_VENDOR: "nvidia",
            }
            self._devices.append((handle, attrs))
        gauge, updown = meter.create_observable_gauge, meter.create_observable_up_down_counter
        table: list[tuple[Any, str, Callable[[Any, dict[str, str]], list[Observation]], str, str]] = [
            (gauge, n.HW_GPU_UTILIZATION, self._util, "1", "Fraction of time the GPU was busy."),
            (updown, n.HW_GPU_MEMORY_USAGE, self._mem_used, "By", "GPU memory used."),
            (updown, n.HW_GPU_MEMORY_LIMIT, self._mem_total, "By", "Size of the GPU memory."),
            (gauge, n.HW_GPU_MEMORY_UTILIZATION, self._mem_util, "1", "Fraction of GPU memory used."),
            (gauge, n.HW_TEMPERATURE, self._temp, "Cel", "GPU temperature in degrees Celsius."),
        ]
        for create, name, read, unit, description in table:
            create(name, callbacks=[self._callback(name, read)], unit=unit, description=description)

    def _callback(
        self, name: str, read: Callable[[Any, dict[str, str]], list[Observation]]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            if self._closed:
                return []
            out: list[Observation] = []
            for handle, attrs in self._devices:
                try:
                    out.extend(read(handle, attrs))
                except Exception as exc:  # one device or one query failing must not hide the others
                    self._on_error(name, exc)
            return out

        return callback

    def _util(self, handle: Any, attrs: dict[str, str]) -> list[Observation]:
        rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
        return [Observation(rates.gpu / 100.0, {**attrs, n.ATTR_HW_GPU_TASK: "general"})]

    def _mem_used(self, handle: Any, attrs: dict[str, str]) -> list[Observation]:
        return [Observation(int(self._nvml.nvmlDeviceGetMemoryInfo(handle).used), attrs)]

    def _mem_total(self, handle: Any, attrs: dict[str, str]) -> list[Observation]:
        return [Observation(int(self._nvml.nvmlDeviceGetMemoryInfo(handle).total), attrs)]

    def _mem_util(self, handle: Any, attrs: dict[str, str]) -> list[Observation]:
        info = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        return [Observation(info.used / info.total, attrs)] if info.total else []

    def _temp(self, handle: Any, attrs: dict[str, str]) -> list[Observation]:
        celsius = self._nvml.nvmlDeviceGetTemperature(handle, self._nvml.NVML_TEMPERATURE_GPU)
        return [Observation(float(celsius), attrs)]

    def close(self) -> None:
        """Stop reporting and release NVML."""
        if not self._closed:
            self._closed = True
            # Shutting down a library that already went away is not worth a report.
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()


def register_gpu_metrics(meter: Meter, on_error: Callable[[str, Exception], None]) -> GpuMetrics | None:
    """Create GPU instruments when NVML works; None (silently) when it does not."""
    status = load_nvml()
    if status.module is None:
        return None
    try:
        return GpuMetrics(meter, status.module, status.devices, on_error)
    except Exception as exc:  # a device that vanished between init and lookup: report, run without GPU
        on_error("gpu", exc)
        status.module.nvmlShutdown()
        return None
