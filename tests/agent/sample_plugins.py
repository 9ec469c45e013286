"""Plugins used by the plugin-system tests, loaded by import path or entry point like a user's would be."""

from __future__ import annotations

from typing import Any

from agent import ConfigError, ModelInfo, PluginContext, RecordBatch, Signal, hookimpl


class Exploding:
    """Raises from every data hook."""

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        raise RuntimeError("plugin bug")

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal]:
        raise RuntimeError("plugin bug in signals")


class Counting:
    """Counts the rows it is given and publishes one signal per tick."""

    def __init__(self) -> None:
        self.rows = 0
        self.config: dict[str, Any] = {}

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        self.config = agent.section("counting")
        if "limit" in self.config and not isinstance(self.config["limit"], int):
            raise ConfigError("counting.limit", self.config["limit"], "an integer")

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        self.rows += len(records)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal]:
        return [Signal("test.rows", float(self.rows), {"model": model.name}, {}, now)]


def make_plugin() -> Counting:
    """Factory used when this module is named by import path."""
    return Counting()
