"""Fixtures for the health plugin tests: a real MeterProvider with an in-memory reader, and a PluginContext."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent._runtime import PluginContext
from agent._types import ModelInfo

MakeContext = Callable[..., PluginContext]


@pytest.fixture
def reader() -> InMemoryMetricReader:
    """An InMemoryMetricReader; ``provider`` attaches it to a MeterProvider."""
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A real SDK MeterProvider collected by ``reader`` (shut down after the test)."""
    p = MeterProvider(metric_readers=[reader])
    yield p
    p.shutdown()


@pytest.fixture
def make_context(tmp_path: Path, provider: MeterProvider) -> MakeContext:
    """Build a real PluginContext over ``reader``'s provider, a structlog logger and ``tmp_path/data``."""

    def make(
        config: dict[str, Any] | None = None,
        models: dict[str, ModelInfo] | None = None,
        data_dir: Path | None = None,
        clock: Callable[[], float] = lambda: 1_700_000_000.5,
    ) -> PluginContext:
        return PluginContext(
            config=config or {},
            data_dir=data_dir or tmp_path / "data",
            meter=provider.get_meter("test.health"),
            log=structlog.get_logger("infersight"),
            models=models or {},
            clock=clock,
        )

    return make


def collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    """Collect once and return {metric name: Metric} (``.unit``, ``.data.data_points``)."""
    data = reader.get_metrics_data()
    return {
        m.name: m
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for m in sm.metrics
    }


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Collect once and return {metric name: data points}."""
    return {name: list(m.data.data_points) for name, m in collect(reader).items()}
