"""The live fleet plugin: each closed window's profile leaves the process as an OTLP log record.

Per model version it keeps one open window (a ``ProfileBuilder``: bounded memory whatever
the traffic) of the captured rows. Time windows run on the agent's clock and, with
``align = true``, start at multiples of ``window.seconds`` so that every replica's windows
cover the same wall-clock interval; a window closes on the first tick at or after its end.
Count windows close every ``window.size`` rows. A closed window (and, at shutdown, the open
one) is logged as ``ml.drift.profile`` through the agent's logger, so it reaches every
configured log exporter (OTLP to a Collector, and ``<data_dir>/telemetry/logs.jsonl`` with
the file exporter) with the agent's resource (``service.instance.id``). Profiles are info
events: an ``agent.log_level`` above info drops them (the plugin warns at configure).

The reference given to the agent (``[models.NAME] reference`` or ``agent.set_reference``) is
profiled and exported once as a ``reference`` profile, which ``infersight fleet`` tests against.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.plugin import ModelInfo, PluginContext, RecordBatch, hookimpl
from plugins.fleet import codec, names
from plugins.fleet.commands import add_commands
from plugins.fleet.config import FleetConfig, parse_config
from plugins.fleet.profiles import Profile, ProfileBuilder
from plugins.fleet.sample import id_priorities, offset_priorities

_QUIET_LEVELS = frozenset({"warning", "error"})


@dataclass
class _Open:
    """The open window of one model version."""

    builder: ProfileBuilder
    start: float
    end: float  # inf for count windows


class FleetPlugin:
    """Exports mergeable window profiles of every monitored model for fleet-wide drift."""

    def __init__(self) -> None:
        self.default = FleetConfig()
        self.per_model: dict[str, FleetConfig] = {}
        self._open: dict[tuple[str, str], _Open] = {}
        self._lock = threading.Lock()
        self._clock: Callable[[], float] = lambda: math.nan
        self._log: Any = None
        self._exported: Any = None
        self._size: Any = None

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight fleet``."""
        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check ``[fleet]`` (a ConfigError names the key) and create the instruments."""
        self.default, self.per_model = parse_config(agent.section("fleet"))
        self._clock = agent.clock
        self._log = agent.log
        self._exported = agent.meter.create_counter(names.PROFILES_EXPORTED, unit="{profile}",
                                                    description="Window and reference profiles exported")
        self._size = agent.meter.create_histogram(names.PROFILE_BYTES, unit="By",
                                                  description="Size of an exported profile (before base64)")
        level = str(dict(config.get("agent", {})).get("log_level", "info")).lower()
        if level in _QUIET_LEVELS:
            agent.log.warning(names.QUIET_LOG_EVENT, **{names.ATTR_LOG_LEVEL: level})

    def config_for(self, model: str) -> FleetConfig:
        """The effective ``[fleet]`` config of ``model``."""
        return self.per_model.get(model, self.default)

    def _builder(self, model: ModelInfo, cfg: FleetConfig, kind: str = names.KIND_WINDOW) -> ProfileBuilder:
        return ProfileBuilder(model=model.name, version=model.version, sketch_k=cfg.sketch_k,
                              max_categories=cfg.max_categories, sample_rows=cfg.sample_rows,
                              feature_types=cfg.feature_types, kind=kind)

    # -- data path ------------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Profile the reference rows and export them once as a ``reference`` profile."""
        cfg = self.config_for(model.name)
        if not (cfg.enabled and cfg.export_reference) or not len(records):
            return
        builder = self._builder(model, cfg, names.KIND_REFERENCE)
        now = self._clock()
        builder.add_columns(dict(records.columns), offset_priorities(f"reference:{model.name}", 0, len(records),
                                                                     cfg.seed), start=now, end=now)
        self._export(builder.build())

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add the captured rows to the model version's open window (closing a count window when full)."""
        cfg = self.config_for(model.name)
        if not cfg.enabled or not len(records):
            return
        now = self._clock()
        priorities = id_priorities(records.prediction_ids, records.row_index, cfg.seed)
        with self._lock:
            key = (model.name, model.version)
            win = self._open.get(key)
            if win is not None and now >= win.end:
                self._close(key)
                win = None
            if cfg.window.type == "count":
                self._add_count(model, cfg, records, priorities, now)
                return
            if win is None:
                start = math.floor(now / cfg.window.seconds) * cfg.window.seconds if cfg.align else now
                win = self._open[key] = _Open(self._builder(model, cfg), start, start + cfg.window.seconds)
            win.builder.add_columns(dict(records.columns), priorities)

    def _add_count(self, model: ModelInfo, cfg: FleetConfig, records: RecordBatch, priorities: np.ndarray,
                   now: float) -> None:
        key = (model.name, model.version)
        size = cfg.window.size
        pos = 0
        while pos < len(records):
            win = self._open.get(key)
            if win is None:
                win = self._open[key] = _Open(self._builder(model, cfg), now, math.inf)
            take = min(size - win.builder.rows, len(records) - pos)
            part = slice(pos, pos + take)
            win.builder.add_columns({f: np.asarray(c)[part] for f, c in records.columns.items()}, priorities[part])
            pos += take
            if win.builder.rows >= size:
                win.end = now
                self._close(key)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> None:
        """Close the model version's time window when its end has passed; profiles are logs, not Signals."""
        with self._lock:
            key = (model.name, model.version)
            win = self._open.get(key)
            if win is not None and now >= win.end:
                self._close(key)

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Export every open window as it is (a replica that stops still contributes its rows)."""
        with self._lock:
            for key in list(self._open):
                win = self._open[key]
                if not math.isfinite(win.end):
                    win.end = self._clock()
                self._close(key)

    def _close(self, key: tuple[str, str]) -> None:
        win = self._open.pop(key)
        if win.builder.rows == 0:
            return
        b = win.builder
        b.start, b.end = win.start, win.end
        self._export(b.build())

    def _export(self, profile: Profile) -> None:
        data = codec.to_bytes(profile)
        model_attrs = {names.ATTR_MODEL: profile.model, names.ATTR_VERSION: profile.version}
        self._log.info(names.PROFILE_EVENT, **{
            **model_attrs,
            names.ATTR_WINDOW_START: profile.start, names.ATTR_WINDOW_END: profile.end,
            names.ATTR_PROFILE_KIND: profile.kind, names.ATTR_PROFILE_ROWS: profile.rows,
            names.ATTR_PROFILE_FORMAT: codec.FORMAT_VERSION,
            names.ATTR_PROFILE_DATA: codec.base64_text(data),
        })
        self._exported.add(1, {**model_attrs, names.ATTR_KIND: profile.kind})
        self._size.record(len(data), model_attrs)


def make_plugin() -> FleetPlugin:
    """The entry point's factory (``fleet = "plugins.fleet:make_plugin"``)."""
    return FleetPlugin()
