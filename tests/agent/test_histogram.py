"""The batch path into an application-owned SDK histogram gives exactly what one ``record`` per value gives."""

from __future__ import annotations

import numpy as np
import pytest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)

from agent._histogram import SdkBulkRecorder

ATTRS = {"ml.model.name": "fraud", "ml.model.version": "3", "ml.model.task": "classification"}


def _points(reader: InMemoryMetricReader) -> list[tuple[object, ...]]:
    data = reader.get_metrics_data()
    out = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    buckets = getattr(p, "bucket_counts", None)
                    out.append((m.name, tuple(sorted(p.attributes.items())), p.count, round(p.sum, 9),
                                p.min, p.max, tuple(buckets) if buckets is not None else None))
    return sorted(out, key=repr)


def _pair(views: tuple[View, ...] = (), delta: bool = False) -> tuple[list[InMemoryMetricReader], list[Histogram]]:
    temporality = {Histogram: AggregationTemporality.DELTA} if delta else {}
    readers, hists = [], []
    for _ in range(2):
        reader = InMemoryMetricReader(preferred_temporality=temporality)
        provider = MeterProvider(metric_readers=[reader], views=list(views))
        readers.append(reader)
        hists.append(provider.get_meter("app").create_histogram("ml.inference.duration", unit="s"))
    return readers, hists


@pytest.mark.parametrize(("views", "delta", "bulk"), [
    ((), False, True),
    ((), True, True),
    ((View(instrument_name="ml.inference.duration", attribute_keys={"ml.model.name"}),), False, True),
    ((View(instrument_name="ml.inference.duration",
           aggregation=ExplicitBucketHistogramAggregation((0.001, 0.01, 0.1), record_min_max=False)),), False, True),
    ((View(instrument_name="ml.inference.duration", aggregation=ExponentialBucketHistogramAggregation()),),
     False, False),
], ids=["cumulative", "delta", "attribute-filter", "custom-buckets", "exponential-falls-back"])
def test_batches_equal_one_record_per_value(views: tuple[View, ...], delta: bool, bulk: bool) -> None:
    readers, (one_by_one, batched) = _pair(views, delta)
    recorder = SdkBulkRecorder(batched)
    rng = np.random.default_rng(7)
    for batch in range(4):
        values = rng.lognormal(-6, 2, size=500)
        values[::97] = [0.001, 0.01, 0.1, 0.0, 5.0, 0.025][: len(values[::97])]  # exactly on bucket bounds
        if batch == 2:
            values[3], values[5] = float("nan"), -1.0  # refused by record, and by the batch path
        for v in values:
            one_by_one.record(float(v), ATTRS)
        recorder.record_many(ATTRS, values.tolist())
        assert recorder.bulk is bulk
        expected, got = _points(readers[0]), _points(readers[1])  # collect between batches too (delta resets)
        assert got == expected and expected


def test_other_attribute_sets_and_empty_batches() -> None:
    readers, (one_by_one, batched) = _pair()
    recorder = SdkBulkRecorder(batched)
    for attrs in (ATTRS, {**ATTRS, "ml.model.version": "4"}):
        for v in (0.5, 0.002, 0.002):
            one_by_one.record(v, attrs)
        recorder.record_many(attrs, [0.5, 0.002, 0.002])
        recorder.record_many(attrs, [])
    assert _points(readers[1]) == _points(readers[0])
