"""Pure functions over time series: histogram quantiles, time bins and downsampling."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

MAX_BINS = 120  # time bins per chart: enough to show a trend, few enough to keep the file small


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float:
    """The ``q`` quantile of an explicit-bucket histogram, interpolated linearly inside its bucket.

    The same estimate as Prometheus' ``histogram_quantile``: the first bucket starts at 0
    (latencies are non-negative), and a quantile falling in the overflow bucket is the
    highest finite bound. ``nan`` for an empty histogram.
    """
    total = sum(counts)
    if total <= 0 or not bounds:
        return math.nan
    rank = q * total
    seen = 0.0
    for i, c in enumerate(counts):
        if c and seen + c >= rank:
            if i >= len(bounds):
                return float(bounds[-1])
            lower = 0.0 if i == 0 else float(bounds[i - 1])
            lower = min(lower, float(bounds[i]))
            return lower + (float(bounds[i]) - lower) * ((rank - seen) / c)
        seen += c
    return float(bounds[-1])


def bin_edges(t_min: float, t_max: float, n_points: int, max_bins: int = MAX_BINS) -> list[float]:
    """Equal-width bin edges over [t_min, t_max]: one bin per point up to ``max_bins``."""
    n = max(1, min(max_bins, n_points))
    if not (t_max > t_min):
        return [t_min, t_min + 1.0]
    width = (t_max - t_min) / n
    return [t_min + i * width for i in range(n)] + [t_max]


def bin_of(t: float, edges: Sequence[float]) -> int:
    """Index of the bin holding ``t`` (the last bin is closed on the right)."""
    n = len(edges) - 1
    if t <= edges[0]:
        return 0
    if t >= edges[-1]:
        return n - 1
    width = (edges[-1] - edges[0]) / n
    return min(n - 1, int((t - edges[0]) / width))


def bin_sums(points: Sequence[tuple[float, float]], edges: Sequence[float]) -> list[float]:
    """Sum of point values per bin."""
    out = [0.0] * (len(edges) - 1)
    for t, v in points:
        out[bin_of(t, edges)] += v
    return out


def bin_histograms(
    points: Sequence[tuple[float, Sequence[int]]], edges: Sequence[float], width: int
) -> list[list[int]]:
    """Bucket counts per bin: the histogram deltas that fall in each bin, added together."""
    out = [[0] * width for _ in range(len(edges) - 1)]
    for t, counts in points:
        row = out[bin_of(t, edges)]
        for i, c in enumerate(counts):
            row[i] += c
    return out


def add_counts(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Element-wise sum of two bucket-count vectors of the same layout."""
    return [x + y for x, y in zip(a, b, strict=True)]


def downsample(points: Sequence[tuple[float, float]], max_points: int = 400) -> list[tuple[float, float]]:
    """At most ``max_points`` points, keeping the first, the last and evenly spaced ones between."""
    if len(points) <= max_points:
        return list(points)
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


def bin_centres(edges: Sequence[float]) -> list[float]:
    """Midpoint of each bin."""
    return [(a + b) / 2 for a, b in itertools.pairwise(edges)]
