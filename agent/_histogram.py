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
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

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


class SdkBulkRecorder:
    """Adds a batch of durations to an application-owned SDK ``Histogram`` in one step per batch.

    When the agent reuses the application's ``MeterProvider`` it cannot add to that
    provider's exports, so the durations must go through the application's histogram.
    Recording them one by one costs about 8 µs each (attribute cleaning and hashing, a
    ``Measurement`` per value), taken from the model's interpreter time. Instead, per batch
    the first value is recorded through the public ``record`` — so the SDK creates the
    aggregation exactly as it would (views, attribute filters, cardinality limit) — and the
    rest are added to the same aggregations under their own locks with ``searchsorted`` +
    ``bincount``, as ``_ExplicitBucketHistogramAggregation.aggregate`` would one by one.
    Exemplars are not sampled for them (the worker has no span context, so the SDK's
    default trace-based filter would not sample them either).

    This reads SDK internals. Where the structure is not the one this knows (another SDK
    version, a view choosing another aggregation, a non-SDK provider) a batch falls back to
    one ``record`` per value, with the same result; ``bulk`` tells which path the last batch
    took. tests/agent/test_histogram.py compares both paths point for point.
    """

    def __init__(self, histogram: Any):
        self.histogram = histogram
        self.bulk = False

    def record_many(self, attributes: Mapping[str, str], values: Sequence[float]) -> None:
        if not len(values):
            return
        record = self.histogram.record
        record(values[0], attributes)
        rest = np.asarray(values[1:], dtype=np.float64)
        targets = self._aggregations(attributes) if rest.size else []
        self.bulk = targets is not None
        if targets is None:
            for v in rest.tolist():
                record(v, attributes)
            return
        rest = rest[np.isfinite(rest) & (rest >= 0)]  # what ``record`` refuses
        if not rest.size:
            return
        total, low, high = float(rest.sum()), float(rest.min()), float(rest.max())
        for match_lock, agg in targets:
            counts = np.bincount(np.searchsorted(np.asarray(agg._boundaries, dtype=np.float64), rest, side="left"),
                                 minlength=len(agg._boundaries) + 1)
            with match_lock, agg._lock:
                if agg._value is None:
                    agg._value = agg._get_empty_bucket_counts()
                agg._value = [a + int(b) for a, b in zip(agg._value, counts.tolist(), strict=True)]
                agg._sum += total
                if agg._record_min_max:
                    agg._min = min(agg._min, low)
                    agg._max = max(agg._max, high)

    def _aggregations(self, attributes: Mapping[str, str]) -> list[tuple[Any, Any]] | None:
        """(lock to hold, aggregation) for every view of every reader, or None when the structure is unknown."""
        try:
            from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim
            from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation

            inst = self.histogram
            storages = inst._measurement_consumer._reader_storages
            out: list[tuple[Any, Any]] = []
            for storage in list(storages.values()):
                for match in storage._instrument_view_instrument_matches.get(inst, ()):
                    keys = match._view._attribute_keys
                    attrs = dict(attributes) if keys is None else {k: v for k, v in attributes.items() if k in keys}
                    agg = match._attributes_aggregation.get(vim._hash_attributes(attrs))
                    if type(agg) is not _ExplicitBucketHistogramAggregation:
                        return None  # another aggregation, an overflowed attribute set, or unknown layout
                    lock = match._lock if match._reset_on_collect else nullcontext()
                    out.append((lock, agg))
            return out
        except (AttributeError, ImportError, TypeError, KeyError):
            return None

