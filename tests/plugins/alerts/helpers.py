"""Test helpers for the alerts and notifier plugins: a real plugin manager, context, log recorder, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent import hookspecs
from agent._runtime import PluginContext
from plugins.alerts import AlertsPlugin
from plugins.notifiers import make_plugins


@dataclass
class RecordingLog:
    """Stands in for the core's structlog logger: records (level, event, fields) for assertions."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _rec(self, level: str, event: str, **kw: Any) -> None:
        self.events.append((level, event, kw))

    def debug(self, event: str, **kw: Any) -> None:
        self._rec("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._rec("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._rec("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._rec("error", event, **kw)

    def critical(self, event: str, **kw: Any) -> None:
        self._rec("critical", event, **kw)

    def named(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        """(level, fields) of every event called ``event``."""
        return [(lvl, kw) for lvl, ev, kw in self.events if ev == event]

    def text(self) -> str:
        """Everything logged, as one string (to search for leaked secrets)."""
        return "\n".join(f"{lvl} {ev} {kw!r}" for lvl, ev, kw in self.events)


@dataclass
class Harness:
    """A configured alerts plugin with the built-in notifiers on a real pluggy manager."""

    plugin: AlertsPlugin
    ctx: PluginContext
    log: RecordingLog
    reader: InMemoryMetricReader
    pm: pluggy.PluginManager

    def tick(self, signals: list[Any], now: float) -> None:
        """What the worker does each tick."""
        self.pm.hook.infersight_handle_signals(signals=signals, now=now)

    def metric(self, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
        """Current points of metric ``name`` keyed by sorted attribute items."""
        out: dict[tuple[tuple[str, Any], ...], float] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        for p in m.data.data_points:
                            out[tuple(sorted((p.attributes or {}).items()))] = getattr(p, "value", 0.0)
        return out

    def shutdown(self) -> None:
        """What the agent does at shutdown."""
        self.pm.hook.infersight_shutdown(agent=self.ctx)


def start(data_dir: Path, alerts: dict[str, Any], *, backoff: float = 0.01, extra: list[Any] | None = None) -> Harness:
    """Register the alerts plugin and every notifier, configure them as ``agent.init`` would."""
    log = RecordingLog()
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    config = {"alerts": alerts}
    ctx = PluginContext(config=config, data_dir=data_dir, meter=provider.get_meter("test"), log=log, models={})
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugin = AlertsPlugin(backoff=backoff, backoff_max=backoff * 4)
    for p in [plugin, *make_plugins(), *(extra or [])]:
        pm.register(p)
    ctx.hook = pm.hook
    pm.hook.infersight_configure.call_historic(kwargs={"config": config, "agent": ctx})
    return Harness(plugin, ctx, log, reader, pm)
