"""Per-window drift counts when many windows close between metric exports; the ``infersight report`` command.

The command runs as the installed ``infersight`` executable; every bad input exits 2 with
one line on stderr naming the path, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import agent
from agent.plugin import ENVIRONMENT_VARIABLES
from agent.testing import run_plugin
from plugins.drift import names as drift
from plugins.report import TelemetryShapeError, build_report
from plugins.report.collect import collect
from tests.support.otlp import OTLPHttpReceiver

INFERSIGHT = Path(sys.executable).with_name("infersight")


def _rows(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, Any]]:
    return [{"x": float(v), "y": float(w)} for v, w in zip(rng.normal(shift, 1.0, n), rng.normal(0, 1, n),
                                                           strict=True)]  # fmt: skip


def _value(v: dict[str, Any]) -> Any:
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return next(iter(v.values()))


def _window_events(data_dir: Path) -> list[dict[str, Any]]:
    out = []
    for line in (data_dir / "telemetry" / "logs.jsonl").read_text().splitlines():
        for rl in json.loads(line)["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    if rec.get("eventName") == drift.EVENT_WINDOW:
                        out.append({kv["key"]: _value(kv["value"]) for kv in rec["attributes"]})
    return out


def test_windows_closing_between_exports_are_each_counted(tmp_path: Path) -> None:
    # Gauges are exported once, at shutdown: a report reading them would see one window, not nine.
    data_dir = tmp_path / "data"
    config = {"models": {"m": {"capture": True}},
              "drift": {"window": {"type": "count", "size": 100}, "min_window": 50, "permutations": 30}}  # fmt: skip
    rng = np.random.default_rng(11)
    with run_plugin("drift", config=config, exporter={"type": "file"}, metrics={"export_interval": 3600.0},
                    agent={"data_dir": str(data_dir)}) as h:  # fmt: skip
        h.set_reference("m", _rows(rng, 1000, 0.0))
        for shift in (0.0, 1.5, 0.0):
            for row in _rows(rng, 300, shift):
                h.feed("m", row)
        assert h.flush(30.0)
    events = [e for e in _window_events(data_dir) if e[drift.ATTR_STREAM] == drift.STREAM_INPUTS]
    assert len(events) == 9
    drifted = sum(bool(e[drift.ATTR_DRIFTED]) for e in events)
    assert 2 <= drifted <= 4  # the three shifted windows (a neighbour at most by chance)
    tel = collect(data_dir)
    assert tel.drift.windows[("m", "", drift.STREAM_INPUTS)] == 9
    assert tel.drift.drifted_windows[("m", "", drift.STREAM_INPUTS)] == drifted
    series = tel.drift.series[("m", "", "x", "ks")]
    assert series.windows == 9 and series.drifted == sum("x" in e[drift.ATTR_DRIFTED_FEATURES] for e in events)
    assert len(series.history) == 9
    most = tel.drift.most[("m", "")]
    assert most.number is not None and 4 <= most.number <= 6  # a window of the shift
    assert most.summaries["x"]["median"] > 1.0  # the shifted window's own summary, not a later one
    html = build_report(data_dir, tmp_path / "r.html").output.read_text()
    assert '<b>9</b><span>windows closed</span>' in html
    assert f"<b>{drifted}</b><span>windows with drift</span>" in html


def test_report_works_next_to_a_collector_when_files_are_kept_too(tmp_path: Path) -> None:
    with OTLPHttpReceiver() as rx:
        agent.init({"exporter": {"type": ["otlp", "file"], "endpoint": rx.endpoint},
                    "agent": {"data_dir": str(tmp_path), "stderr_level": "off"},
                    "plugins": {"enabled": [], "entry_points": False}})  # fmt: skip
        try:
            @agent.monitor(model="m", version="1")
            def predict(x: float) -> float:
                return 2 * x

            for i in range(25):
                predict(float(i))
            assert agent.flush(30.0)
        finally:
            agent.shutdown()
        received = [s for s in rx.spans() if s.name == "predict m"]
    assert len(received) == 25
    stats = build_report(tmp_path, tmp_path / "r.html")
    assert stats.predictions == 25 and "overview" in stats.sections


# -- the command ------------------------------------------------------------------------


def _run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    return subprocess.run([str(INFERSIGHT), "report", *args], capture_output=True, text=True, timeout=120,
                          check=False, env={**base, **(env or {})}, cwd=cwd)  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "ml.agent.plugin_load_failed" not in ln]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("infersight report: ")
    return lines[0]


WRONG_SHAPES = {
    "object": '{"hello": "world"}',
    "array": "[1, 2, 3]",
    "not-a-list": '{"resourceMetrics": "nope"}',
    "bad-number": json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ml.inference.calls", "sum": {"isMonotonic": True, "dataPoints": [{"asInt": "many"}]}}]}]}]}),
    "bad-nesting": json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ml.x", "gauge": {"dataPoints": "none"}}]}]}]}),
}


@pytest.mark.parametrize("content", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
def test_json_of_the_wrong_shape_is_named_by_file_and_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "telemetry").mkdir()
    metrics = tmp_path / "telemetry" / "metrics.jsonl"
    metrics.write_text("\n" + content + "\n")
    with pytest.raises(TelemetryShapeError) as err:
        collect(tmp_path)
    assert err.value.where == f"{metrics} line 2"


@pytest.mark.parametrize("kind", ["object", "bad-number"])
def test_command_on_json_of_the_wrong_shape_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    content = WRONG_SHAPES[kind]
    (tmp_path / "telemetry").mkdir()
    metrics = tmp_path / "telemetry" / "metrics.jsonl"
    metrics.write_text("\n" + content + "\n")
    line = _one_line(_run(str(tmp_path), "-o", str(tmp_path / "r.html")))
    assert f"{metrics} line 2" in line and "OTLP/JSON" in line
    assert not (tmp_path / "r.html").exists()


def test_a_file_instead_of_a_directory_or_a_missing_one_exits_2(tmp_path: Path) -> None:
    a_file = tmp_path / "telemetry.json"
    a_file.write_text("{}")
    assert "is not a directory" in _one_line(_run(str(a_file), "-o", str(tmp_path / "r.html")))
    assert "does not exist" in _one_line(_run(str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")))


def test_an_unwritable_output_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = _one_line(_run(str(tmp_path), "-o", str(blocker / "r.html")))
    assert "cannot write the report" in line and str(blocker / "r.html") in line


def test_empty_directory_writes_a_report_that_says_what_to_configure(tmp_path: Path) -> None:
    proc = _run(env={"INFERSIGHT_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Report written" in proc.stdout and "no telemetry files under" in proc.stdout
    assert re.search(r'exporter\.type = \["otlp", "file"\]', proc.stdout)
    assert (tmp_path / "report.html").exists()
