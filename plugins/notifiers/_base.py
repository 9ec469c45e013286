"""Shared base of the notifiers that write through the agent's logger (``log`` and ``otlp`` channels)."""

from __future__ import annotations

from typing import Any

from agent.plugin import Channel, PluginContext, hookimpl


class LoggingNotifier:
    """Keeps the agent's logger from ``infersight_configure`` for its ``infersight_notify``."""

    def __init__(self) -> None:
        self.log: Any = None

    @hookimpl
    def infersight_configure(self, agent: PluginContext) -> None:
        """Keep the agent's logger."""
        self.log = agent.log

    def logger(self, channel: Channel) -> Any:
        """The agent's logger; raises when used before configure (the delivery thread then retries)."""
        if self.log is None:
            raise RuntimeError(f"{channel.type} notifier used before infersight_configure")
        return self.log
