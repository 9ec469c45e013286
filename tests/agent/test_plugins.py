"""The plugin host: three ways to load, guarded calls, disabling, and a broken entry point."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import agent
from agent import ConfigError, PluginError, _state
from agent.testing import capture_telemetry, run_plugin

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


# -- the contract: loading forms, hook names, historic configure, guards ------------------


def _feed(n: int) -> list[float]:
    @agent.monitor(model="m")
    def predict(x: dict[str, float]) -> float:
        return x["a"] * 2

    return [predict({"a": float(i)}) for i in range(n)]


@pytest.mark.parametrize("path", [
    "tests.agent.sample_plugins:make_plugin",   # a factory function
    "tests.agent.sample_plugins:Counting",      # a class
    "tests.agent.sample_plugins",               # a module with make_plugin()
])
def test_every_loading_form_registers_working_hooks(path: str) -> None:
    with capture_telemetry(plugins={"enabled": [], "paths": [path], "entry_points": False},
                           models={"m": {"capture": True}}) as tel:
        _feed(7)
        tel.flush()
        plugin = tel.plugin(path)
    assert plugin is not None and plugin.rows == 7


def test_a_factory_returning_several_plugins_registers_each() -> None:
    path = "tests.agent.sample_plugins:make_counting_plugins"
    with capture_telemetry(plugins={"enabled": [], "paths": [path], "entry_points": False},
                           models={"m": {"capture": True}}) as tel:
        _feed(3)
        tel.flush()
        running = tel.agent
        assert running is not None
        counted = [running.host.plugin(p.name).rows for p in running.host.describe() if p.source == "path"]
    assert counted == [3, 3]


def test_misspelled_hook_is_rejected_naming_plugin_hook_and_closest_name() -> None:
    from tests.agent.sample_plugins import Misspelled

    with capture_telemetry() as tel:
        with pytest.raises(PluginError) as info:
            agent.register_plugin(Misspelled(), "typo")
        assert tel.plugin("typo") is None
    message = str(info.value)
    assert "'typo'" in message and "'infersight_proces_records' is not an InferSight hook" in message
    assert "did you mean 'infersight_process_records'" in message


def test_misspelled_hook_from_an_import_path_is_a_load_failure_event() -> None:
    path = "tests.agent.sample_plugins:Misspelled"
    with capture_telemetry(plugins={"enabled": [], "paths": [path], "entry_points": False}) as tel:
        failures = tel.events("ml.agent.plugin_load_failed")
    assert failures[0]["plugin"] == path
    assert "did you mean 'infersight_process_records'" in failures[0]["error"]


def test_unmarked_hook_method_is_registered_and_called() -> None:
    from tests.agent.sample_plugins import Unmarked

    with run_plugin(Unmarked, models={"m": {"capture": True}}) as h:
        _feed(4)
        h.flush()
        plugin = h.plugin("unmarked")
    assert plugin.rows == 4


def test_plugin_registered_after_init_is_configured_and_sees_later_calls() -> None:
    from tests.agent.sample_plugins import Counting

    with capture_telemetry({"counting": {"limit": 3}}, models={"m": {"capture": True}},
                           plugins={"enabled": [], "paths": ["tests.agent.sample_plugins"],
                                    "entry_points": False}) as tel:
        late = Counting()
        assert agent.register_plugin(late, "late") == ["late"]
        _feed(5)
        tel.flush()
    assert late.config == {"limit": 3}  # historic configure: it got the same config as the others
    assert late.rows == 5


def test_late_plugin_with_bad_config_raises_and_stays_unregistered() -> None:
    from tests.agent.sample_plugins import Counting

    with capture_telemetry({"counting": {"limit": 3}},
                           plugins={"enabled": [], "paths": ["tests.agent.sample_plugins"],
                                    "entry_points": False}) as tel:
        running = tel.agent
        assert running is not None
        running.context.config["counting"]["limit"] = "ten"  # as if the table had been bad all along
        with pytest.raises(ConfigError):
            agent.register_plugin(Counting(), "late")
        assert tel.plugin("late") is None


def test_system_exit_and_keyboard_interrupt_from_a_plugin_are_contained_and_counted() -> None:
    from tests.agent.sample_plugins import Counting, ExitsTheProcess

    counting = Counting()
    with capture_telemetry(register=[("exits", ExitsTheProcess()), ("counting", counting)],
                           agent={"plugin_max_failures": 1000, "batch_size": 1},
                           models={"m": {"capture": True}}) as tel:
        outputs = _feed(6)
        assert tel.flush()
        assert tel.agent is not None and tel.agent.worker._thread is not None
        worker_alive = tel.agent.worker._thread.is_alive()
        errors = tel.events("ml.agent.plugin_error")
        more = _feed(2)  # the worker still works after both
        assert tel.flush()
    assert outputs == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0] and more == [0.0, 2.0]
    assert worker_alive
    assert counting.rows == 8
    assert {e["error"].split(":")[0] for e in errors} == {"SystemExit", "KeyboardInterrupt"}
    assert tel.plugin_errors >= 6


def test_exception_whose_str_and_repr_raise_is_logged_and_counted() -> None:
    from tests.agent.sample_plugins import RaisesUnprintable

    with run_plugin(RaisesUnprintable, models={"m": {"capture": True}}) as h:
        _feed(2)
        assert h.flush()
        errors = h.events("ml.agent.plugin_error")
        count = h.plugin_errors
    assert count >= 1
    assert errors and errors[0]["error"] == "_UnprintableError: <unprintable>"
    assert errors[0]["plugin"] == "raisesunprintable" and errors[0]["hook"] == "infersight_process_records"


def test_plugin_blocking_in_configure_times_out_and_is_disabled() -> None:
    from tests.agent.sample_plugins import BlocksInConfigure

    blocker = BlocksInConfigure()
    try:
        with capture_telemetry(register=[("blocker", blocker)], agent={"plugin_configure_timeout": 0.3}) as tel:
            assert agent.is_running()  # init went on without it
            timeouts = tel.events("ml.agent.plugin_timeout")
            assert tel.plugin("blocker") is None
    finally:
        blocker.release.set()
    assert timeouts and timeouts[0]["plugin"] == "blocker" and timeouts[0]["hook"] == "infersight_configure"


def test_record_training_reaches_plugins_in_order_with_the_calls_around_it() -> None:
    seen: list[tuple[str, object]] = []

    class Listener:
        def infersight_process_records(self, model: agent.ModelInfo, records: agent.RecordBatch) -> None:
            seen.extend(("row", float(v)) for v in records.columns["a"])

        def infersight_training_recorded(self, model: agent.ModelInfo, training: agent.TrainingRecord) -> None:
            seen.append(("training", (model.name, training.version, training.metrics)))

    with capture_telemetry(register=[("listener", Listener())], models={"m": {"capture": True}}) as tel:
        _feed(2)
        record = agent.record_training("m", "2.0", trained_at=1.7e9, data_until=1.69e9, metrics={"accuracy": 0.9})
        _feed(1)
        assert tel.flush()
    assert record is not None and record.version == "2.0"
    assert seen == [("row", 0.0), ("row", 1.0), ("training", ("m", "2.0", {"accuracy": 0.9})), ("row", 0.0)]
    with pytest.raises(ValueError, match="metric 'accuracy'"):
        agent.record_training("m", "2.1", trained_at=1.7e9, metrics={"accuracy": "high"})


def test_preload_imports_once_on_another_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.plugin import preload

    (tmp_path / "slow_to_import_mod.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(threading.enumerate())
    preload("slow_to_import_mod", "no_such_module_for_preload")
    started = [t for t in threading.enumerate() if t not in before and t.name == "infersight-preload"]
    for t in started:
        t.join(10)
    import slow_to_import_mod  # type: ignore[import-not-found]

    assert slow_to_import_mod.THREAD == "infersight-preload"  # imported there, not here
    before = set(threading.enumerate())
    preload("slow_to_import_mod", "no_such_module_for_preload")  # once per process: no second thread
    assert not [t for t in threading.enumerate() if t not in before and t.name == "infersight-preload"]
