"""Effect sizes: how large a distribution change is, independent of sample size.

- Total variation distance (TVD) between category (or level) proportions: the share of
  rows that would have to change category for the window to look like the reference. The
  headline effect of categorical, boolean and discrete features: it needs no epsilon, and a
  new category at 2% of the window adds exactly 0.02 (new and vanished categories are also
  reported on their own, with counts, as schema changes).
- PSI (population stability index) on reference-quantile bins for numerics (10 bins by
  default, edges at reference deciles so each bin holds ~10% of the reference) and on
  category shares, reported as a secondary effect only. Empty bins get proportion
  ``PSI_EPSILON`` (1e-4) before the log, which is why PSI no longer decides anything: a new
  category at 2% of a window alone gives PSI 0.106.
- Jensen–Shannon distance (base 2, in [0, 1]) on the same bins / categories.
- Wasserstein-1 distance divided by the reference standard deviation: "how far, in
  reference σ, the mass moved on average". A 0.5σ mean shift gives 0.5; scaling σ by
  1.5 gives ≈0.4. When the reference σ is zero the IQR cannot help either, so the raw
  distance is returned divided by 1 when it is zero, else ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np

from plugins.drift.stats import SortedReference

PSI_EPSILON = 1e-4
DEFAULT_BINS = 10


def quantile_edges(ref: SortedReference, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Inner bin edges at reference quantiles (duplicates removed, so ties do not create empty bins)."""
    if ref.n == 0:
        return np.empty(0)
    # np.quantile's default (linear) interpolation, read off the values already sorted (no partition)
    v = ref.values
    h = np.linspace(0, 1, bins + 1)[1:-1] * (v.size - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, v.size - 1)
    return np.unique(v[lo] + (h - lo) * (v[hi] - v[lo]))


def binned_proportions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Proportion of finite ``values`` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    counts = np.bincount(np.searchsorted(edges, v, side="left"), minlength=edges.size + 1)
    return counts / max(v.size, 1)


def psi(p_ref: np.ndarray, p_win: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index Σ (q - p) ln(q / p) with empty proportions raised to ``epsilon``."""
    p = np.maximum(np.asarray(p_ref, dtype=np.float64), epsilon)
    q = np.maximum(np.asarray(p_win, dtype=np.float64), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(p_ref: np.ndarray, p_win: np.ndarray) -> float:
    """Jensen–Shannon distance (square root of the divergence, base 2) between two proportion vectors."""
    p = np.asarray(p_ref, dtype=np.float64)
    q = np.asarray(p_win, dtype=np.float64)
    p = p / p.sum() if p.sum() > 0 else p
    q = q / q.sum() if q.sum() > 0 else q
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def wasserstein(ref: SortedReference, window: np.ndarray) -> float:
    """Wasserstein-1 distance between the reference and the finite window values (as scipy computes it)."""
    w = np.asarray(window, dtype=np.float64)
    w = np.sort(w[np.isfinite(w)])
    if ref.n == 0 or w.size == 0:
        return math.nan
    pooled = np.sort(np.concatenate([ref.values, w]))
    deltas = np.diff(pooled)
    cdf_r = np.searchsorted(ref.values, pooled[:-1], "right") / ref.n
    cdf_w = np.searchsorted(w, pooled[:-1], "right") / w.size
    return float(np.sum(np.abs(cdf_r - cdf_w) * deltas))


def normalised_wasserstein(ref: SortedReference, window: np.ndarray, ref_std: float) -> float:
    """Wasserstein-1 distance in units of the reference standard deviation."""
    d = wasserstein(ref, window)
    if math.isnan(d):
        return d
    if ref_std > 0:
        return d / ref_std
    return 0.0 if d == 0 else math.inf


def category_proportions(
    categories: Sequence[Hashable], table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and window proportions over ``categories`` from a 2 x k count table."""
    t = np.asarray(table, dtype=np.float64)
    del categories  # kept in the signature so callers pass table and labels together
    sums = t.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    props = t / sums
    return props[0], props[1]


def tvd(p_ref: np.ndarray, p_win: np.ndarray) -> float:
    """Total variation distance ½ Σ |p - q| between two proportion vectors (each summing to 1, or all 0)."""
    return float(0.5 * np.abs(np.asarray(p_ref, dtype=np.float64) - np.asarray(p_win, dtype=np.float64)).sum())


def category_effects(table: np.ndarray) -> dict[str, float]:
    """TVD (the headline), JS distance, PSI, and the window share of new / reference share of vanished categories.

    ``table`` is 2 x k counts (reference row first) over every category seen in either sample.
    """
    t = np.asarray(table, dtype=np.float64)
    p_ref, p_win = category_proportions((), t)
    new = (t[0] == 0) & (t[1] > 0)
    vanished = (t[0] > 0) & (t[1] == 0)
    return {
        "tvd": tvd(p_ref, p_win),
        "js": js_distance(p_ref, p_win) if t.sum() else math.nan,
        "psi": psi(p_ref, p_win),  # kept for continuity; dominated by PSI_EPSILON when a category is new
        "new_share": float(p_win[new].sum()),
        "vanished_share": float(p_ref[vanished].sum()),
    }


def level_counts(levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts of finite ``values`` at each of the sorted reference ``levels``, then one bin for any other value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    idx = np.searchsorted(levels, v)
    if levels.size:
        hit = (idx < levels.size) & (levels[np.minimum(idx, levels.size - 1)] == v)
    else:
        hit = np.zeros(v.size, dtype=bool)
    counts = np.bincount(idx[hit], minlength=levels.size).astype(np.float64)
    return np.append(counts, float(np.count_nonzero(~hit)))
