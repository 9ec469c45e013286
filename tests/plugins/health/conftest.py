"""Fixtures for the health plugin's pure parts (system, GPU and heartbeat instruments): a real MeterProvider
with an in-memory reader. The plugin itself is tested on the real host through ``agent.testing.run_plugin``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


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
