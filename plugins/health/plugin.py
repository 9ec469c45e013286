"""The health plugin: init checks become signals and log events; heartbeat, inventory and machine metrics.

Module state (labelled): ``_ACTIVE`` is the plugin of the running agent, so that
``record_artifact`` (public API) can reach it; ``_PENDING`` holds artifacts recorded
before ``agent.init``, reported when the plugin is configured.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from agent._runtime import PluginContext
from agent._types import ModelInfo, Signal
from agent.hookspecs import hookimpl
from plugins.health import names as n
from plugins.health.checks import CheckReport, run_checks
from plugins.health.dependencies import PYTHON, DependencyError, Inventory
from plugins.health.gpu import GpuMetrics, register_gpu_metrics
from plugins.health.heartbeat import register_heartbeat
from plugins.health.identity import (
    ArtifactIdentity,
    ArtifactSource,
    Mismatch,
    ModelPins,
    check_digest,
    check_version,
    identify,
    model_pins,
)
from plugins.health.paths import PathProblem, check_readable
from plugins.health.settings import HealthSettings, parse_settings
from plugins.health.system import SystemMetrics, register_system_metrics

__all__ = ["HealthPlugin", "artifact_identity", "record_artifact"]


class _State:
    """The module's only mutable state, behind ``_LOCK``."""

    def __init__(self) -> None:
        self.active: HealthPlugin | None = None
        self.pending: list[ArtifactIdentity | PathProblem] = []


# -- module state ---------------------------------------------------------------------
_LOCK = threading.Lock()
_STATE = _State()

_SIGNAL_FOR: dict[str, str] = {
    "digest": n.SIGNAL_DIGEST_MISMATCH,
    "version": n.SIGNAL_VERSION_MISMATCH,
    "dependency": n.SIGNAL_DEPENDENCY_MISMATCH,
}


class HealthPlugin:
    """Deployment identity, dependency inventory, path checks, heartbeat, process/system/GPU metrics."""

    def __init__(self) -> None:
        self._ctx: PluginContext | None = None
        self._settings = HealthSettings()
        self._pins: dict[str, ModelPins] = {}
        self._checked_versions: set[tuple[str, str]] = set()
        self._identities: dict[str, ArtifactIdentity] = {}
        self._inventory: Inventory | None = None
        self._system: SystemMetrics | None = None
        self._gpu: GpuMetrics | None = None
        self._failed_instruments: set[str] = set()
        # Problems found stay true until the process restarts: they are re-sent every tick so an
        # alert on them keeps firing (and a no-data rule does not mistake silence for health).
        self._standing: dict[tuple[str, tuple[tuple[str, str], ...]], Signal] = {}
        self._last_tick: float | None = None
        self.report: CheckReport | None = None

    # -- hooks --------------------------------------------------------------------------

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Validate config (ConfigError fails init), run the init checks and register the instruments."""
        settings = parse_settings(agent.section("health"))
        pins = {name: model_pins(info) for name, info in agent.models.items()}
        self._ctx, self._settings, self._pins = agent, settings, pins
        register_heartbeat(agent.meter, agent.clock())
        agent.meter.create_observable_gauge(
            n.DEPENDENCY_INFO,
            callbacks=[self._observe_inventory],
            unit="",
            description="1 per installed dependency, with its version; package python is the interpreter.",
        )
        signals: list[Signal] = []
        try:
            signals.extend(self._initial_checks(agent))
        except Exception as exc:  # a check that breaks must not stop the agent (nor the model) from starting
            agent.log.error(n.EVENT_CHECK_FAILED, error=f"{type(exc).__name__}: {exc}")
        if settings.system_metrics:
            self._system = register_system_metrics(
                agent.meter,
                data_dir=agent.data_dir,
                on_error=self._instrument_failed,
                gc_pauses=settings.gc_pauses,
            )
        if settings.gpu:
            self._gpu = register_gpu_metrics(agent.meter, self._instrument_failed)
        with _LOCK:
            pending, _STATE.pending = _STATE.pending, []
            _STATE.active = self
        for item in pending:
            signals.extend(self.on_artifact(item, publish=False))
        if signals:
            agent.publish(signals)

    def _initial_checks(self, agent: PluginContext) -> list[Signal]:
        versions = {name: info.version for name, info in agent.models.items()}
        report = run_checks(self._settings, self._pins, versions, agent.data_dir)
        self.report = report
        self._checked_versions = {(m, v) for m, v in versions.items() if v and m in self._pins}
        signals = [self._path_problem(problem) for problem in report.path_problems]
        for identity in report.identities:
            self._log_artifact(identity)
        self._log_inventory(report.inventory)
        signals.extend(self._import_error(error) for error in report.inventory.errors)
        for m in report.mismatches:
            artifact = self._pins[m.subject].artifact if m.kind == "digest" else None
            signals.append(self._mismatch(m, path=str(artifact) if artifact else None))
        return signals

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Re-send standing problems once per tick; check a late-decorated model's ``expected_version``."""
        out: list[Signal] = []
        if now != self._last_tick:
            self._last_tick = now
            out.extend(replace(s, timestamp=now) for s in self._standing.values())
        pins = self._pins.get(model.name)
        if pins is None or pins.expected_version is None or not model.version:
            return out or None
        if (model.name, model.version) in self._checked_versions:
            return out or None
        self._checked_versions.add((model.name, model.version))
        mismatch = check_version(model.version, pins)
        if mismatch:
            out.append(self._mismatch(mismatch))
        return out or None

    def _stand(self, signal: Signal) -> Signal:
        self._standing[(signal.name, tuple(sorted(signal.labels.items())))] = signal
        return signal

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Detach the GC hook and release NVML; stop being the target of ``record_artifact``."""
        if self._system:
            self._system.close()
        if self._gpu:
            self._gpu.close()
        with _LOCK:
            if _STATE.active is self:
                _STATE.active = None

    # -- artifacts recorded at run time ------------------------------------------------

    def on_artifact(self, item: ArtifactIdentity | PathProblem, *, publish: bool = True) -> list[Signal]:
        """Log a recorded artifact (or the problem reading it) and compare it to its pin."""
        if isinstance(item, PathProblem):
            signals = [self._path_problem(item)]
        else:
            self._log_artifact(item)
            pins = self._pins.get(item.model)
            mismatch = check_digest(item, pins) if pins else None
            signals = [self._mismatch(mismatch, path=item.path)] if mismatch else []
        if publish and signals and self._ctx is not None:
            self._ctx.publish(signals)
        return signals

    def identity(self, model: str) -> ArtifactIdentity | None:
        """The last artifact identity recorded for ``model``."""
        return self._identities.get(model)

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight doctor`` to the command line."""
        from plugins.health.commands import add_commands

        add_commands(subparsers)

    # -- reporting ------------------------------------------------------------------------

    def _now(self) -> float:
        return self._ctx.clock() if self._ctx else 0.0

    def _log(self) -> Any:
        assert self._ctx is not None
        return self._ctx.log

    def _log_artifact(self, identity: ArtifactIdentity) -> None:
        self._identities[identity.model] = identity
        version = self._ctx.model(identity.model).version if self._ctx else ""
        self._log().info(
            n.EVENT_ARTIFACT,
            model=identity.model,
            version=version,
            sha256=identity.sha256,
            size=identity.size,
            path=identity.path,
        )

    def _log_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._log().info(n.EVENT_INVENTORY, python=inventory.python, packages=dict(inventory.packages))

    def _mismatch(self, m: Mismatch, *, path: str | None = None) -> Signal:
        details = {"expected": m.expected, "actual": m.actual}
        if m.kind == "dependency":
            self._log().error(n.EVENT_DEPENDENCY_MISMATCH, package=m.subject, **details)
            return self._stand(Signal(_SIGNAL_FOR[m.kind], 1.0, {"package": m.subject}, details, self._now()))
        self._log().error(n.EVENT_DEPLOYMENT_MISMATCH, model=m.subject, kind=m.kind, path=path, **details)
        return self._stand(
            Signal(_SIGNAL_FOR[m.kind], 1.0, {"model": m.subject}, {**details, "path": path}, self._now())
        )

    def _import_error(self, e: DependencyError) -> Signal:
        self._log().error(n.EVENT_IMPORT_ERROR, package=e.package, error=e.error)
        return self._stand(Signal(n.SIGNAL_IMPORT_ERROR, 1.0, {"package": e.package}, {"error": e.error}, self._now()))

    def _path_problem(self, p: PathProblem) -> Signal:
        self._log().error(n.EVENT_PATH_PROBLEM, path=p.path, role=p.role, access=p.access, error=p.error)
        labels = {"path": p.path, "role": p.role, "access": p.access}
        return self._stand(Signal(n.SIGNAL_PATH_PROBLEM, 1.0, labels, {"error": p.error}, self._now()))

    def _observe_inventory(self, _options: CallbackOptions) -> Iterable[Observation]:
        inv = self._inventory
        if inv is None:
            return []
        versions = {PYTHON: inv.python, **inv.packages}
        return [Observation(1, {n.ATTR_PACKAGE: p, n.ATTR_PACKAGE_VERSION: v}) for p, v in versions.items()]

    def _instrument_failed(self, instrument: str, exc: Exception) -> None:
        # Once per instrument: a reader that fails keeps failing, and a log line per export is noise.
        if instrument in self._failed_instruments or self._ctx is None:
            return
        self._failed_instruments.add(instrument)
        error = f"{type(exc).__name__}: {exc}"
        self._log().warning(n.EVENT_COLLECTION_FAILED, instrument=instrument, error=error)


def record_artifact(model_name: str, path_or_bytes: ArtifactSource) -> ArtifactIdentity | None:
    """Record the artifact a model was loaded from: hash it, log it, compare it to the model's pin.

    Call it where the model is loaded (the file is read once, in chunks, on the
    calling thread). Before ``agent.init`` the identity is kept and reported at init.
    Returns the identity, or None when the path cannot be read (reported, not raised).
    """
    item: ArtifactIdentity | PathProblem
    role = f"models.{model_name}.artifact"
    try:
        item = identify(model_name, path_or_bytes)
    except OSError as exc:
        path = os.fspath(path_or_bytes) if isinstance(path_or_bytes, str | os.PathLike) else "<bytes>"
        item = check_readable(path, role) or PathProblem(str(path), role, "read", str(exc))
    with _LOCK:
        plugin = _STATE.active
        if plugin is None:
            _STATE.pending.append(item)
    if plugin is not None:
        plugin.on_artifact(item)
    return item if isinstance(item, ArtifactIdentity) else None


def artifact_identity(model_name: str) -> ArtifactIdentity | None:
    """The artifact identity last recorded for ``model_name`` by the running agent (None when unknown)."""
    with _LOCK:
        plugin = _STATE.active
    return plugin.identity(model_name) if plugin else None
