"""Univariate two-sample tests: Kolmogorov–Smirnov, Cramér–von Mises, chi-square, Fisher.

Pure functions. The numeric tests take a ``SortedReference`` built once per reference
so each window only sorts itself. Statistics and p-values reproduce scipy's
(``ks_2samp`` with ``method="auto"``, ``cramervonmises_2samp``, ``chi2_contingency``
with ``correction=False``) on the same data.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from plugins.drift.results import TestOutcome

# scipy is imported where a test needs it, not with this module: the drift plugin is loaded
# by every `infersight` command, and scipy.stats alone would double their start-up time.

__all__ = [
    "SortedReference",
    "categorical_test",
    "chi2_test",
    "contingency",
    "contingency_counts",
    "cvm_2samp",
    "fisher_test",
    "ks_2samp",
    "ks_many",
    "ks_tiebreak",
    "sorted_reference",
    "value_counts",
]

_KS_MAX_EXACT_N = 10_000  # scipy's MAX_AUTO_N: exact p-values up to this sample size
MIN_EXPECTED = 5.0


@dataclass(frozen=True, slots=True)
class SortedReference:
    """A numeric reference column summarised once: sorted finite values and ECDF counts at them."""

    values: np.ndarray  # sorted, finite
    right_counts: np.ndarray  # searchsorted(values, values, "right")

    @property
    def n(self) -> int:
        """Number of finite reference values."""
        return int(self.values.size)


def sorted_reference(values: np.ndarray) -> SortedReference:
    """Sort the finite values of a reference column once for all later window tests."""
    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[np.isfinite(v)])
    return SortedReference(v, _right_counts_sorted(v[:, None])[:, 0])


def _right_counts_sorted(s: np.ndarray) -> np.ndarray:
    """For columns sorted along axis 0: searchsorted(col, col, 'right') for every column at once."""
    n = s.shape[0]
    if n == 0:
        return np.zeros(s.shape, dtype=np.int64)
    is_last = np.ones(s.shape, dtype=bool)
    is_last[:-1] = s[:-1] != s[1:]
    idx = np.where(is_last, np.arange(1, n + 1)[:, None], n + 1)
    # The count for a tied value is the position after the last of its ties: a reverse running minimum.
    return np.minimum.accumulate(idx[::-1], axis=0)[::-1]


def _ks_statistic(ref: SortedReference, w: np.ndarray, w_right: np.ndarray) -> float:
    n1, n2 = ref.n, w.size
    # ECDF difference at every pooled point, split into reference points and window points;
    # the same count/n floats scipy computes, so the maximum is bit-identical.
    d_at_ref = ref.right_counts / n1 - np.searchsorted(w, ref.values, side="right") / n2
    d_at_win = np.searchsorted(ref.values, w, side="right") / n1 - w_right / n2
    max_s = max(float(d_at_ref.max()), float(d_at_win.max()))
    min_s = min(max(-float(d_at_ref.min()), -float(d_at_win.min())), 1.0)
    min_s = max(min_s, 0.0)
    return min_s if min_s > max_s else max_s


def _prob_outside_square(n: int, h: int) -> float:
    """scipy's ``_compute_prob_outside_square`` with the inner products vectorised."""
    k_max = n // h
    ks = np.arange(k_max + 1)[:, None]
    j = np.arange(h)[None, :]
    ratios = (n - ks * h - j) / (n + ks * h + j + 1.0)
    prods = np.ones(k_max + 1)
    # Sequential left-to-right products, as scipy's loop does, to keep the same rounding.
    for col in range(h):
        prods *= ratios[:, col]
    p = 0.0
    for k in range(k_max, -1, -1):
        p = float(prods[k]) * (1.0 - p)
    return 2.0 * p


def ks_pvalue(n1: int, n2: int, d: float) -> float:
    """Two-sided KS p-value as ``scipy.stats.ks_2samp(method="auto")`` computes it for sizes n1, n2."""
    if max(n1, n2) <= _KS_MAX_EXACT_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        h = round(d * lcm)
        if h == 0:
            return 1.0
        exact = _exact_pvalue(n1, n2, h)
        if exact is not None:
            return exact
    from scipy import stats as sps

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0))


@functools.lru_cache(maxsize=4096)
def _exact_pvalue(n1: int, n2: int, h: int) -> float | None:
    """The exact p-value of ``d = h / lcm(n1, n2)`` (None when it does not converge).

    It depends on the sizes and on h only, and live windows repeat both, so it is cached.
    """
    if n1 == n2:
        try:
            with np.errstate(invalid="raise", over="raise"):
                prob = _prob_outside_square(n1, h)
            if 0.0 <= prob <= 1.0:
                return prob
        except FloatingPointError:
            pass
        return None
    g = math.gcd(n1, n2)
    return _scipy_exact(n1, n2, g, h / ((n1 // g) * n2))


def _scipy_exact(n1: int, n2: int, g: int, d: float) -> float | None:
    # scipy exposes no public function for the exact two-sample null distribution.
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError:  # pragma: no cover - private API moved: fall back to the asymptotic value
        return None
    success, _, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
    return float(np.clip(prob, 0.0, 1.0)) if success else None


def ks_many(refs: Sequence[SortedReference], window: np.ndarray) -> list[TestOutcome]:
    """KS test of each window column (rows x features) against its sorted reference; NaNs are dropped."""
    w_all = np.asarray(window, dtype=np.float64)
    if w_all.ndim == 1:
        w_all = w_all[:, None]
    w_all = np.where(np.isfinite(w_all), w_all, np.nan)
    w_sorted = np.sort(w_all, axis=0)  # NaNs sort last
    counts = np.count_nonzero(~np.isnan(w_sorted), axis=0)
    full = bool(np.all(counts == w_sorted.shape[0]))
    right_all = _right_counts_sorted(w_sorted) if full else None
    out: list[TestOutcome] = []
    for f, ref in enumerate(refs):
        m = int(counts[f])
        if m == 0 or ref.n == 0:
            out.append(TestOutcome(math.nan, math.nan))
            continue
        w = w_sorted[:m, f]
        w_right = right_all[:, f] if right_all is not None else _right_counts_sorted(w[:, None])[:, 0]
        d = _ks_statistic(ref, w, w_right)
        out.append(TestOutcome(d, ks_pvalue(ref.n, m, d)))
    return out


def ks_2samp(reference: np.ndarray | SortedReference, window: np.ndarray) -> TestOutcome:
    """Two-sided two-sample KS test (statistic and p-value as ``scipy.stats.ks_2samp``)."""
    ref = reference if isinstance(reference, SortedReference) else sorted_reference(reference)
    return ks_many([ref], np.asarray(window, dtype=np.float64)[:, None])[0]


def ks_tiebreak(reference: SortedReference, window: np.ndarray, rng: np.random.Generator) -> TestOutcome:
    """KS test for discrete data: ties broken at random, then the exact continuous p-value.

    Every value is moved up by a uniform draw below half the smallest gap between distinct
    pooled values, so distinct values keep their order and only ties are reordered at random.
    With no drift the tie-broken samples are exchangeable draws of a continuous law, so the
    p-value is exact (size α, where KS on tied data is conservative: 0.016 at α = 0.05 on
    scikit-learn's digits); and the tie-broken distance is at least the tied one (the two
    ECDFs agree at the end of every tie), so it rejects whenever scipy's tied KS does.
    """
    w = np.asarray(window, dtype=np.float64)
    w = w[np.isfinite(w)]
    if reference.n == 0 or w.size == 0:
        return TestOutcome(math.nan, math.nan)
    distinct = np.unique(np.concatenate([reference.values, w]))
    gap = float(np.diff(distinct).min()) if distinct.size > 1 else 1.0
    r = np.sort(reference.values + rng.random(reference.n) * (gap / 2))
    jittered = w + rng.random(w.size) * (gap / 2)
    return ks_many([sorted_reference(r)], jittered[:, None])[0]


def _cdf_cvm_inf(x: float) -> float:
    """Limiting CDF of the Cramér–von Mises statistic (Csörgő & Faraway 1996, eq. 1.2), as scipy sums it."""
    from scipy import special

    total = 0.0
    k = 0
    while True:
        u = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        y = 4 * k + 1
        q = y**2 / (16 * x)
        z = u * math.sqrt(y) * math.exp(-q) * float(special.kv(0.25, q))
        total += z
        if abs(z) < 1e-7:
            return total
        k += 1


def cvm_2samp(reference: np.ndarray | SortedReference, window: np.ndarray) -> TestOutcome:
    """Two-sample Cramér–von Mises test (as ``scipy.stats.cramervonmises_2samp``); NaNs are dropped."""
    ref = reference if isinstance(reference, SortedReference) else sorted_reference(reference)
    w = np.asarray(window, dtype=np.float64)
    w = np.sort(w[np.isfinite(w)])
    nx, ny = ref.n, w.size
    if nx <= 1 or ny <= 1:
        return TestOutcome(math.nan, math.nan)
    if max(nx, ny) <= 20:
        from scipy import stats as sps

        # scipy's exact small-sample distribution; cheap at these sizes.
        res = sps.cramervonmises_2samp(ref.values, w)
        return TestOutcome(float(res.statistic), float(res.pvalue))
    x = ref.values
    # Mid-ranks in the pooled sample from counts below / at-or-below in each sorted sample.
    below_x = np.searchsorted(x, x, "left") + np.searchsorted(w, x, "left")
    upto_x = ref.right_counts + np.searchsorted(w, x, "right")
    below_y = np.searchsorted(x, w, "left") + np.searchsorted(w, w, "left")
    upto_y = np.searchsorted(x, w, "right") + _right_counts_sorted(w[:, None])[:, 0]
    rx = (below_x + upto_x + 1) / 2.0
    ry = (below_y + upto_y + 1) / 2.0
    u = nx * np.sum((rx - np.arange(1, nx + 1)) ** 2) + ny * np.sum((ry - np.arange(1, ny + 1)) ** 2)
    k, n = nx * ny, nx + ny
    t = float(u / (k * n) - (4 * k - 1) / (6 * n))
    et = (1 + 1 / n) / 6
    vt = (n + 1) * (4 * k * n - 3 * (nx**2 + ny**2) - 2 * k) / (45 * n**2 * 4 * k)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    p = 1.0 if tn < 0.003 else max(1.0 - _cdf_cvm_inf(tn), 0.0)
    return TestOutcome(t, p)


def contingency(
    reference: Sequence[Hashable] | np.ndarray, window: Sequence[Hashable] | np.ndarray
) -> tuple[list[Hashable], np.ndarray]:
    """Categories (reference order by frequency, then new ones) and the 2 x k table of counts."""
    ref_vals, ref_counts = value_counts(reference)
    win_vals, win_counts = value_counts(window)
    return contingency_counts(dict(zip(ref_vals, ref_counts, strict=True)),
                              dict(zip(win_vals, win_counts, strict=True)))


def contingency_counts(
    reference: Mapping[Hashable, int], window: Mapping[Hashable, int]
) -> tuple[list[Hashable], np.ndarray]:
    """``contingency`` from category counts already tallied (reference order kept, new ones after)."""
    cats: list[Hashable] = list(reference)
    cats.extend(c for c in window if c not in reference)
    table = np.zeros((2, len(cats)))
    table[0, : len(reference)] = list(reference.values())
    index = {c: i for i, c in enumerate(cats)}
    for c, n in window.items():
        table[1, index[c]] = n
    return cats, table


def value_counts(values: Sequence[Hashable] | np.ndarray) -> tuple[list[Hashable], list[int]]:
    """Distinct non-missing values, most frequent first, and their counts."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        if arr.dtype.kind == "f":
            arr = arr[~np.isnan(arr)]
        u, c = np.unique(arr, return_counts=True)
        order = np.argsort(-c, kind="stable")
        return [u[i].item() for i in order], [int(c[i]) for i in order]
    items = arr.tolist()
    try:
        tally: dict[Hashable, int] = Counter(items)
    except TypeError:  # unhashable values (lists): not categories; callers count them (values.categorical_values)
        tally = Counter(v for v in items if _hashable(v))
    ordered = sorted(((k, n) for k, n in tally.items() if not _missing(k)), key=lambda kv: -kv[1])
    return [k for k, _ in ordered], [n for _, n in ordered]


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except Exception:  # unhashable, or a __hash__ that raises
        return False
    return True


def pool_rare(table: np.ndarray, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Merge categories whose smallest expected cell count is below ``min_expected`` into one column.

    Expected counts come from the pooled margins (the null). When the merged column is
    itself still too small it is folded into the smallest remaining category, unless that
    would leave a single column: a rare level is never pooled away into a constant (a
    2-column table with small expected counts goes to Fisher's exact test instead).
    """
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
    if pooled.sum() * table.sum(axis=1).min() / total < min_expected and kept.shape[1] > 1:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest : smallest + 1] += pooled
        return kept
    return np.hstack([kept, pooled])


def categorical_test(table: np.ndarray) -> tuple[str, TestOutcome]:
    """The test of a 2 x k category table: ``("chi2", ...)`` or, for 2 columns with a small expected count, Fisher.

    Empty columns are dropped; more than 2 columns are pooled by ``pool_rare`` first. A table
    left with fewer than 2 columns gives a nan outcome (the feature is constant).
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] > 2:
        t = pool_rare(t)
    if t.shape[1] < 2 or np.any(t.sum(axis=1) == 0):
        return "chi2", TestOutcome(math.nan, math.nan)
    if t.shape[1] == 2 and needs_fisher(t):
        return "fisher", fisher_test(t)
    return "chi2", chi2_test(t)


def chi2_test(table: np.ndarray) -> TestOutcome:
    """Pearson chi-square on a 2 x k table without Yates' correction (``chi2_contingency(correction=False)``).

    Yates' correction is left off for every shape, including 2 x 2, because it makes
    the test conservative; the calibration study relies on an honest size.
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] < 2 or np.any(t.sum(axis=1) == 0):
        return TestOutcome(math.nan, math.nan)
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    stat = float(np.sum((t - expected) ** 2 / expected))
    dof = (t.shape[0] - 1) * (t.shape[1] - 1)
    from scipy import stats as sps

    return TestOutcome(stat, float(sps.chi2.sf(stat, dof)))


def fisher_test(table: np.ndarray) -> TestOutcome:
    """Fisher's exact test on a 2 x 2 table; statistic is the sample odds ratio (as scipy returns it)."""
    t = np.asarray(table, dtype=np.int64)
    if t.shape != (2, 2):
        return TestOutcome(math.nan, math.nan)
    from scipy import stats as sps

    res = sps.fisher_exact(t)
    return TestOutcome(float(res.statistic), float(res.pvalue))


def needs_fisher(table: np.ndarray, min_expected: float = MIN_EXPECTED) -> bool:
    """True for a 2 x 2 table with an expected cell below ``min_expected`` (chi-square unreliable there)."""
    t = np.asarray(table, dtype=np.float64)
    if t.shape != (2, 2) or t.sum() == 0:
        return False
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    return bool(expected.min() < min_expected)
