"""``infersight fleet --follow``: fleet windows tested once as they arrive, Signals to the user's alert rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from plugins.fleet import names
from plugins.fleet.commands import drift_configs
from plugins.fleet.follow import Follow

from .otlp_lines import append, profile_line

RULES = """
[agent]
data_dir = "{data}"
stderr_level = "off"
[exporter]
type = "file"
[drift]
alpha = 0.05
[models.m]
reference = "not-read-by-the-command.parquet"
[alerts]
group_wait = "0s"
default_channels = ["log"]
[[alerts.rules]]
name = "fleet-drift"
signal = "ml.fleet.drift.detected"
op = "=="
threshold = 1
severity = "warning"
"""


def test_one_alert_for_the_fleet_and_each_window_tested_once(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(RULES.format(data=tmp_path / "data"))
    rng = np.random.default_rng(7)
    logs = tmp_path / "collector" / "logs.jsonl"
    append(logs, profile_line("a", "reference", 0.0, {"x": rng.normal(size=2000), "y": rng.normal(size=2000)}))
    for inst in ("a", "b", "c"):  # three replicas, each with a shift in x
        append(logs, profile_line(inst, "window", 60.0, {"x": rng.normal(size=300) + 0.6,
                                                        "y": rng.normal(size=300)}))
    now = [200.0]
    follow = Follow([str(logs.parent)], drift_configs(str(config), None), reference=None, model=None, version=None,
                    config=str(config), interval=1.0, grace=30.0, max_polls=2, json_output=False,
                    clock=lambda: now[0], sleep=lambda _s: append(logs, profile_line(
                        "d", "window", 60.0, {"x": rng.normal(size=300), "y": rng.normal(size=300)})))
    assert follow.run() == 1
    assert follow.tested == {("m", "1", 60.0, 120.0)}  # the late replica d did not re-open the window
    events = [rec for line in (tmp_path / "data" / "telemetry" / "logs.jsonl").read_text().splitlines()
              for rl in json.loads(line)["resourceLogs"] for sl in rl["scopeLogs"] for rec in sl["logRecords"]]
    bodies = [e["body"]["stringValue"] for e in events]
    assert bodies.count(names.FLEET_WINDOW_EVENT) == 1 and bodies.count(names.LATE_PROFILE_EVENT) == 1
    notes = [e for e in events if e["body"]["stringValue"] == "ml.alerts.notification"]
    assert len(notes) == 1
    attrs = {a["key"]: a["value"] for a in notes[0]["attributes"]}
    alerts = json.loads(attrs["ml.alerts.alerts"]["stringValue"])
    # one alert per fleet finding (x and the joint test), not one per replica
    assert sorted((a["status"], a["labels"]["feature"], a["labels"]["scope"]) for a in alerts) == [
        ("firing", "multivariate", "fleet"), ("firing", "x", "fleet")]
