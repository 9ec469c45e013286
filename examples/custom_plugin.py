"""A minimal InferSight plugin: count rows per model and publish a signal per tick.

Load it by import path:  [plugins] paths = ["examples.custom_plugin"]
or from your own package's entry points:  [project.entry-points.infersight] rows = "mypkg.rows:make_plugin"
"""

from __future__ import annotations

from typing import Any

import agent
from agent import ConfigError


class RowCounter:
    """Counts captured rows per model; publishes ``example.rows_seen``."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.limit = 0

    @agent.hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: agent.PluginContext) -> None:
        """Read and validate this plugin's own table, ``[row_counter]``."""
        section = agent.section("row_counter")
        self.limit = section.get("limit", 0)
        if not isinstance(self.limit, int) or self.limit < 0:
            raise ConfigError("row_counter.limit", self.limit, "a non-negative integer")

    @agent.hookimpl
    def infersight_process_records(self, model: agent.ModelInfo, records: agent.RecordBatch) -> None:
        """Worker thread: add this batch's rows."""
        self.rows[model.name] = self.rows.get(model.name, 0) + len(records)

    @agent.hookimpl
    def infersight_collect_signals(self, model: agent.ModelInfo, now: float) -> list[agent.Signal]:
        """Worker thread, once per tick: the running count as a signal for alert rules."""
        return [agent.Signal("example.rows_seen", float(self.rows.get(model.name, 0)), {"model": model.name})]


def make_plugin() -> RowCounter:
    """Factory the agent calls when loading this module."""
    return RowCounter()


if __name__ == "__main__":
    import sys
    from pathlib import Path

    from agent.testing import capture_telemetry

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # so "examples.custom_plugin" imports
    with capture_telemetry(
        plugins={"enabled": [], "paths": ["examples.custom_plugin"], "entry_points": False},
        models={"m": {"capture": True}},
    ) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> float:
            return x["a"]

        for i in range(5):
            predict({"a": float(i)})
        tel.flush()
        print([s for s in tel.signals if s.name == "example.rows_seen"][-1])
