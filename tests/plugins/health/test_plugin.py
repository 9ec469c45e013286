"""The health plugin end to end over a real PluginContext: signals, log events and gauges at init."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import numpy
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from structlog.testing import capture_logs

from agent._errors import ConfigError
from agent._types import ModelInfo
from plugins.health import make_plugin, record_artifact
from plugins.health import names as n
from plugins.health.plugin import HealthPlugin, artifact_identity
from tests.plugins.health.conftest import MakeContext, metric_points

GOOD = b"model weights v3.2"
WRONG = b"model weights v3.1 (older binary)"


@pytest.fixture
def plugin() -> Iterator[HealthPlugin]:
    """A fresh plugin, shut down after the test so no GC hook or active-plugin state leaks."""
    p = make_plugin()
    yield p
    if p._ctx is not None:
        p.infersight_shutdown(p._ctx)


def _model(name: str, **options: object) -> ModelInfo:
    version = str(options.pop("version", "3.2"))
    return ModelInfo(name=name, version=version, options=options)


def _events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_wrong_artifact_and_changed_pin_publish_signals_and_error_events(
    tmp_path: Path, make_context: MakeContext, plugin: HealthPlugin, reader: InMemoryMetricReader
) -> None:
    artifact = tmp_path / "fraud.bin"
    artifact.write_bytes(WRONG)
    pinned = "sha256:" + hashlib.sha256(GOOD).hexdigest()
    config = {"health": {"dependencies": ["numpy"], "pins": {"numpy": "1.26.0"}, "system_metrics": False}}
    ctx = make_context(config, {"fraud": _model("fraud", artifact=str(artifact), expected_digest=pinned)})
    with capture_logs() as logs:
        plugin.infersight_configure(config, ctx)
    signals = {s.name: s for s in ctx.take_published()}

    digest = signals[n.SIGNAL_DIGEST_MISMATCH]
    assert digest.labels == {"model": "fraud"}
    assert digest.details["expected"] == pinned
    assert digest.details["actual"] == "sha256:" + hashlib.sha256(WRONG).hexdigest()
    dep = signals[n.SIGNAL_DEPENDENCY_MISMATCH]
    assert dep.labels == {"package": "numpy"}
    assert dep.details == {"expected": "1.26.0", "actual": numpy.__version__}

    [mismatch] = _events(logs, n.EVENT_DEPLOYMENT_MISMATCH)
    assert mismatch["log_level"] == "error"
    assert (mismatch["model"], mismatch["expected"], mismatch["actual"]) == (
        "fraud", pinned, digest.details["actual"],
    )  # fmt: skip
    [dep_event] = _events(logs, n.EVENT_DEPENDENCY_MISMATCH)
    assert dep_event["log_level"] == "error"
    assert (dep_event["package"], dep_event["actual"]) == ("numpy", numpy.__version__)
    [deployed] = _events(logs, n.EVENT_ARTIFACT)
    assert deployed["log_level"] == "info"
    assert deployed["size"] == len(WRONG)
    assert deployed["path"] == str(artifact)
    assert deployed["version"] == "3.2"
    [inventory] = _events(logs, n.EVENT_INVENTORY)
    assert inventory["packages"] == {"numpy": numpy.__version__}

    info = {(p.attributes[n.ATTR_PACKAGE], p.attributes[n.ATTR_PACKAGE_VERSION]): p.value
            for p in metric_points(reader)[n.DEPENDENCY_INFO]}  # fmt: skip
    assert info[("numpy", numpy.__version__)] == 1
    assert any(pkg == "python" for pkg, _ in info)


def test_matching_artifact_and_pins_publish_nothing(
    tmp_path: Path, make_context: MakeContext, plugin: HealthPlugin
) -> None:
    artifact = tmp_path / "fraud.bin"
    artifact.write_bytes(GOOD)
    pinned = "sha256:" + hashlib.sha256(GOOD).hexdigest().upper()  # pins are case-insensitive
    config = {"health": {"dependencies": ["numpy"], "pins": {"numpy": numpy.__version__}, "system_metrics": False}}
    ctx = make_context(config, {"fraud": _model("fraud", artifact=str(artifact), expected_digest=pinned,
                                                expected_version="3.2")})  # fmt: skip
    with capture_logs() as logs:
        plugin.infersight_configure(config, ctx)
    assert ctx.take_published() == []
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert artifact_identity("fraud") is not None


def test_bad_expected_digest_is_a_config_error_naming_the_key(
    make_context: MakeContext, plugin: HealthPlugin
) -> None:
    ctx = make_context({}, {"fraud": _model("fraud", expected_digest="md5:abc")})
    with pytest.raises(ConfigError) as err:
        plugin.infersight_configure({}, ctx)
    assert err.value.key == "models.fraud.expected_digest"
    assert "sha256:<64 hex>" in str(err.value)


def test_version_mismatch_is_found_at_init_or_when_the_model_first_reports(
    make_context: MakeContext, plugin: HealthPlugin
) -> None:
    models = {"a": _model("a", version="1.0", expected_version="2.0"),
              "b": _model("b", version="", expected_version="5")}  # fmt: skip
    config = {"health": {"dependencies": [], "system_metrics": False}}
    ctx = make_context(config, models)
    with capture_logs() as logs:
        plugin.infersight_configure(config, ctx)
        later = plugin.infersight_collect_signals(ModelInfo(name="b", version="4"), 0.0)
        again = plugin.infersight_collect_signals(ModelInfo(name="b", version="4"), 1.0)
    [at_init] = ctx.take_published()
    assert (at_init.name, at_init.labels) == (n.SIGNAL_VERSION_MISMATCH, {"model": "a"})
    assert at_init.details["actual"] == "1.0"
    # the first tick re-sends the standing problem found at init, then reports the new one
    assert later is not None and [(s.name, s.labels["model"], s.details["actual"]) for s in later] == [
        (n.SIGNAL_VERSION_MISMATCH, "a", "1.0"),
        (n.SIGNAL_VERSION_MISMATCH, "b", "4"),
    ]
    # later ticks re-send both standing problems, but log each mismatch only once
    assert again is not None and sorted(s.labels["model"] for s in again) == ["a", "b"]
    assert [e["model"] for e in _events(logs, n.EVENT_DEPLOYMENT_MISMATCH)] == ["a", "b"]


def test_record_artifact_before_and_after_init_is_checked_against_the_pin(
    make_context: MakeContext, plugin: HealthPlugin
) -> None:
    pinned = "sha256:" + hashlib.sha256(GOOD).hexdigest()
    early = record_artifact("fraud", WRONG)  # before init: kept, reported at configure
    assert early is not None and early.size == len(WRONG) and early.path is None
    config = {"health": {"dependencies": [], "system_metrics": False}}
    ctx = make_context(config, {"fraud": _model("fraud", expected_digest=pinned)})
    with capture_logs() as logs:
        plugin.infersight_configure(config, ctx)
        assert [s.name for s in ctx.take_published()] == [n.SIGNAL_DIGEST_MISMATCH]
        good = record_artifact("fraud", bytearray(GOOD))
        assert ctx.take_published() == []
        record_artifact("fraud", WRONG)
        assert [s.name for s in ctx.take_published()] == [n.SIGNAL_DIGEST_MISMATCH]
    assert good is not None and good.digest == pinned
    assert len(_events(logs, n.EVENT_ARTIFACT)) == 3


def test_record_artifact_of_a_missing_file_reports_a_path_problem_instead_of_raising(
    tmp_path: Path, make_context: MakeContext, plugin: HealthPlugin
) -> None:
    config = {"health": {"dependencies": [], "system_metrics": False}}
    ctx = make_context(config)
    plugin.infersight_configure(config, ctx)
    with capture_logs() as logs:
        assert record_artifact("fraud", tmp_path / "nope.bin") is None
    [signal] = ctx.take_published()
    assert signal.name == n.SIGNAL_PATH_PROBLEM
    assert signal.labels["access"] == "read"
    assert "ENOENT" in signal.details["error"]
    assert _events(logs, n.EVENT_PATH_PROBLEM)[0]["path"] == str(tmp_path / "nope.bin")


def _unwritable_dir(tmp_path: Path) -> Path:
    """A data directory the process cannot write to, whoever it runs as.

    As root, permission bits do not stop writes (CAP_DAC_OVERRIDE), so chmod 0o500
    would not fail the check; a directory whose parent is a regular file fails for
    root and non-root alike (ENOTDIR), so root gets that instead.
    """
    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a regular file")
        return blocker / "data"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked


def test_unwritable_data_dir_gives_a_clear_problem_and_init_still_succeeds(
    tmp_path: Path, make_context: MakeContext, plugin: HealthPlugin
) -> None:
    data_dir = _unwritable_dir(tmp_path)
    config = {"health": {"dependencies": [], "system_metrics": False}}
    ctx = make_context(config, data_dir=data_dir)
    try:
        with capture_logs() as logs:
            plugin.infersight_configure(config, ctx)
    finally:
        if data_dir.is_dir():
            data_dir.chmod(0o700)
    [signal] = ctx.take_published()
    assert signal.name == n.SIGNAL_PATH_PROBLEM
    assert signal.labels == {"path": str(data_dir), "role": "data directory", "access": "write"}
    assert signal.details["error"].split()[1] in ("[ENOTDIR]", "[EACCES]")
    [event] = _events(logs, n.EVENT_PATH_PROBLEM)
    assert event["log_level"] == "error"
    assert (event["path"], event["access"]) == (str(data_dir), "write")


def test_declared_dependency_that_fails_to_import_is_named(
    tmp_path: Path, make_context: MakeContext, plugin: HealthPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "brokenpkg-1.0.dist-info").mkdir(parents=True)
    (site / "brokenpkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenpkg\nVersion: 1.0\n")
    (site / "brokenpkg.py").write_text("raise ImportError('libbroken.so: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(site))
    config = {"health": {"dependencies": ["brokenpkg", "not-installed-pkg"], "system_metrics": False}}
    ctx = make_context(config)
    with capture_logs() as logs:
        plugin.infersight_configure(config, ctx)
    signals = {s.labels["package"]: s for s in ctx.take_published()}
    assert signals["brokenpkg"].name == n.SIGNAL_IMPORT_ERROR
    assert "libbroken.so" in signals["brokenpkg"].details["error"]
    assert "not installed" in signals["not-installed-pkg"].details["error"]
    assert {e["package"] for e in _events(logs, n.EVENT_IMPORT_ERROR)} == {"brokenpkg", "not-installed-pkg"}


def test_shutdown_detaches_the_gc_hook_and_stops_reporting(
    make_context: MakeContext, plugin: HealthPlugin, reader: InMemoryMetricReader
) -> None:
    before = len(gc.callbacks)
    config: dict[str, Any] = {"health": {"dependencies": []}}
    ctx = make_context(config)
    plugin.infersight_configure(config, ctx)
    assert len(gc.callbacks) == before + 1
    plugin.infersight_shutdown(ctx)
    assert len(gc.callbacks) == before
    assert n.PROCESS_MEMORY_USAGE not in metric_points(reader)
    assert artifact_identity("anything") is None


def test_gc_pause_timing_can_be_switched_off(
    make_context: MakeContext, plugin: HealthPlugin, reader: InMemoryMetricReader
) -> None:
    before = len(gc.callbacks)
    config: dict[str, Any] = {"health": {"dependencies": [], "gc_pauses": False}}
    plugin.infersight_configure(config, make_context(config))
    names = set(metric_points(reader))
    assert len(gc.callbacks) == before
    assert n.GC_PAUSE_TIME not in names and n.CPYTHON_GC_COLLECTIONS in names
