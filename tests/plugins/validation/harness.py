"""A real PluginContext wired to an in-memory metric reader and a structlog capture, plus batch builders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from structlog.testing import LogCapture

from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch
from plugins.validation import make_plugin
from plugins.validation.plugin import ValidationPlugin


class Harness:
    """One plugin instance configured through its hook, with metrics and log events to assert on."""

    def __init__(self, section: Mapping[str, Any] | None, tmp: Path, *, now: float = 1_000.0) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.logs = LogCapture()
        self.now = now
        log = structlog.wrap_logger(None, processors=[self.logs])
        self.agent = PluginContext(
            config={"validation": dict(section or {})},
            data_dir=tmp,
            meter=self.provider.get_meter("test"),
            log=log,
            models={},
            clock=lambda: self.now,
        )
        self.plugin: ValidationPlugin = make_plugin()
        self.plugin.infersight_configure(config=dict(self.agent.config), agent=self.agent)

    def reference(self, model: ModelInfo, columns: Mapping[str, Any]) -> None:
        """Set reference data through the hook."""
        self.plugin.infersight_set_reference(model=model, records=batch(columns))

    def process(self, model: ModelInfo, records: RecordBatch) -> None:
        """Send one batch of captured rows through the hook."""
        self.plugin.infersight_process_records(model=model, records=records)

    def feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Send feedback events through the hook."""
        self.plugin.infersight_process_feedback(model=model, events=events)

    def tick(self, model: ModelInfo, advance: float = 3600.0) -> list[Any]:
        """Advance the clock past the window and collect signals."""
        self.now += advance
        return self.plugin.infersight_collect_signals(model=model, now=self.now) or []

    def points(self, metric: str) -> list[tuple[dict[str, Any], float]]:
        """Every (attributes, value) point of ``metric`` collected so far."""
        data = self.reader.get_metrics_data()
        out: list[tuple[dict[str, Any], float]] = []
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        # counters and gauges only: their points carry a single value
                        out.extend((dict(p.attributes or {}), p.value) for p in m.data.data_points)  # type: ignore[union-attr]
        return out

    def total(self, metric: str, **attrs: Any) -> float:
        """Sum of ``metric`` over points whose attributes include ``attrs``."""
        return sum(v for a, v in self.points(metric) if all(a.get(k) == w for k, w in attrs.items()))

    def events(self, name: str) -> list[dict[str, Any]]:
        """Captured log events named ``name``."""
        return [dict(e) for e in self.logs.entries if e["event"] == name]


def batch(
    columns: Mapping[str, Any],
    *,
    outputs: Any = None,
    ids: Sequence[str] | None = None,
) -> RecordBatch:
    """A RecordBatch as the core builds it: numeric dtype when every value is a number, else object."""
    cols: dict[str, np.ndarray] = {}
    n = None
    for name, values in columns.items():
        arr = values if isinstance(values, np.ndarray) else _column(list(values))
        cols[name] = arr
        n = len(arr) if n is None else n
    n = n or 0
    pids = tuple(ids) if ids is not None else tuple(f"p{i}" for i in range(n))
    return RecordBatch(
        prediction_ids=pids,
        row_index=np.zeros(len(pids), dtype=np.int64),
        timestamps=np.zeros(len(pids)),
        columns=cols,
        outputs=None if outputs is None else np.asarray(outputs),
    )


def _column(values: list[Any]) -> np.ndarray:
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    if values and all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
