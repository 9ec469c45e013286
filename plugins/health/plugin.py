"""The health plugin: init checks become signals and log events; heartbeat, inventory and machine metrics.

Artifacts are identified by the core: ``agent.record_artifact`` hashes the file and
hands the identity to ``infersight_artifact_recorded``, where the plugin logs it and
compares it with the model's ``expected_digest`` pin. A configured ``[models.NAME]
artifact`` goes the same way: the core identifies it after ``init`` (off the caller's
thread) and delivers it through the same hook.
The plugin keeps no module state: everything lives on the instance the agent registered.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from agent.plugin import ArtifactIdentity, ModelInfo, PluginContext, Signal, describe_exception, hookimpl
from plugins.health import names as n
from plugins.health.checks import CheckReport, artifact_role, run_checks
from plugins.health.config import HealthConfig, ModelPins, model_pins, parse_config
from plugins.health.dependencies import PYTHON, DependencyError, Inventory
from plugins.health.gpu import GpuMetrics, register_gpu_metrics
from plugins.health.heartbeat import register_heartbeat
from plugins.health.identity import Mismatch, check_digest, check_version
from plugins.health.paths import PathProblem, check_readable
from plugins.health.system import SystemMetrics, register_system_metrics

__all__ = ["HealthPlugin", "make_plugin"]

_SIGNAL_FOR: dict[str, str] = {
    "digest": n.SIGNAL_DIGEST_MISMATCH,
    "version": n.SIGNAL_VERSION_MISMATCH,
    "dependency": n.SIGNAL_DEPENDENCY_MISMATCH,
}
_UNREADABLE_SOURCE = "<not a readable path>"


class HealthPlugin:
    """Deployment identity, dependency inventory, path checks, heartbeat, process/system/GPU metrics."""

    def __init__(self) -> None:
        self._ctx: PluginContext | None = None
        self.config = HealthConfig()
        self._pins: dict[str, ModelPins] = {}
        self._checked_versions: set[tuple[str, str]] = set()
        self._identities: dict[str, ArtifactIdentity] = {}
        self._inventory: Inventory | None = None
        self._system: SystemMetrics | None = None
        self._gpu: GpuMetrics | None = None
        self._failures: Any = None
        self._failed_instruments: set[str] = set()
        # Problems found stay true until the process restarts: they are re-sent every tick so an
        # alert on them keeps firing (and a no-data rule does not mistake silence for health).
        self._standing: dict[tuple[str, tuple[tuple[str, str], ...]], Signal] = {}
        self._fresh: set[tuple[str, tuple[tuple[str, str], ...]]] = set()  # published since the last tick
        self._last_tick: float | None = None
        self.report: CheckReport | None = None

    # -- hooks --------------------------------------------------------------------------

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check the config (ConfigError fails init), run the init checks and register the instruments."""
        cfg = parse_config(agent.section("health"))
        pins = {name: model_pins(name, info.options) for name, info in agent.models.items()}
        self._ctx, self.config, self._pins = agent, cfg, pins
        register_heartbeat(agent.meter, agent.clock())
        agent.meter.create_observable_gauge(
            n.DEPENDENCY_INFO,
            callbacks=[self._observe_inventory],
            unit="",
            description="1 per installed dependency, with its version; package python is the interpreter.",
        )
        self._failures = agent.meter.create_counter(
            n.COLLECTION_FAILURES, unit="{failure}",
            description="Readings of process, system or GPU metrics that failed, by instrument.",
        )
        self._publish(self._initial_checks(agent))
        if cfg.system_metrics:
            self._system = register_system_metrics(
                agent.meter, data_dir=agent.data_dir, on_error=self._instrument_failed, gc_pauses=cfg.gc_pauses,
            )
        if cfg.gpu:
            self._gpu = register_gpu_metrics(agent.meter, self._instrument_failed)

    def _initial_checks(self, agent: PluginContext) -> list[Signal]:
        versions = {name: info.version for name, info in agent.models.items()}
        report = run_checks(self.config, self._pins, versions, agent.data_dir)
        self.report = report
        self._checked_versions = {(m, v) for m, v in versions.items() if v and m in self._pins}
        signals = [self._path_problem(problem) for problem in report.path_problems]
        self._log_inventory(report.inventory)
        signals.extend(self._import_error(error) for error in report.inventory.errors)
        signals.extend(self._mismatch(m) for m in report.mismatches)
        return signals

    @hookimpl
    def infersight_artifact_recorded(self, model: ModelInfo, artifact: ArtifactIdentity) -> None:
        """Log an identified artifact and compare it with its pin; an unreadable one is a path problem."""
        assert self._ctx is not None  # configured before any worker hook
        if artifact.error:
            path = artifact.path or _UNREADABLE_SOURCE
            role = artifact_role(model.name)
            # Re-open it to report the OS error as the init checks do (errno name included).
            found = check_readable(path, role) if artifact.path else None
            self._publish([self._path_problem(found or PathProblem(path, role, "read", artifact.error))])
            return
        self._identities[model.name] = artifact
        self._ctx.log.info(n.EVENT_ARTIFACT, **{
            n.ATTR_MODEL: model.name, n.ATTR_VERSION: model.version, n.ATTR_ARTIFACT_SHA256: artifact.sha256,
            n.ATTR_ARTIFACT_SIZE: artifact.size, **({n.ATTR_ARTIFACT_PATH: artifact.path} if artifact.path else {}),
        })
        pins = self._pins.get(model.name)
        mismatch = check_digest(artifact.sha256, pins) if pins else None
        if mismatch:
            self._publish([self._mismatch(mismatch, path=artifact.path)])

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Re-send standing problems once per tick; check a late-decorated model's ``expected_version``."""
        out: list[Signal] = []
        if now != self._last_tick:
            self._last_tick = now
            # Those published since the last tick join this one already: sending them twice would
            # double-count them in the alert engine's view of the tick.
            out.extend(replace(s, timestamp=now) for k, s in self._standing.items() if k not in self._fresh)
            self._fresh.clear()
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

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Detach the GC hook and release NVML."""
        if self._system:
            self._system.close()
        if self._gpu:
            self._gpu.close()

    @hookimpl
    def infersight_add_commands(self, subparsers: argparse._SubParsersAction[Any]) -> None:
        """Add ``infersight doctor`` to the command line."""
        from plugins.health.commands import add_commands

        add_commands(subparsers)

    def identity(self, model: str) -> ArtifactIdentity | None:
        """The last artifact identity recorded for ``model`` in this agent."""
        return self._identities.get(model)

    # -- reporting ------------------------------------------------------------------------

    def _now(self) -> float:
        return self._ctx.clock() if self._ctx else 0.0

    def _log(self) -> Any:
        assert self._ctx is not None
        return self._ctx.log

    def _stand(self, signal: Signal) -> Signal:
        self._standing[_key(signal)] = signal
        return signal

    def _publish(self, signals: list[Signal]) -> None:
        """Queue signals for the next tick (from configure or a worker hook)."""
        assert self._ctx is not None
        self._fresh.update(_key(s) for s in signals)
        self._ctx.publish(signals)

    def _log_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._log().info(n.EVENT_INVENTORY, **{n.ATTR_RUNTIME_VERSION: inventory.python,
                                               n.ATTR_PACKAGES: dict(inventory.packages)})

    def _mismatch(self, m: Mismatch, *, path: str | None = None) -> Signal:
        details = {"expected": m.expected, "actual": m.actual}
        if m.kind == "dependency":
            self._log().error(n.EVENT_DEPENDENCY_MISMATCH, **{
                n.ATTR_PACKAGE: m.subject, n.ATTR_PACKAGE_PIN: m.expected, n.ATTR_PACKAGE_VERSION: m.actual})
            return self._stand(Signal(_SIGNAL_FOR[m.kind], 1.0, {n.LABEL_PACKAGE: m.subject}, details, self._now()))
        self._log().error(n.EVENT_DEPLOYMENT_MISMATCH, **{
            n.ATTR_MODEL: m.subject, n.ATTR_MISMATCH_KIND: m.kind, n.ATTR_EXPECTED: m.expected,
            n.ATTR_ACTUAL: m.actual, **({n.ATTR_ARTIFACT_PATH: path} if path else {})})
        return self._stand(
            Signal(_SIGNAL_FOR[m.kind], 1.0, {n.LABEL_MODEL: m.subject}, {**details, "path": path}, self._now())
        )

    def _import_error(self, e: DependencyError) -> Signal:
        self._log().error(n.EVENT_IMPORT_ERROR, **{n.ATTR_PACKAGE: e.package, n.ATTR_ERROR_MESSAGE: e.error})
        return self._stand(
            Signal(n.SIGNAL_IMPORT_ERROR, 1.0, {n.LABEL_PACKAGE: e.package}, {"error": e.error}, self._now())
        )

    def _path_problem(self, p: PathProblem) -> Signal:
        self._log().error(n.EVENT_PATH_PROBLEM, **{n.ATTR_PATH: p.path, n.ATTR_PATH_ROLE: p.role,
                                                   n.ATTR_PATH_ACCESS: p.access, n.ATTR_ERROR_MESSAGE: p.error})
        labels = {n.LABEL_PATH: p.path, n.LABEL_ROLE: p.role, n.LABEL_ACCESS: p.access}
        return self._stand(Signal(n.SIGNAL_PATH_PROBLEM, 1.0, labels, {"error": p.error}, self._now()))

    def _observe_inventory(self, _options: CallbackOptions) -> Iterable[Observation]:
        inv = self._inventory
        if inv is None:
            return []
        versions = {PYTHON: inv.python, **inv.packages}
        return [Observation(1, {n.ATTR_PACKAGE: p, n.ATTR_PACKAGE_VERSION: v}) for p, v in versions.items()]

    def _instrument_failed(self, instrument: str, exc: Exception) -> None:
        # Every failure is counted; the event is logged once per instrument (a reader that fails
        # keeps failing, and a log line per export would be noise).
        if self._failures is not None:
            self._failures.add(1, {n.ATTR_INSTRUMENT: instrument})
        if instrument in self._failed_instruments or self._ctx is None:
            return
        self._failed_instruments.add(instrument)
        self._log().warning(n.EVENT_COLLECTION_FAILED, **{
            n.ATTR_INSTRUMENT: instrument, n.ATTR_ERROR_MESSAGE: describe_exception(exc)})


def _key(signal: Signal) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (signal.name, tuple(sorted(signal.labels.items())))


def make_plugin() -> HealthPlugin:
    """A new health plugin instance for the plugin manager."""
    return HealthPlugin()
