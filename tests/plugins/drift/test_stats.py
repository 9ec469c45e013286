"""Univariate tests, effect sizes and corrections agree with scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from plugins.drift import effects
from plugins.drift.correction import Correction, correct
from plugins.drift.permutation import one_hot_rows, ordered_from_counts, ordered_statistics, relabel
from plugins.drift.stats import (
    chi2_test,
    contingency,
    cvm_2samp,
    fisher_test,
    ks_2samp,
    ks_many,
    needs_fisher,
    pool_rare,
    sorted_reference,
)

SIZES = [(500, 500), (1000, 700), (40, 55), (15, 10), (10_000, 10_000), (12_000, 3_000)]


@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_ks_matches_scipy_statistic_and_pvalue(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + n2)
    a, b = rng.normal(size=n1), rng.normal(0.03, 1.0, size=n2)
    ours, ref = ks_2samp(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_ks_matches_scipy_with_heavy_ties() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 300).astype(float), rng.integers(0, 6, 250).astype(float)
    ours, ref = ks_2samp(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_ks_many_tests_all_columns_and_drops_nans_like_scipy_on_clean_data() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(800, 4))
    win = rng.normal(size=(600, 4))
    win[:50, 2] = np.nan
    win[0, 3] = np.inf
    outs = ks_many([sorted_reference(ref[:, j]) for j in range(4)], win)
    for j, o in enumerate(outs):
        clean = win[:, j][np.isfinite(win[:, j])]
        expected = stats.ks_2samp(ref[:, j], clean)
        assert o.statistic == pytest.approx(expected.statistic, abs=1e-9)
        assert o.p_value == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize(("n1", "n2"), [(500, 500), (1000, 300), (12, 9), (30, 25)])
def test_cvm_matches_scipy(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * n2)
    a, b = rng.normal(size=n1), rng.standard_t(5, size=n2)
    ours, ref = cvm_2samp(a, b), stats.cramervonmises_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_cvm_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 8, 400).astype(float), rng.integers(0, 8, 300).astype(float)
    ours, ref = cvm_2samp(a, b), stats.cramervonmises_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_chi2_matches_scipy_contingency_without_yates() -> None:
    rng = np.random.default_rng(6)
    a = rng.choice(list("abcd"), 700, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(list("abcd"), 500, p=[0.35, 0.3, 0.25, 0.1])
    _, table = contingency(a, b)
    ours = chi2_test(table)
    ref = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    two = np.array([[30, 70], [45, 55]])
    ref2 = stats.chi2_contingency(two, correction=False)
    assert chi2_test(two).statistic == pytest.approx(ref2.statistic, abs=1e-9)


def test_pool_rare_merges_categories_with_small_expected_counts() -> None:
    table = np.array([[100, 80, 4, 3, 3], [90, 85, 3, 4, 2]])
    pooled = pool_rare(table)
    assert pooled.shape == (2, 3)  # the three rare categories became one "other" column
    tiny = np.array([[100, 80, 2, 1], [90, 85, 1, 2]])
    assert pool_rare(tiny).shape == (2, 2)  # too small even pooled: folded into the smallest category
    assert pooled.sum() == table.sum()
    expected = np.outer(pooled.sum(1), pooled.sum(0)) / pooled.sum()
    assert expected.min() >= 5


def test_fisher_used_for_small_boolean_tables_matches_scipy() -> None:
    table = np.array([[8, 2], [1, 5]])
    assert needs_fisher(table)
    ref = stats.fisher_exact(table)
    out = fisher_test(table)
    assert out.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert not needs_fisher(np.array([[300, 200], [280, 220]]))


def test_psi_and_js_on_known_proportions() -> None:
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert effects.psi(p, q) == pytest.approx(0.25 * math.log(0.5) * -1 + 0.25 * math.log(1.5))
    assert effects.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert effects.psi(p, p) == 0.0
    # An empty bin is raised to epsilon instead of making PSI infinite.
    assert math.isfinite(effects.psi(np.array([1.0, 0.0]), np.array([0.5, 0.5])))


def test_wasserstein_matches_scipy_and_normalises_by_reference_std() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 2, 900), rng.normal(1, 2, 700)
    ref = sorted_reference(a)
    assert effects.wasserstein(ref, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    norm = effects.normalised_wasserstein(ref, b, float(a.std()))
    assert norm == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)
    assert 0.3 < norm < 0.75  # a 0.5σ shift, up to sampling noise


def test_quantile_bins_hold_equal_reference_shares() -> None:
    ref = sorted_reference(np.random.default_rng(8).normal(size=10_000))
    props = effects.binned_proportions(ref.values, effects.quantile_edges(ref, 10))
    np.testing.assert_allclose(props, 0.1, atol=1e-3)


def test_bonferroni_and_bh_corrections_skip_nans() -> None:
    p = [0.01, 0.04, math.nan, 0.03, 0.5]
    bonf = correct(p, Correction.BONFERRONI)
    assert bonf[0] == pytest.approx(0.04) and math.isnan(bonf[2]) and bonf[4] == 1.0
    bh = correct(p, Correction.BH)
    expected = stats.false_discovery_control([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose([bh[0], bh[1], bh[3], bh[4]], expected, rtol=1e-12)


def test_relabeled_ks_and_wasserstein_match_scipy_and_discrete_columns_match_from_their_level_counts() -> None:
    rng = np.random.default_rng(5)
    n, N = 70, 160
    cols = [rng.normal(size=N), rng.integers(0, 5, N).astype(float), rng.choice([0.0, 2.0, 7.5], N)]
    cols[1][rng.random(N) < 0.1] = np.nan
    V = np.column_stack(cols)
    labels = relabel(n, N - n, 30, rng)
    ordered = ordered_statistics(V, labels)
    for b in (0, 7):
        for j, col in enumerate(cols):
            a, w = col[labels[b]], col[~labels[b]]
            a, w = a[np.isfinite(a)], w[np.isfinite(w)]
            assert ordered.ks[b, j] == pytest.approx(stats.ks_2samp(a, w).statistic, abs=1e-6)  # float32
            assert ordered.wasserstein[b, j] == pytest.approx(stats.wasserstein_distance(a, w), rel=1e-5)
    # the discrete columns from their counts at each distinct value: the same distances
    values = [np.unique(c[np.isfinite(c)]) for c in cols[1:]]
    codes = np.column_stack([np.where(np.isfinite(c), np.searchsorted(v, c), -1) for c, v in zip(cols[1:], values,
                                                                                                  strict=True)])
    one_hot = one_hot_rows(codes, np.array([v.size for v in values]))
    counted = ordered_from_counts(labels.astype(np.float64) @ one_hot, one_hot.sum(axis=0), values)
    assert np.allclose(counted.ks, ordered.ks[:, 1:], atol=1e-6)
    assert np.allclose(counted.wasserstein, ordered.wasserstein[:, 1:], atol=1e-6)
    assert np.array_equal(counted.n_a, ordered.n_a[:, 1:])
