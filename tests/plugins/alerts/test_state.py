"""``infersight alerts`` output: the persisted state, formatted (pure: engine, state file, formatter)."""

from __future__ import annotations

from pathlib import Path

from agent.plugin import Signal
from plugins.alerts import format_alert_state, parse_alerts_config
from plugins.alerts.engine import AlertEngine
from plugins.alerts.state import read_state, write_state


def test_state_lists_firing_no_data_and_resolved(tmp_path: Path) -> None:
    engine = AlertEngine(parse_alerts_config({
        "group_interval": 0, "no_data_after": 60,
        "rules": [{"name": "slow", "signal": "p99", "threshold": 0.5, "severity": "critical"}],
    }))
    engine.evaluate([Signal("p99", 0.9, {"model": "fraud"}), Signal("p99", 0.9, {"model": "churn"})], now=0.0)
    engine.evaluate([Signal("p99", 0.1, {"model": "churn"})], now=30.0)
    engine.evaluate([Signal("p99", 0.1, {"model": "churn"})], now=70.0)
    write_state(tmp_path, engine.snapshot(70.0), 70.0, {"undelivered": 2})
    assert read_state(tmp_path) is not None
    text = format_alert_state(tmp_path)
    lines = text.splitlines()
    assert lines[0] == "Alert state as of 1970-01-01T00:01:10.000Z"
    assert lines[1] == "Notifications awaiting delivery when written: 2"
    assert lines[2] == "1 firing, 1 no_data, 0 pending, 1 resolved"
    body = "\n".join(lines[3:])
    assert "firing    critical  slow" in body and "model=fraud" in body
    assert "no_data" in body and "resolved 40s ago" in body
    assert "No data: p99 (model=fraud) silent for 1m10s" in body
