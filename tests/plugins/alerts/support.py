"""Running the alerts plugin with the built-in notifiers on the real host, and plugins that feed or break it.

``run_alerts`` is ``agent.testing.run_plugin("alerts", ...)`` with the ``notifiers`` entry
point loaded too and a ``SignalSource`` registered the way a third-party plugin is
(``agent.register_plugin``), which publishes Signals for the next tick as a drift plugin
would. The misbehaving notifiers below are third-party plugins too: they own their own
channel types (or, ``HostileNotifier``, every type).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import agent as infersight
from agent.plugin import Channel, Notification, PluginContext, Signal, hookimpl
from agent.testing import CapturedTelemetry, ManualClock, run_plugin

PLUGINS = {"enabled": ["alerts", "notifiers"], "entry_points": False}
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
PSI = "ml.drift.psi"


class SignalSource:
    """Publishes Signals through ``PluginContext.publish``: they reach the alert engine at the next tick."""

    def __init__(self) -> None:
        self.agent: PluginContext | None = None

    @hookimpl
    def infersight_configure(self, agent: PluginContext) -> None:
        """Keep the context to publish through."""
        self.agent = agent

    def publish(self, *signals: Signal) -> None:
        """Queue ``signals`` for the next tick."""
        assert self.agent is not None
        self.agent.publish(list(signals))


def sig(value: Any, feature: str = "amount", *, name: str = PSI, model: str = "fraud") -> Signal:
    """A drift-like signal for one feature of ``model`` (version 3)."""
    return Signal(name, value, {"model": model, "version": "3", "feature": feature}, {"psi": value})


@contextmanager
def run_alerts(
    alerts: dict[str, Any],
    *,
    data_dir: Path | None = None,
    clock: ManualClock | None = None,
    agent: dict[str, Any] | None = None,
    extra: Sequence[tuple[str, Any]] = (),
) -> Iterator[tuple[CapturedTelemetry, SignalSource]]:
    """The alerts and notifiers entry points on the real host, a SignalSource and ``extra`` plugins registered."""
    settings = dict(agent or {})
    if data_dir is not None:
        settings["data_dir"] = str(data_dir)
    with run_plugin("alerts", {"alerts": alerts}, clock=clock or ManualClock(T0), plugins=PLUGINS,
                    agent=settings) as h:
        source = SignalSource()
        infersight.register_plugin(source, "signal-source")
        for name, plugin in extra:
            infersight.register_plugin(plugin, name)
        yield h, source


def evaluate(h: CapturedTelemetry, source: SignalSource, *signals: Signal, advance: float = 0.0) -> None:
    """Move the manual clock by ``advance``, then run a tick that hands ``signals`` to the alert engine."""
    if advance:
        assert h.clock is not None
        h.clock.advance(advance)
    source.publish(*signals)
    h.tick()


def delivered(h: CapturedTelemetry, timeout: float = 10.0) -> None:
    """Wait until the alerts plugin has delivered or given up everything queued (its own threads)."""
    assert h.plugin("alerts").flush(timeout), "alert delivery did not finish"


def metric(h: CapturedTelemetry, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    """Current points of metric ``name``, keyed by sorted attribute items."""
    return {tuple(sorted(p.attributes.items())): float(p.value or 0.0) for p in h.metric_points(name)}


def events_text(h: CapturedTelemetry) -> str:
    """Every log event the agent emitted, as one string (to search for leaked secrets)."""
    return "\n".join(repr(e) for e in h.events())


class RaisingNotifier:
    """Owns channel type ``raising`` and fails every delivery with a plain exception (a bug)."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Raise for its own type."""
        if channel.type != "raising":
            return None
        raise RuntimeError("notifier bug")


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise ValueError("__str__ failed too")

    def __repr__(self) -> str:
        raise ValueError("__repr__ failed too")


class UnprintableNotifier:
    """Owns channel type ``unprintable`` and raises an exception whose ``__str__`` and ``__repr__`` raise."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Raise the unprintable exception for its own type."""
        if channel.type != "unprintable":
            return None
        raise _UnprintableError()


class BlockingNotifier:
    """Owns channel type ``blocking`` and blocks until released (beyond any notify_timeout a test sets)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Block for its own type."""
        if channel.type != "blocking":
            return None
        self.calls += 1
        self.release.wait(30.0)
        return True


class HostileNotifier:
    """Raises for every channel type, its own or not (asked first, being registered last)."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Raise whatever the channel."""
        raise RuntimeError("hostile notifier")
