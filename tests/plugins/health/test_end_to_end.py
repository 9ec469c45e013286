"""Through ``agent.init``: health findings reach a loopback OTLP receiver and the signal hook."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import pytest

import agent
from agent.plugin import Signal, hookimpl
from plugins.health import names as n
from plugins.health.gpu import load_nvml
from tests.support.otlp import OTLPHttpReceiver


class SignalRecorder:
    """A test plugin (loaded by import path) keeping every Signal the worker hands to the alert hook."""

    seen: list[Signal] = []  # noqa: RUF012  # shared with the test through the class
    arrived = threading.Condition()

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        """Record the tick's signals and wake the waiting test."""
        with SignalRecorder.arrived:
            SignalRecorder.seen.extend(signals)
            SignalRecorder.arrived.notify_all()


@pytest.fixture
def receiver() -> Iterator[OTLPHttpReceiver]:
    """A loopback OTLP/HTTP receiver; the agent is shut down before it stops."""
    SignalRecorder.seen = []
    with OTLPHttpReceiver() as rx:
        yield rx
        agent.shutdown()


def _config(rx: OTLPHttpReceiver, data_dir: Path, **extra: Any) -> dict[str, Any]:
    return {
        "exporter": {"endpoint": rx.endpoint, "protocol": "http/protobuf"},
        "agent": {"data_dir": str(data_dir), "tick_interval": 0.05},
        "plugins": {"enabled": ["health"], "entry_points": False,
                    "paths": [f"{__name__}:SignalRecorder"]},
        **extra,
    }  # fmt: skip


def _signals(name: str, timeout: float = 10.0) -> list[Signal]:
    """Wait (on the recorder's condition, woken per tick) until a signal named ``name`` was handled."""
    with SignalRecorder.arrived:
        SignalRecorder.arrived.wait_for(lambda: any(s.name == name for s in SignalRecorder.seen), timeout)
        hits = [s for s in SignalRecorder.seen if s.name == name]
    assert hits, f"no {name} signal within {timeout} s; got {[s.name for s in SignalRecorder.seen]}"
    return hits


def test_wrong_artifact_and_changed_pin_reach_the_receiver_and_the_alert_hook(
    tmp_path: Path, receiver: OTLPHttpReceiver
) -> None:
    artifact = tmp_path / "fraud.bin"
    artifact.write_bytes(b"model 3.1, shipped by mistake")
    pinned = "sha256:" + hashlib.sha256(b"model 3.2").hexdigest()
    agent.init(_config(
        receiver, tmp_path / "data",
        health={"dependencies": ["numpy"], "pins": {"numpy": "1.0.0"}},
        models={"fraud-e2e": {"version": "3.2", "artifact": str(artifact), "expected_digest": pinned}},
    ))  # fmt: skip

    @agent.monitor(model="fraud-e2e", version="3.2")
    def predict(x: int) -> int:
        return x * 2

    assert predict(21) == 42
    digest = _signals(n.SIGNAL_DIGEST_MISMATCH)[0]  # re-sent every tick while the problem stands
    assert digest.details["expected"] == pinned
    dep = _signals(n.SIGNAL_DEPENDENCY_MISMATCH)[0]
    assert dep.details["actual"] == numpy.__version__
    agent.flush()

    logs = {r.event_name or str(r.body): r for r in receiver.log_records()}
    mismatch = logs[n.EVENT_DEPLOYMENT_MISMATCH]
    assert mismatch.severity_text.upper() == "ERROR"
    assert (mismatch.attributes[n.ATTR_MODEL], mismatch.attributes[n.ATTR_EXPECTED]) == ("fraud-e2e", pinned)
    assert logs[n.EVENT_DEPENDENCY_MISMATCH].attributes[n.ATTR_PACKAGE] == "numpy"
    assert n.EVENT_ARTIFACT in logs and n.EVENT_INVENTORY in logs
    names = receiver.metric_names()
    assert {n.AGENT_UP, n.DEPENDENCY_INFO, n.PROCESS_MEMORY_USAGE, n.PROCESS_CPU_TIME,
            n.SYSTEM_MEMORY_USAGE, n.CPYTHON_GC_COLLECTIONS} <= names  # fmt: skip
    if load_nvml().module is None:  # no NVML here: the GPU part is absent, not failing
        assert not any(name.startswith("hw.") for name in names)


def test_unwritable_data_dir_is_reported_and_decorated_calls_still_work(
    tmp_path: Path, receiver: OTLPHttpReceiver
) -> None:
    # Root ignores permission bits, so the directory sits under a regular file (ENOTDIR for everyone).
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    try:
        agent.init(_config(receiver, blocker / "data", health={"dependencies": []}))
    except Exception as exc:  # the core may refuse the directory itself; then it must say which
        pytest.skip(f"the core rejects an unusable data_dir at init: {exc}")

    @agent.monitor(model="m")
    def predict(x: int) -> int:
        return x + 1

    assert [predict(i) for i in range(3)] == [1, 2, 3]
    problem = _signals(n.SIGNAL_PATH_PROBLEM)[0]
    assert problem.labels["access"] == "write" and "ENOTDIR" in problem.details["error"]
    agent.flush()
    [event] = [r for r in receiver.log_records() if (r.event_name or r.body) == n.EVENT_PATH_PROBLEM]
    assert event.attributes[n.ATTR_PATH] == str(blocker / "data")
