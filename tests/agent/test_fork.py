"""Pre-fork servers (gunicorn, uWSGI): a forked child runs its own agent and exports as a new instance."""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

import agent
from agent import _state
from tests.agent.conftest import Protocol, Receiver, running_agent, start_agent

MODEL = "ranker"
CHILD_DEADLINE_S = 30  # the kernel kills a child that hangs (SIGALRM, default action) so waitpid returns
CHILD_CALLS = 3

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_forked(child: Callable[[], int]) -> int:
    """Fork; the child runs ``child`` and leaves with its return code via ``os._exit``; returns the exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns to pytest
        code = 70
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(CHILD_DEADLINE_S)
            code = child()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def score(row: dict[str, float]) -> float:
    """The model."""
    return row["x"] + 1


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"], indirect=True)
def test_forked_child_exports_as_a_new_instance(receiver: Receiver, protocol: Protocol, tmp_path: Path) -> None:
    start_agent(receiver.endpoint, protocol, tmp_path, models={MODEL: {"version": "1"}})
    parent = running_agent()
    parent_instance = parent.settings.service["instance_id"]
    predict = agent.monitor(MODEL)(score)
    assert predict({"x": 1.0}) == 2.0
    ids_file = tmp_path / "child-ids.json"

    def child() -> int:
        running = _state.AGENT
        if running is None or running is parent or running.pid != os.getpid():
            return 3  # the at-fork hook did not give the child its own agent
        ids = []
        for i in range(CHILD_CALLS):
            with agent.observe(MODEL, inputs={"x": float(i)}) as call:
                ids.append(call.prediction_id)
            if predict({"x": float(i)}) != i + 1:
                return 4
        ids_file.write_text(json.dumps({"ids": ids, "instance": running.settings.service["instance_id"]}))
        return 0 if agent.flush(10) else 5

    assert run_forked(child) == 0
    assert predict({"x": 2.0}) == 3.0  # the parent keeps working after the fork
    assert agent.flush()

    child_info = json.loads(ids_file.read_text())
    spans = receiver.wait_for_spans(2 + 2 * CHILD_CALLS)
    by_instance: dict[str, list[str]] = {}
    for span in spans:
        by_instance.setdefault(span.resource["service.instance.id"], []).append(span.attributes["ml.prediction.id"])
    child_instance = child_info["instance"]
    assert child_instance != parent_instance
    assert set(by_instance) == {parent_instance, child_instance}
    assert len(by_instance[parent_instance]) == 2
    assert len(by_instance[child_instance]) == 2 * CHILD_CALLS
    assert set(child_info["ids"]) <= set(by_instance[child_instance])
    assert not set(by_instance[child_instance]) & set(by_instance[parent_instance])  # ids unique across processes

    started = [r for r in receiver.log_records() if r.body == "ml.agent.started"]
    pids = {r.resource["service.instance.id"]: r.attributes["pid"] for r in started}
    assert pids[parent_instance] == os.getpid()
    assert pids[child_instance] != os.getpid()
    calls = {p.resource["service.instance.id"]: p.value for p in receiver.metric_points("ml.inference.calls")}
    assert calls[child_instance] == 2 * CHILD_CALLS
