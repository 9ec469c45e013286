"""The heartbeat gauge: 1 with the agent's start time, so a no-data rule can detect absence."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from plugins.health import names as n
from plugins.health.heartbeat import register_heartbeat
from tests.plugins.health.conftest import collect


def test_agent_up_is_one_with_the_start_time_at_every_collection(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    register_heartbeat(provider.get_meter("t"), 1_700_000_123.9)
    for _ in range(2):
        metric = collect(reader)[n.AGENT_UP]
        [point] = metric.data.data_points
        assert point.value == 1
        assert dict(point.attributes) == {n.ATTR_START_TIME: 1_700_000_123}
    assert metric.unit == ""  # keeps the Prometheus name ml_agent_up (a unit of 1 would add _ratio)
