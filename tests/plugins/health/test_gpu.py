"""GPU metrics: absent cleanly without NVML; named per hw.* conventions when a (stand-in) NVML answers."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry._logs.severity import SeverityNumber
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent.testing import run_plugin
from plugins.health import names as n
from plugins.health.gpu import load_nvml, register_gpu_metrics
from tests.plugins.health.conftest import collect


def _fake_nvml(devices: int = 1) -> types.ModuleType:
    """A stand-in for NVIDIA's pynvml (third-party, needs a GPU) answering like one Tesla T4."""
    m = types.ModuleType("pynvml")
    m.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]
    m.calls = []  # type: ignore[attr-defined]
    m.nvmlInit = lambda: m.calls.append("init")  # type: ignore[attr-defined]
    m.nvmlShutdown = lambda: m.calls.append("shutdown")  # type: ignore[attr-defined]
    m.nvmlDeviceGetCount = lambda: devices  # type: ignore[attr-defined]
    m.nvmlDeviceGetHandleByIndex = lambda i: f"handle-{i}"  # type: ignore[attr-defined]
    m.nvmlDeviceGetUUID = lambda h: f"GPU-{h}".encode()  # type: ignore[attr-defined]
    m.nvmlDeviceGetName = lambda h: "Tesla T4"  # type: ignore[attr-defined]
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=37, memory=12)  # type: ignore[attr-defined]
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=16 * 2**30, used=4 * 2**30, free=12 * 2**30
    )
    m.nvmlDeviceGetTemperature = lambda h, sensor: 55  # type: ignore[attr-defined]
    return m


@pytest.fixture
def no_pynvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``import pynvml`` fail whether or not it is installed here."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    yield


def test_without_pynvml_the_gpu_part_is_absent_and_silent(no_pynvml: None) -> None:
    assert "not installed" in load_nvml().reason
    with run_plugin("health", config={"health": {"dependencies": [], "gpu": True}}) as h:
        health_signals = {v for k, v in vars(n).items() if k.startswith("SIGNAL_")}
        signals = [s for s in h.tick() if s.name in health_signals]
        gpu_points = [p for name in (n.HW_GPU_UTILIZATION, n.HW_GPU_MEMORY_USAGE, n.HW_TEMPERATURE)
                      for p in h.metric_points(name)]  # fmt: skip
        memory = h.metric_points(n.PROCESS_MEMORY_USAGE)
        warnings = [r for r in h.log_records() if (r.log_record.severity_number or SeverityNumber.INFO).value
                    >= SeverityNumber.WARN.value]  # fmt: skip
    assert gpu_points == []
    assert memory != []  # the rest still works
    assert warnings == []
    assert signals == []


def test_nvml_without_a_driver_is_treated_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_nvml()

    def no_driver() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    fake.nvmlInit = no_driver  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    status = load_nvml()
    assert status.module is None and "Shared Library Not Found" in status.reason


def test_gpu_metrics_use_hw_semantic_convention_names(
    monkeypatch: pytest.MonkeyPatch, provider: MeterProvider, reader: InMemoryMetricReader, tmp_path: Path
) -> None:
    fake = _fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    errors: list[str] = []
    gpu = register_gpu_metrics(provider.get_meter("t"), lambda name, exc: errors.append(name))
    assert gpu is not None
    metrics = collect(reader)
    gpu.close()
    assert errors == []
    [util] = metrics[n.HW_GPU_UTILIZATION].data.data_points
    assert util.value == pytest.approx(0.37)
    assert util.attributes[n.ATTR_HW_ID] == "GPU-handle-0"
    assert util.attributes[n.ATTR_HW_TYPE] == "gpu"
    assert metrics[n.HW_GPU_MEMORY_USAGE].unit == "By"
    assert metrics[n.HW_GPU_MEMORY_USAGE].data.data_points[0].value == 4 * 2**30
    assert metrics[n.HW_GPU_MEMORY_UTILIZATION].data.data_points[0].value == pytest.approx(0.25)
    assert metrics[n.HW_TEMPERATURE].unit == "Cel"
    assert metrics[n.HW_TEMPERATURE].data.data_points[0].value == 55.0
    assert fake.calls == ["init", "shutdown"]
