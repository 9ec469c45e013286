"""Seeded data for the drift tests: feature columns and ready RecordBatches (data builders, not a harness), and ``by``
to read counters back."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.plugin import RecordBatch
from agent.testing import CapturedTelemetry

COUNTRIES = np.array(["fr", "de", "us"], dtype=object)


def columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Two numeric features (``amount`` shifted by ``shift``) and one categorical."""
    return {
        "amount": rng.normal(shift, 1.0, n),
        "age": rng.normal(0.0, 1.0, n),
        "country": rng.choice(COUNTRIES, n),
    }


def rows(cols: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The same data as row mappings, as an application passes them to a monitored call."""
    n = len(next(iter(cols.values())))
    return [{k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in cols.items()} for i in range(n)]


def batch(cols: dict[str, np.ndarray], outputs: Any = None, t0: float = 1000.0) -> RecordBatch:
    """A RecordBatch as the worker builds it from captured calls."""
    n = len(next(iter(cols.values())))
    return RecordBatch(
        prediction_ids=tuple(f"p{i}" for i in range(n)), row_index=np.zeros(n, dtype=np.int64),
        timestamps=np.full(n, t0), columns=cols, outputs=None if outputs is None else np.asarray(outputs),
    )


def objects(values: list[Any]) -> np.ndarray:
    """An object column holding exactly ``values`` (lists stay lists)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def by(h: CapturedTelemetry, metric: str, *keys: str) -> dict[tuple[str, ...], float]:
    """A counter's points summed by the values of ``keys``."""
    out: dict[tuple[str, ...], float] = {}
    for p in h.metric_points(metric):
        k = tuple(str(p.attributes.get(key)) for key in keys)
        out[k] = out.get(k, 0.0) + float(p.value or 0.0)
    return out
