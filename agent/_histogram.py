"""The latency histogram, aggregated with numpy in the worker and added to each metric export.

Recording every call into an OpenTelemetry ``Histogram`` costs about half a span of
interpreter time per call (attribute hashing, a lock, a bisect), and in one process that
time is taken from the model even when the worker does it. The worker instead bins each
drained batch of durations at once (``searchsorted`` + ``bincount``) and keeps cumulative
explicit-bucket state per (model, version). The agent's metric exporter wrapper appends
it to every export as an ordinary OTLP histogram, so backends see exactly what an SDK
histogram would produce (cumulative temporality).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope


@dataclass
class _Series:
    bucket_counts: np.ndarray
    count: int = 0
    total: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    start_ns: int = field(default_factory=time.time_ns)


class LatencyHistograms:
    """Cumulative explicit-bucket histograms per attribute set, fed in batches by the worker."""

    def __init__(self, name: str, unit: str, description: str, bounds: Sequence[float], scope: InstrumentationScope):
        self.name = name
        self.unit = unit
        self.description = description
        self.bounds = np.asarray(bounds, dtype=np.float64)
        self.scope = scope
        self._series: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], _Series]] = {}
        self._lock = threading.Lock()

    def record_many(self, attributes: Mapping[str, str], values: np.ndarray) -> None:
        """Add a batch of durations (seconds) for one attribute set."""
        if values.size == 0:
            return
        key = tuple(sorted(attributes.items()))
        # Bucket i holds (bounds[i-1], bounds[i]] as OpenTelemetry's explicit buckets do.
        counts = np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=self.bounds.size + 1)
        with self._lock:
            entry = self._series.get(key)
            if entry is None:
                entry = (dict(attributes), _Series(np.zeros(self.bounds.size + 1, dtype=np.int64)))
                self._series[key] = entry
            s = entry[1]
            s.bucket_counts += counts
            s.count += int(values.size)
            s.total += float(values.sum())
            s.minimum = min(s.minimum, float(values.min()))
            s.maximum = max(s.maximum, float(values.max()))

    def metric(self, now_ns: int | None = None) -> Metric | None:
        """The current state as an SDK ``Metric`` (None before the first value)."""
        now_ns = now_ns or time.time_ns()
        with self._lock:
            points = [
                HistogramDataPoint(
                    attributes=dict(attrs),
                    start_time_unix_nano=s.start_ns,
                    time_unix_nano=now_ns,
                    count=s.count,
                    sum=s.total,
                    bucket_counts=[int(c) for c in s.bucket_counts],
                    explicit_bounds=[float(b) for b in self.bounds],
                    min=s.minimum,
                    max=s.maximum,
                    exemplars=[],
                )
                for attrs, s in self._series.values()
            ]
        if not points:
            return None
        return Metric(
            name=self.name,
            description=self.description,
            unit=self.unit,
            data=Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE),
        )

    def inject(self, data: MetricsData | None) -> MetricsData | None:
        """``data`` with this histogram added in its own scope to the first resource."""
        metric = self.metric()
        if metric is None or data is None or not data.resource_metrics:
            return data
        first = data.resource_metrics[0]
        scope_metrics = [*first.scope_metrics, ScopeMetrics(scope=self.scope, metrics=[metric], schema_url="")]
        patched = ResourceMetrics(resource=first.resource, scope_metrics=scope_metrics, schema_url=first.schema_url)
        return MetricsData(resource_metrics=[patched, *data.resource_metrics[1:]])
