"""Summary statistics of one feature over a sample (reference or window)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from plugins.drift.stats import value_counts

TOP_CATEGORIES = 20  # frequencies kept per categorical feature; the rest are summed into "__other__"


@dataclass(frozen=True, slots=True)
class FeatureSummary:
    """Count, missing rate and moments/quantiles (numeric) or category frequencies (categorical)."""

    feature: str
    count: int
    missing_rate: float
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    median: float = math.nan
    variance: float = math.nan
    p5: float = math.nan
    p25: float = math.nan
    p75: float = math.nan
    p95: float = math.nan
    skewness: float = math.nan
    kurtosis: float = math.nan
    frequencies: Mapping[str, float] = field(default_factory=dict)

    def numeric_stats(self) -> dict[str, float]:
        """The numeric statistics by name (for metrics and tables)."""
        return {
            "count": float(self.count),
            "missing_rate": self.missing_rate,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "median": self.median,
            "variance": self.variance,
            "p5": self.p5,
            "p25": self.p25,
            "p75": self.p75,
            "p95": self.p95,
            "skewness": self.skewness,
            "kurtosis": self.kurtosis,
        }


_QUANTILES = np.array([0.05, 0.25, 0.5, 0.75, 0.95])


def summarize_numeric(feature: str, values: np.ndarray) -> FeatureSummary:
    """Summary of a numeric column; NaN and ±inf count as missing. Kurtosis is excess (normal = 0)."""
    v = np.asarray(values, dtype=np.float64)
    n_total = v.size
    v = np.sort(v[np.isfinite(v)])
    missing = 1.0 - v.size / n_total if n_total else 0.0
    if v.size == 0:
        return FeatureSummary(feature, 0, missing)
    mean = float(v.mean())
    centred = v - mean
    sq = centred * centred
    m2 = float(sq.mean())
    # Population (biased) moments, as scipy.stats.skew / kurtosis default to.
    skew = float(np.mean(sq * centred) / m2**1.5) if m2 > 0 else 0.0
    kurt = float(np.mean(sq * sq) / m2**2 - 3.0) if m2 > 0 else 0.0
    # np.quantile's default (linear) interpolation, on the values sorted once
    h = _QUANTILES * (v.size - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, v.size - 1)
    q = v[lo] + (h - lo) * (v[hi] - v[lo])
    return FeatureSummary(
        feature=feature,
        count=int(v.size),
        missing_rate=missing,
        min=float(v[0]),
        max=float(v[-1]),
        mean=mean,
        median=float(q[2]),
        variance=m2 * v.size / (v.size - 1) if v.size > 1 else 0.0,
        p5=float(q[0]),
        p25=float(q[1]),
        p75=float(q[3]),
        p95=float(q[4]),
        skewness=skew,
        kurtosis=kurt,
    )


def summarize_categorical(feature: str, values: np.ndarray) -> FeatureSummary:
    """Summary of a categorical column: count, missing rate and the most frequent categories' shares."""
    arr = np.asarray(values)
    cats, counts = value_counts(arr)
    return summarize_counts(feature, arr.size, dict(zip(cats, counts, strict=True)))


def summarize_counts(feature: str, n_total: int, counts: Mapping[Hashable, int]) -> FeatureSummary:
    """Categorical summary from category counts (most frequent first) over ``n_total`` rows."""
    present = sum(counts.values())
    missing = 1.0 - present / n_total if n_total else 0.0
    freqs: dict[str, float] = {}
    items = list(counts.items())
    for c, n in items[:TOP_CATEGORIES]:
        key = str(c)
        freqs[key] = freqs.get(key, 0.0) + n / present
    rest = sum(n for _, n in items[TOP_CATEGORIES:])
    if rest:
        freqs["__other__"] = rest / present
    return FeatureSummary(feature, present, missing, frequencies=freqs)
