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


class ExitsTheProcess:
    """Raises SystemExit and KeyboardInterrupt from data hooks: the worker must survive both."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        self.calls += 1
        raise SystemExit(3) if self.calls % 2 else KeyboardInterrupt()


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken too")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken too")


class RaisesUnprintable:
    """Raises an exception whose ``__str__`` and ``__repr__`` raise."""

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        raise _UnprintableError()


class BlocksInConfigure:
    """Never returns from configure (until released): init must go on without it."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        self.release.wait(30)


class Unmarked:
    """Implements a hook without ``@hookimpl``: still registered (the name is the contract)."""

    def __init__(self) -> None:
        self.rows = 0

    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        self.rows += len(records)


class Misspelled:
    """``infersight_proces_records``: must be rejected, not silently never called."""

    @hookimpl
    def infersight_proces_records(self, model: ModelInfo, records: RecordBatch) -> None:
        raise AssertionError("never called")


def make_counting_plugins() -> list[Counting]:
    """A factory returning several plugins."""
    return [Counting(), Counting()]
