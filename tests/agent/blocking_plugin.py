"""A test plugin whose ``infersight_process_records`` blocks the worker until the test releases it.

Loaded by import path (``plugins={"paths": ["tests.agent.blocking_plugin"]}``); the
agent calls ``make_plugin`` and the test finds the instance in ``INSTANCES``.
"""

from __future__ import annotations

import threading

from agent import ModelInfo, RecordBatch, hookimpl

RELEASE_TIMEOUT_S = 30.0  # a forgotten release must not hang the suite


class BlockingPlugin:
    """Blocks the worker thread inside ``infersight_process_records`` until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.rows = 0

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Signal that the worker is here, then wait for the test."""
        self.entered.set()
        self.release.wait(RELEASE_TIMEOUT_S)
        self.rows += len(records.prediction_ids)


INSTANCES: list[BlockingPlugin] = []


def make_plugin() -> BlockingPlugin:
    """A fresh plugin, remembered so the test can reach it."""
    plugin = BlockingPlugin()
    INSTANCES.append(plugin)
    return plugin
