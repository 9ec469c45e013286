"""The health plugin on the real host (``agent.testing.run_plugin``): signals, log events and gauges.

Artifact identities are kept by the core for the life of the process (they outlive an
``init`` and are handed to every later agent), so every test names its own model, and a
test that records an unreadable artifact replaces it with a readable one afterwards.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import pytest

import agent
from agent.plugin import ConfigError, Signal
from agent.testing import CapturedTelemetry, run_plugin
from plugins.health import names as n

GOOD = b"model weights v3.2"
WRONG = b"model weights v3.1 (older binary)"
QUIET: dict[str, Any] = {"dependencies": [], "system_metrics": False, "gpu": False}


def _pin(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


HEALTH_SIGNALS = frozenset(v for k, v in vars(n).items() if k.startswith("SIGNAL_"))


def _health(signals: list[Signal]) -> list[Signal]:
    """The health plugin's signals since the last ``tick()``, one per series (a standing problem is
    re-sent on every tick, and the real clock may have ticked as well before the flush's tick)."""
    latest = {(s.name, tuple(sorted(s.labels.items()))): s for s in signals if s.name in HEALTH_SIGNALS}
    return list(latest.values())


def _by_name(signals: list[Signal]) -> dict[str, Signal]:
    return {s.name: s for s in _health(signals)}


@pytest.fixture
def unreadable_model() -> Iterator[str]:
    """A model name whose unreadable artifact the test records; replaced by a readable one afterwards."""
    yield "fraud-missing"
    agent.record_artifact("fraud-missing", GOOD)  # later agents must not inherit a standing path problem


def _about(events: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get(n.ATTR_MODEL) == model]


def _severity(h: CapturedTelemetry, event: str) -> list[str]:
    return [str(r.log_record.severity_text).lower() for r in h.log_records() if str(r.log_record.body) == event]


def test_wrong_configured_artifact_and_changed_pin_publish_signals_and_error_events(tmp_path: Path) -> None:
    artifact = tmp_path / "fraud.bin"
    artifact.write_bytes(WRONG)
    config = {
        "health": {"dependencies": ["numpy"], "pins": {"numpy": "1.26.0"}, "system_metrics": False},
        "models": {"fraud-configured": {"version": "3.2", "artifact": str(artifact),
                                        "expected_digest": _pin(GOOD)}},
    }  # fmt: skip
    with run_plugin("health", config=config) as h:
        signals = _by_name(h.tick())
        digest = signals[n.SIGNAL_DIGEST_MISMATCH]
        assert digest.labels == {"model": "fraud-configured"}
        assert (digest.details["expected"], digest.details["actual"]) == (_pin(GOOD), _pin(WRONG))
        assert digest.details["path"] == str(artifact)
        dep = signals[n.SIGNAL_DEPENDENCY_MISMATCH]
        assert dep.labels == {"package": "numpy"}
        assert dep.details == {"expected": "1.26.0", "actual": numpy.__version__}

        [mismatch] = h.events(n.EVENT_DEPLOYMENT_MISMATCH)
        assert (mismatch[n.ATTR_MODEL], mismatch[n.ATTR_MISMATCH_KIND]) == ("fraud-configured", "digest")
        assert (mismatch[n.ATTR_EXPECTED], mismatch[n.ATTR_ACTUAL]) == (_pin(GOOD), _pin(WRONG))
        assert _severity(h, n.EVENT_DEPLOYMENT_MISMATCH) == ["error"]
        [dep_event] = h.events(n.EVENT_DEPENDENCY_MISMATCH)
        assert (dep_event[n.ATTR_PACKAGE], dep_event[n.ATTR_PACKAGE_PIN]) == ("numpy", "1.26.0")
        assert dep_event[n.ATTR_PACKAGE_VERSION] == numpy.__version__
        [deployed] = _about(h.events(n.EVENT_ARTIFACT), "fraud-configured")
        assert set(_severity(h, n.EVENT_ARTIFACT)) == {"info"}
        assert deployed[n.ATTR_ARTIFACT_SIZE] == len(WRONG)
        assert deployed[n.ATTR_ARTIFACT_PATH] == str(artifact)
        assert deployed[n.ATTR_ARTIFACT_SHA256] == hashlib.sha256(WRONG).hexdigest()
        assert deployed[n.ATTR_VERSION] == "3.2"
        [inventory] = h.events(n.EVENT_INVENTORY)
        assert json.loads(inventory[n.ATTR_PACKAGES]) == {"numpy": numpy.__version__}
        assert inventory[n.ATTR_RUNTIME_VERSION].count(".") == 2

        info = {(p.attributes[n.ATTR_PACKAGE], p.attributes[n.ATTR_PACKAGE_VERSION]): p.value
                for p in h.metric_points(n.DEPENDENCY_INFO)}  # fmt: skip
        assert info[("numpy", numpy.__version__)] == 1
        assert any(pkg == "python" for pkg, _ in info)
        # The configured artifact went through the core: the model's spans carry its digest.
        h.feed("fraud-configured", {"x": 1.0})
        h.flush()
        [span] = h.spans()
        assert span.attributes is not None
        assert span.attributes["ml.model.artifact.sha256"] == hashlib.sha256(WRONG).hexdigest()
    assert h.plugin_errors == 0


def test_matching_artifact_and_pins_publish_nothing(tmp_path: Path) -> None:
    artifact = tmp_path / "fraud.bin"
    artifact.write_bytes(GOOD)
    pinned = _pin(GOOD).upper().replace("SHA256:", "sha256:")  # the hex part of a pin is case-insensitive
    config = {
        "health": {**QUIET, "dependencies": ["numpy"], "pins": {"numpy": numpy.__version__}},
        "models": {"fraud-matching": {"version": "3.2", "artifact": str(artifact), "expected_digest": pinned,
                                      "expected_version": "3.2"}},
    }  # fmt: skip
    with run_plugin("health", config=config) as h:
        assert _health(h.tick()) == []
        errors = [r for r in h.log_records() if str(r.log_record.severity_text).lower() == "error"]
        assert errors == []
        plugin = h.plugin("health")
        assert plugin.identity("fraud-matching").digest == _pin(GOOD)


@pytest.mark.parametrize("pin", ["md5:abc", "deadbeef", "sha256:" + "a" * 63])
def test_bad_expected_digest_is_a_config_error_naming_the_key(pin: str) -> None:
    config = {"health": QUIET, "models": {"fraud": {"expected_digest": pin}}}
    with pytest.raises(ConfigError) as err, run_plugin("health", config=config):
        pass
    assert err.value.key == "models.fraud.expected_digest"
    assert "sha256:<64 hex>" in str(err.value)


@pytest.mark.parametrize(
    ("section", "key"),
    [({"dependencies": "numpy"}, "health.dependencies"), ({"pins": {"numpy": 2}}, "health.pins.numpy"),
     ({"gpu": "yes"}, "health.gpu"), ({"gpus": True}, "health.gpus")],
)  # fmt: skip
def test_bad_health_table_fails_init_naming_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err, run_plugin("health", config={"health": section}):
        pass
    assert err.value.key == key


def test_version_mismatch_is_found_at_init_or_when_the_model_first_reports() -> None:
    config = {"health": QUIET, "models": {"va": {"version": "1.0", "expected_version": "2.0"},
                                          "vb": {"expected_version": "5"}}}  # fmt: skip
    with run_plugin("health", config=config) as h:
        at_init = [s for s in h.tick() if s.name == n.SIGNAL_VERSION_MISMATCH]
        assert {(s.labels["model"], s.details["actual"]) for s in at_init} == {("va", "1.0")}
        h.feed("vb", {"x": 1.0}, version="4")  # the decorator names the version at run time
        later = [s for s in h.tick() if s.name == n.SIGNAL_VERSION_MISMATCH]
        assert {(s.labels["model"], s.details["actual"]) for s in later} == {("va", "1.0"), ("vb", "4")}
        again = [s for s in h.tick() if s.name == n.SIGNAL_VERSION_MISMATCH]
        assert {s.labels["model"] for s in again} == {"va", "vb"}  # standing problems are re-sent
        # ... but each mismatch is logged once
        assert sorted(e[n.ATTR_MODEL] for e in h.events(n.EVENT_DEPLOYMENT_MISMATCH)) == ["va", "vb"]


def test_record_artifact_before_and_after_init_is_checked_against_the_pin() -> None:
    model = "fraud-recorded"
    early = agent.record_artifact(model, WRONG)  # no agent yet: kept by the core, delivered after configure
    assert early == _pin(WRONG)
    config = {"health": QUIET, "models": {model: {"expected_digest": _pin(GOOD)}}}
    with run_plugin("health", config=config) as h:
        assert [s.name for s in _health(h.tick())] == [n.SIGNAL_DIGEST_MISMATCH]
        assert agent.record_artifact(model, bytearray(GOOD)) == _pin(GOOD)
        h.flush()
        assert h.plugin("health").identity(model).digest == _pin(GOOD)
        assert agent.record_artifact(model, memoryview(WRONG)) == _pin(WRONG)
        h.flush()
        deployed = [e for e in h.events(n.EVENT_ARTIFACT) if e[n.ATTR_MODEL] == model]
        assert [e[n.ATTR_ARTIFACT_SHA256] for e in deployed] == [
            hashlib.sha256(d).hexdigest() for d in (WRONG, GOOD, WRONG)
        ]
        assert all(n.ATTR_ARTIFACT_PATH not in e for e in deployed)  # bytes have no path
        mismatches = _about(h.events(n.EVENT_DEPLOYMENT_MISMATCH), model)
        assert [e[n.ATTR_ACTUAL] for e in mismatches] == [_pin(WRONG), _pin(WRONG)]
    assert h.plugin_errors == 0


def test_record_artifact_of_a_missing_file_reports_a_path_problem_instead_of_raising(
    tmp_path: Path, unreadable_model: str
) -> None:
    missing = tmp_path / "nope.bin"
    with run_plugin("health", config={"health": QUIET}) as h:
        assert agent.record_artifact(unreadable_model, missing) is None
        [signal] = [s for s in h.tick() if s.name == n.SIGNAL_PATH_PROBLEM]
        assert signal.labels == {"path": str(missing), "role": "models.fraud-missing.artifact", "access": "read"}
        assert "ENOENT" in signal.details["error"]
        [event] = h.events(n.EVENT_PATH_PROBLEM)
        assert (event[n.ATTR_PATH], event[n.ATTR_PATH_ACCESS]) == (str(missing), "read")
        assert "ENOENT" in event[n.ATTR_ERROR_MESSAGE]
        assert _about(h.events(n.EVENT_ARTIFACT), unreadable_model) == []


def test_configured_artifact_that_cannot_be_read_is_a_path_problem(tmp_path: Path) -> None:
    config = {"health": QUIET, "models": {"fraud-gone": {"artifact": str(tmp_path / "gone.onnx")}}}
    with run_plugin("health", config=config) as h:
        [signal] = _health(h.tick())
        assert (signal.name, signal.labels["role"]) == (n.SIGNAL_PATH_PROBLEM, "models.fraud-gone.artifact")


def _unwritable_dir(tmp_path: Path) -> Path:
    """A data directory the process cannot write to, whoever it runs as.

    As root, permission bits do not stop writes (CAP_DAC_OVERRIDE), so a directory whose
    parent is a regular file (ENOTDIR) stands in for root; others get a 0500 directory.
    """
    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a regular file")
        return blocker / "data"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked


def test_unwritable_data_dir_gives_a_clear_problem_and_init_still_succeeds(tmp_path: Path) -> None:
    data_dir = _unwritable_dir(tmp_path)
    try:
        with run_plugin("health", config={"health": QUIET}, agent={"data_dir": str(data_dir)}) as h:
            [signal] = _health(h.tick())
            [event] = h.events(n.EVENT_PATH_PROBLEM)
    finally:
        if data_dir.is_dir():
            data_dir.chmod(0o700)
    assert signal.name == n.SIGNAL_PATH_PROBLEM
    assert signal.labels == {"path": str(data_dir), "role": "data directory", "access": "write"}
    assert signal.details["error"].split()[1] in ("[ENOTDIR]", "[EACCES]")
    assert (event[n.ATTR_PATH], event[n.ATTR_PATH_ACCESS]) == (str(data_dir), "write")


def test_declared_dependency_that_fails_to_import_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "brokenpkg-1.0.dist-info").mkdir(parents=True)
    (site / "brokenpkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenpkg\nVersion: 1.0\n")
    (site / "brokenpkg.py").write_text("raise ImportError('libbroken.so: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(site))
    config = {"health": {**QUIET, "dependencies": ["brokenpkg", "not-installed-pkg"]}}
    with run_plugin("health", config=config) as h:
        signals = {s.labels["package"]: s for s in _health(h.tick())}
        events = h.events(n.EVENT_IMPORT_ERROR)
    assert signals["brokenpkg"].name == n.SIGNAL_IMPORT_ERROR
    assert "libbroken.so" in signals["brokenpkg"].details["error"]
    assert "not installed" in signals["not-installed-pkg"].details["error"]
    assert {e[n.ATTR_PACKAGE] for e in events} == {"brokenpkg", "not-installed-pkg"}


def test_machine_metrics_are_exported_and_shutdown_detaches_the_gc_hook() -> None:
    before = len(gc.callbacks)
    with run_plugin("health", config={"health": {"dependencies": [], "gpu": False}}) as h:
        assert len(gc.callbacks) == before + 1
        assert h.metric_points(n.PROCESS_MEMORY_USAGE)[0].value is not None
        [up] = h.metric_points(n.AGENT_UP)
        assert up.value == 1 and n.ATTR_START_TIME in up.attributes
    assert len(gc.callbacks) == before
    assert h.metric_points(n.PROCESS_MEMORY_USAGE) == []  # callbacks report nothing once shut down


def test_gc_pause_timing_can_be_switched_off() -> None:
    before = len(gc.callbacks)
    with run_plugin("health", config={"health": {"dependencies": [], "gpu": False, "gc_pauses": False}}) as h:
        assert len(gc.callbacks) == before
        assert h.metric_points(n.GC_PAUSE_TIME) == []
        assert h.metric_points(n.CPYTHON_GC_COLLECTIONS) != []


def test_a_reading_that_fails_is_counted_every_time_and_logged_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = {"health": {"dependencies": [], "gpu": False}}
    with run_plugin("health", config=config, agent={"data_dir": str(data_dir)}) as h:
        assert h.metric_points(n.SYSTEM_FILESYSTEM_USAGE) != []
        shutil.rmtree(data_dir)  # the filesystem metrics read the data directory's filesystem
        for _ in range(3):
            assert h.metric_points(n.SYSTEM_FILESYSTEM_USAGE) == []
        assert h.metric_points(n.PROCESS_MEMORY_USAGE) != []  # the other readings go on
        failures = {p.attributes[n.ATTR_INSTRUMENT]: p.value for p in h.metric_points(n.COLLECTION_FAILURES)}
        events = h.events(n.EVENT_COLLECTION_FAILED)
    assert failures[n.SYSTEM_FILESYSTEM_USAGE] >= 3
    by_instrument = [e[n.ATTR_INSTRUMENT] for e in events]
    assert n.SYSTEM_FILESYSTEM_USAGE in by_instrument and len(by_instrument) == len(set(by_instrument))
    assert all("FileNotFoundError" in e[n.ATTR_ERROR_MESSAGE] for e in events)
