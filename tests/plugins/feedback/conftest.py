"""Fixtures for the feedback plugin tests: a real PluginContext with an in-memory metric reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import structlog
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent._runtime import PluginContext
from agent._types import ModelInfo, RecordBatch
from plugins.feedback.plugin import FeedbackPlugin


class Clock:
    """A settable clock: tests move time explicitly instead of sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    """A configured FeedbackPlugin with its context, clock and metric reader."""

    def __init__(self, plugin: FeedbackPlugin, ctx: PluginContext, clock: Clock, reader: InMemoryMetricReader):
        self.plugin = plugin
        self.ctx = ctx
        self.clock = clock
        self.reader = reader

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, point) of every data point of metric ``name``."""
        data = self.reader.get_metrics_data()
        out: list[tuple[dict[str, Any], Any]] = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        out.extend((dict(p.attributes or {}), p) for p in m.data.data_points)
        return out

    def total(self, name: str, **attrs: Any) -> float:
        """Sum of the values of counter ``name`` over points matching ``attrs``."""
        return sum(p.value for a, p in self.points(name) if all(a.get(k) == v for k, v in attrs.items()))

    def tick(self, dt: float = 1.0) -> list[Any]:
        """Advance the clock and run one worker tick for every model; returns the signals."""
        self.clock.now += dt
        out = []
        for m in list(self.ctx.models.values()) or [ModelInfo("unconfigured")]:
            out.extend(self.plugin.infersight_collect_signals(model=m, now=self.clock.now) or [])
        return out


MakeHarness = Callable[..., Harness]


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[MakeHarness]:
    """Build harnesses on a shared data directory; every plugin is shut down at the end."""
    made: list[Harness] = []

    def make(
        config: dict[str, Any] | None = None,
        models: list[ModelInfo] | None = None,
        exporter: LogRecordExporter | None = None,
        data_dir: Path | None = None,
    ) -> Harness:
        clock = Clock()
        reader = InMemoryMetricReader()
        meter = MeterProvider(metric_readers=[reader]).get_meter("test")
        full = {"feedback": {"export": exporter is not None, **(config or {})}}
        ctx = PluginContext(
            config=full,
            data_dir=data_dir or tmp_path,
            meter=meter,
            log=structlog.get_logger(),
            models={m.name: m for m in models or []},
            clock=clock,
            new_log_exporter=(lambda: exporter) if exporter is not None else None,
        )
        plugin = FeedbackPlugin()
        plugin.infersight_configure(config=full, agent=ctx)
        h = Harness(plugin, ctx, clock, reader)
        made.append(h)
        return h

    yield make
    for h in made:
        h.plugin.infersight_shutdown(agent=h.ctx)


def batch(
    ids: list[str], outputs: list[Any] | np.ndarray | None, *, t: float = 1_000_000.0,
    columns: dict[str, Any] | None = None, trace_ids: tuple[int, ...] = (), span_ids: tuple[int, ...] = (),
) -> RecordBatch:
    """A RecordBatch of single-row calls with the given outputs."""
    out = None
    if outputs is not None:
        out = outputs if isinstance(outputs, np.ndarray) else np.array([*outputs, None], dtype=object)[:-1]
    return RecordBatch(
        prediction_ids=tuple(ids),
        row_index=np.zeros(len(ids), dtype=np.int64),
        timestamps=np.full(len(ids), t),
        columns={k: np.asarray(v) for k, v in (columns or {}).items()},
        outputs=out,
        trace_ids=trace_ids,
        span_ids=span_ids,
    )
