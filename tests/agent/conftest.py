"""Fixtures for the core's end-to-end tests: a clean agent per test and loopback OTLP receivers."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pytest

import agent
from agent import _state
from agent._agent import Agent
from tests.support.otlp import MetricPoint, Mode, OTLPGrpcReceiver, OTLPHttpReceiver

Protocol = Literal["grpc", "http/protobuf"]
Receiver = OTLPGrpcReceiver | OTLPHttpReceiver
PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf")
NO_PLUGINS: dict[str, Any] = {"enabled": [], "entry_points": False}


@pytest.fixture(autouse=True)
def clean_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No agent and no OTEL_*/INFERSIGHT_* variables before the test; the agent shut down after it."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "INFERSIGHT_")):
            monkeypatch.delenv(name)
    agent.shutdown()
    yield
    agent.shutdown()


def make_receiver(protocol: Protocol, mode: Mode = "ok") -> Receiver:
    """An unstarted loopback receiver speaking ``protocol``."""
    return OTLPGrpcReceiver(mode) if protocol == "grpc" else OTLPHttpReceiver(mode)


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> Protocol:
    """Each OTLP protocol the agent supports, in turn."""
    value: Protocol = request.param
    return value


@pytest.fixture
def receiver(protocol: Protocol) -> Iterator[Receiver]:
    """A running receiver for ``protocol``; the agent is shut down before it stops, so teardown never waits."""
    with make_receiver(protocol) as rx:
        yield rx
        agent.shutdown()


def start_agent(
    endpoint: str,
    protocol: Protocol,
    data_dir: Path,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 2.0,
    agent_options: Mapping[str, Any] | None = None,
    models: Mapping[str, Any] | None = None,
    plugins: Mapping[str, Any] | None = None,
    service: Mapping[str, Any] | None = None,
) -> Agent:
    """``agent.init`` exporting over OTLP to ``endpoint``; returns the running agent."""
    options: dict[str, Any] = {"data_dir": str(data_dir), "stderr_level": "off", "shutdown_timeout": 3}
    options.update(agent_options or {})
    sections: dict[str, Any] = {}
    if service is not None:
        sections["service"] = dict(service)
    agent.init(
        exporter={
            "type": "otlp",
            "endpoint": endpoint,
            "protocol": protocol,
            "headers": dict(headers or {}),
            "timeout": timeout,
        },
        agent=options,
        metrics={"export_interval": 60},
        plugins=dict(plugins or NO_PLUGINS),
        models=dict(models or {}),
        **sections,
    )
    return running_agent()


def running_agent() -> Agent:
    """The running agent, checked to own its providers (a global SDK provider would swallow its exports)."""
    running = _state.AGENT
    assert running is not None, "agent.init did not start an agent"
    assert not running.pipelines.reused, f"another test set global SDK providers: {running.pipelines.reused}"
    return running


def latest_points(points: list[MetricPoint]) -> dict[frozenset[tuple[str, Any]], MetricPoint]:
    """The most recent point of each attribute set (cumulative metrics are re-sent on every flush)."""
    out: dict[frozenset[tuple[str, Any]], MetricPoint] = {}
    for point in sorted(points, key=lambda p: p.time_unix_nano):
        out[frozenset(point.attributes.items())] = point
    return out
