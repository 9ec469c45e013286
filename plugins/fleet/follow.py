"""``infersight fleet --follow``: test fleet windows as their profiles arrive and feed the alert rules.

The command runs an agent of its own (``agent.init`` with the user's config, the ``alerts``
and ``notifiers`` plugins only, so the rules and channels are the user's) and registers
``FleetSignals``, a plugin that keeps the agent's ``PluginContext`` and publishes fleet-level
Signals through it (``PluginContext.publish``: they join the next tick's
``infersight_handle_signals``, where the alert engine evaluates them). One Signal series per
model, version and feature — not per replica — so a fleet-wide shift raises one alert.

A window is tested once, ``grace`` seconds after its end (for replicas whose profiles come
late); a profile that arrives later still is logged (``ml.fleet.late_profile``) and ignored.
Tested windows' records are dropped (the earliest window of each model version is kept, as it
may be the reference), so memory stays bounded however long the command runs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agent
from agent.plugin import PluginContext, Settings, Signal, hookimpl, resolve_config
from plugins.drift import DriftConfig
from plugins.fleet import names
from plugins.fleet.fleet import FleetWindow, evaluate_fleet, fleet_to_json, format_fleet
from plugins.fleet.otlp import FileReader, ProfileRecord, telemetry_files
from plugins.fleet.profiles import Profile


class FleetSignals:
    """Publishes fleet-window results as Signals in the ``--follow`` command's own agent."""

    def __init__(self) -> None:
        self.context: PluginContext | None = None

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Keep the context to publish through."""
        self.context = agent

    def publish(self, window: FleetWindow, now: float) -> list[Signal]:
        """One detected and one effect-size Signal per tested feature, and the replica count."""
        signals = fleet_signals(window, now)
        if self.context is not None:
            self.context.publish(signals)
            self.context.log.info(names.FLEET_WINDOW_EVENT, **{
                names.ATTR_MODEL: window.model, names.ATTR_VERSION: window.version,
                names.ATTR_WINDOW_START: window.start, names.ATTR_WINDOW_END: window.end,
                names.ATTR_REPLICAS: len(window.replicas),
                names.ATTR_DRIFTED_FEATURES: [r.feature for r in window.report.results if r.drifted],
            })
        return signals


def fleet_signals(window: FleetWindow, now: float) -> list[Signal]:
    """The Signals of one fleet window (labels model, version, feature, test, scope=fleet)."""
    base = {names.LABEL_MODEL: window.model, names.LABEL_VERSION: window.version,
            names.LABEL_SCOPE: names.SCOPE_FLEET}
    details = {"window_start": window.start, "window_end": window.end, "replicas": len(window.replicas),
               "rows": window.rows}
    out = [Signal(names.SIGNAL_REPLICAS, float(len(window.replicas)), dict(base), details, now)]
    for r in window.report.results:
        if r.skipped:
            continue
        labels = {**base, names.LABEL_FEATURE: r.feature, names.LABEL_TEST: r.test}
        d = {**details, "p_value": r.corrected_p_value, "effect_name": r.effect_name}
        out.append(Signal(names.SIGNAL_DETECTED, 1.0 if r.drifted else 0.0, labels, d, now))
        effect = r.effect_size if math.isfinite(r.effect_size) else 0.0
        out.append(Signal(names.SIGNAL_EFFECT_SIZE, effect, labels, d, now))
    return out


_OWN = ("alerts", "notifiers")


def follow_config(path: str | None) -> dict[str, Any]:
    """The user's config for the command's own agent: the core sections (less ``models``) and the alerting ones.

    Other plugins' tables (``[drift]``, ``[fleet]``, ...) are left out, as those plugins do not run
    there (an unclaimed table would fail ``init``), and so are the models, whose reference files the
    core would otherwise load.
    """
    raw = resolve_config(path).raw
    core = {f.name for f in dataclasses.fields(Settings)} - {"raw", "source", "models"}
    return {k: v for k, v in raw.items() if k in core or k in _OWN}


class Follow:
    """The ``--follow`` loop (see the module docs)."""

    def __init__(self, paths: list[str], config_for: Callable[[str], DriftConfig], *, reference: Profile | None,
                 model: str | None, version: str | None, config: str | None, interval: float, grace: float,
                 max_polls: int, json_output: bool, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.paths, self.config_for, self.reference = paths, config_for, reference
        self.model, self.version, self.config = model, version, config
        self.interval, self.grace, self.max_polls, self.json_output = interval, grace, max_polls, json_output
        self.clock, self.sleep = clock, sleep
        self.readers: dict[Path, FileReader] = {}
        self.records: dict[tuple[str, str, str, str, float, float], ProfileRecord] = {}
        self.tested: set[tuple[str, str, float, float]] = set()
        self.drifted = False

    def run(self) -> int:
        """Read, test and publish until ``max_polls`` (forever when 0) or Ctrl-C; 1 if any window drifted."""
        agent.init(follow_config(self.config), plugins={"enabled": ["alerts", "notifiers"]})
        signals = FleetSignals()
        agent.register_plugin(signals, "fleet-signals")
        polls = 0
        try:
            while True:
                self.poll(signals)
                polls += 1
                if self.max_polls and polls >= self.max_polls:
                    break
                self.sleep(self.interval)
        except KeyboardInterrupt:
            pass
        finally:
            agent.flush()
            agent.shutdown()
        return 1 if self.drifted else 0

    def poll(self, signals: FleetSignals) -> list[FleetWindow]:
        """Read new lines, test the windows whose grace has passed, publish their Signals, print them."""
        for path in telemetry_files(self.paths):
            reader = self.readers.setdefault(path, FileReader(path))
            for r in reader.read_new():
                if (r.model, r.version, r.start, r.end) in self.tested:
                    if signals.context is not None:
                        signals.context.log.info(names.LATE_PROFILE_EVENT, **{
                            names.ATTR_MODEL: r.model, names.ATTR_VERSION: r.version,
                            names.ATTR_WINDOW_START: r.start, names.ATTR_WINDOW_END: r.end})
                    continue
                self.records[r.key] = r
        now = self.clock()

        def skip(m: str, v: str, start: float, end: float) -> bool:
            return (m, v, start, end) in self.tested or not (now >= end + self.grace)

        windows = evaluate_fleet(list(self.records.values()), self.config_for, reference=self.reference,
                                 model=self.model, version=self.version, skip=skip)
        for w in windows:
            self.tested.add((w.model, w.version, w.start, w.end))
            self.drifted = self.drifted or w.drifted
            signals.publish(w, now)
        self._prune()
        if windows:
            print(json.dumps(fleet_to_json(windows), default=str) if self.json_output else format_fleet(windows),
                  flush=True)
        return windows

    def _prune(self) -> None:
        earliest: dict[tuple[str, str], float] = {}
        for r in self.records.values():
            if r.kind == names.KIND_WINDOW:
                k = (r.model, r.version)
                earliest[k] = min(earliest.get(k, math.inf), r.start)
        for key, r in list(self.records.items()):
            if r.kind == names.KIND_WINDOW and (r.model, r.version, r.start, r.end) in self.tested \
                    and r.start != earliest.get((r.model, r.version)):
                del self.records[key]
