"""Stopgaps: drift statistics that ``plugins.drift``'s face does not export yet, restated here.

The fleet tests must give the same records, correction and verdict rule as the live drift
plugin, but a plugin may import only another plugin's package face, and
``plugins.drift.__all__`` lists ``DriftConfig``, ``DriftResult``, ``compare`` and the
report helpers, not the pure statistics. Until the face exports them, these functions
restate ``plugins.drift.correction.correct``, ``detector._decide``, ``effects.psi``,
``effects.js_distance``, ``stats.pool_rare``, ``stats.chi2_test``, ``stats.fisher_test``,
``stats.needs_fisher``, ``multivariate.median_bandwidth`` and ``multivariate.mmd_test``
with the same definitions (the tests compare them with ``plugins.drift.compare`` on the
same data). PSI and the Jensen–Shannon distance now come from the drift face itself; the rest keeps the
earlier verdict rule on purpose (see ``evaluate``). Delete what the face serves as it grows.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from plugins.drift import DriftResult

MIN_EXPECTED = 5.0
MAX_ONE_HOT = 20
MEDIAN_POINTS = 1000


def correct(p_values: list[float], method: str) -> list[float]:
    """Adjusted p-values (``bonferroni``, ``bh`` or ``none``); nan entries stay nan and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return out.tolist()
    pv = p[valid]
    if method == "bonferroni":
        adj = np.minimum(pv * m, 1.0)
    elif method == "bh":
        order = np.argsort(pv)
        ranked = np.minimum.accumulate((pv[order] * m / np.arange(1, m + 1))[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
    else:
        adj = pv
    out[valid] = adj
    return out.tolist()


def decide(r: DriftResult, corrected_p: float, alpha: float, drift_alpha: float, failed: str) -> DriftResult:
    """The drift verdict rule: significant at α; drifted when below ``drift_alpha`` AND effect >= threshold."""
    if r.skipped is not None or math.isnan(r.p_value):
        return replace(r, skipped=r.skipped or failed)
    significant = corrected_p < alpha
    drifted = corrected_p < drift_alpha and not math.isnan(r.effect_size) and r.effect_size >= r.threshold
    return replace(r, corrected_p_value=corrected_p, significant=significant, drifted=drifted)


def pool_rare(table: np.ndarray, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Merge categories whose smallest expected count is below ``min_expected`` into one column."""
    table = np.asarray(table, dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if total == 0 or table.shape[1] == 0:
        return table
    expected_min = table.sum(axis=0) * table.sum(axis=1).min() / total
    rare = expected_min < min_expected
    if not rare.any():
        return table
    kept = table[:, ~rare]
    pooled = table[:, rare].sum(axis=1, keepdims=True)
    if pooled.sum() * table.sum(axis=1).min() / total < min_expected and kept.shape[1] > 0:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest : smallest + 1] += pooled
        return kept
    return np.hstack([kept, pooled])


def chi2_test(table: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square on a 2 x k table, no Yates correction: (statistic, p-value)."""
    t = np.asarray(table, dtype=np.float64)
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] < 2 or np.any(t.sum(axis=1) == 0):
        return math.nan, math.nan
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    stat = float(np.sum((t - expected) ** 2 / expected))
    from scipy import stats as sps

    return stat, float(sps.chi2.sf(stat, (t.shape[0] - 1) * (t.shape[1] - 1)))


def needs_fisher(table: np.ndarray) -> bool:
    """A 2 x 2 table with an expected cell below 5 (chi-square unreliable there)."""
    t = np.asarray(table, dtype=np.float64)
    if t.shape != (2, 2) or t.sum() == 0:
        return False
    return bool((np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()).min() < MIN_EXPECTED)


def fisher_test(table: np.ndarray) -> tuple[float, float]:
    """Fisher's exact test on a 2 x 2 table: (odds ratio, p-value)."""
    from scipy import stats as sps

    res = sps.fisher_exact(np.asarray(table, dtype=np.int64))
    return float(res.statistic), float(res.pvalue)


def _sq_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    d = X @ Y.T
    d *= -2.0
    d += (X * X).sum(1)[:, None]
    d += (Y * Y).sum(1)[None, :]
    return np.maximum(d, 0.0, out=d)


def median_bandwidth(X: np.ndarray, seed: int = 0) -> float:
    """Median-heuristic σ: sqrt(median pairwise squared distance / 2) over at most 1,000 rows."""
    if X.shape[0] > MEDIAN_POINTS:
        X = X[np.random.default_rng(seed).choice(X.shape[0], MEDIAN_POINTS, replace=False)]
    d = _sq_distances(X, X)[np.triu(np.ones((X.shape[0], X.shape[0]), dtype=bool), k=1)]
    med = float(np.median(d)) if d.size else 0.0
    return math.sqrt(med / 2.0) if med > 0 else 1.0


def mmd_test(X: np.ndarray, Y: np.ndarray, sigma: float, permutations: int, seed: int) -> tuple[float, float]:
    """Unbiased MMD² (Gaussian kernel) with a permutation p-value (b + 1) / (B + 1): (statistic, p-value).

    The samples are bounded (the profiles' row samples), so the whole kernel matrix is built at once.
    """
    n, m = X.shape[0], Y.shape[0]
    if n < 2 or m < 2:
        return math.nan, math.nan
    Z = np.vstack([X, Y])
    N = n + m
    K = _sq_distances(Z, Z)
    K *= -1.0 / (2.0 * sigma * sigma)
    np.exp(K, out=K)
    rng = np.random.default_rng(seed)
    A = np.zeros((permutations + 1, N))
    A[0, :n] = 1.0
    if permutations:
        np.put_along_axis(A[1:], np.argsort(rng.random((permutations, N)), axis=1)[:, :n], 1.0, axis=1)
    AK = A @ K
    aKa = np.einsum("pi,pi->p", AK, A)
    aK1 = AK.sum(axis=1)
    diag = np.diagonal(K)
    a_diag = A @ diag
    total, trace = float(K.sum()), float(diag.sum())
    sxx = aKa - a_diag
    sxy = aK1 - aKa
    syy = total - 2.0 * aK1 + aKa - (trace - a_diag)
    stats_ = sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m)
    observed = float(stats_[0])
    return observed, float((np.count_nonzero(stats_[1:] >= observed) + 1) / (permutations + 1))
