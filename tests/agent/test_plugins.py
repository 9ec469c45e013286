"""The plugin host: three ways to load, guarded calls, disabling, and a broken entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent
from agent import _state
from agent._errors import ConfigError
from agent.testing import capture_telemetry

PATHS = {"paths": ["tests.agent.sample_plugins:Exploding", "tests.agent.sample_plugins"], "entry_points": False}


def test_plugin_that_raises_on_every_call_changes_no_result_and_is_disabled() -> None:
    with capture_telemetry(plugins={"enabled": [], **PATHS}, agent={"plugin_max_failures": 3},
                           models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return x["a"] + 1

        results = []
        for i in range(20):
            results.append(predict({"a": float(i)}))
            tel.flush()
        running = _state.AGENT
        assert running is not None
        names = [p.name for p in running.host.describe()]
        counting = running.host.plugin("tests.agent.sample_plugins")
        errors = tel.metric_points("ml.agent.plugin_errors")
        events = tel.events("ml.agent.plugin_error")
        disabled = tel.events("ml.agent.plugin_disabled")
    assert results == [i + 1.0 for i in range(20)]
    assert "tests.agent.sample_plugins:Exploding" not in names  # disabled after 3 failures in a row
    assert counting.rows == 20  # the other plugin saw every row
    assert errors and errors[0].value == 3
    assert {e["plugin"] for e in events} == {"tests.agent.sample_plugins:Exploding"}
    assert {e["hook"] for e in events} <= {"infersight_process_records", "infersight_collect_signals"}
    assert "plugin bug" in events[0]["error"]
    assert disabled and disabled[0]["failures"] == 3


def test_plugin_signals_reach_handle_signals() -> None:
    with capture_telemetry(plugins={"enabled": [], "paths": ["tests.agent.sample_plugins"],
                                    "entry_points": False}, models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return 0.0

        predict({"a": 1.0})
        predict({"a": 2.0})
        tel.flush()
        rows = [s.value for s in tel.signals if s.name == "test.rows"]
    assert rows and rows[-1] == 2.0


def test_plugin_config_error_fails_init_and_unclaimed_sections_are_errors(tmp_path: Path) -> None:
    base = {"agent": {"data_dir": str(tmp_path), "stderr_level": "off"},
            "plugins": {"enabled": [], "paths": ["tests.agent.sample_plugins"], "entry_points": False}}
    with pytest.raises(ConfigError) as info:
        agent.init({**base, "counting": {"limit": "ten"}})
    assert info.value.key == "counting.limit"
    assert not agent.is_running()
    agent.init({**base, "counting": {"limit": 10}})  # the plugin claims its table: fine
    assert agent.is_running()


def _fake_distribution(root: Path, entry_points: str) -> None:
    dist = root / "infersight_fake_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: infersight-fake-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)


def test_broken_entry_point_does_not_stop_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(
        tmp_path,
        "[infersight]\nbroken = infersight_no_such_module_xyz:plugin\n"
        "working = tests.agent.sample_plugins:make_plugin\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with capture_telemetry(plugins={"enabled": [], "entry_points": True}) as tel:
        running = _state.AGENT
        assert running is not None
        names = [p.name for p in running.host.describe()]
        failures = tel.events("ml.agent.plugin_load_failed")
    assert "working" in names
    assert [f["plugin"] for f in failures] == ["broken"]
    assert "infersight_no_such_module_xyz" in failures[0]["error"]


def test_entry_point_can_be_disabled_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, "[infersight]\nworking = tests.agent.sample_plugins:make_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with capture_telemetry(plugins={"enabled": [], "entry_points": True, "disabled": ["working"]}):
        running = _state.AGENT
        assert running is not None
        assert "working" not in [p.name for p in running.host.describe()]


def test_missing_import_path_is_logged_not_fatal() -> None:
    with capture_telemetry(plugins={"enabled": [], "paths": ["nope_not_a_module"], "entry_points": False}) as tel:
        failures = tel.events("ml.agent.plugin_load_failed")
    assert failures[0]["plugin"] == "nope_not_a_module"
