"""MMD (exact and random-feature, every relabeling at once), LSDD, the shift scale and the pooled encodings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plugins.drift.config import DriftConfig
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.multivariate import (
    fit_lsdd,
    lsdd_permuted,
    lsdd_test,
    mahalanobis_norms,
    median_bandwidth,
    mmd2_permuted,
    mmd2_unbiased,
    mmd_test,
    scale_sample,
    shift_sensitivity,
)
from plugins.drift.permutation import relabel
from plugins.drift.reduction import Reduction, fit_projection, one_hot, pooled_codes, reduce, standardise
from plugins.drift.results import MULTIVARIATE, DriftResult


def _direct_mmd2(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma * sigma)))

    n, m = len(X), len(Y)
    sxx = sum(k(X[i], X[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    syy = sum(k(Y[i], Y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    sxy = sum(k(X[i], Y[j]) for i in range(n) for j in range(m)) / (n * m)
    return sxx + syy - 2 * sxy


def test_mmd_statistic_matches_direct_quadratic_computation() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), rng.normal(0.4, 1.0, size=(33, 3))
    direct = _direct_mmd2(X, Y, 1.3)
    assert mmd2_unbiased(X, Y, 1.3) == pytest.approx(direct, abs=1e-12)
    assert mmd_test(X, Y, sigma=1.3, permutations=50).statistic == pytest.approx(direct, abs=1e-12)


def test_mmd_permutations_match_direct_statistic_of_each_permuted_split() -> None:
    from plugins.drift.multivariate import permutation_indicators

    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    Z = np.vstack([X, Y])
    A = permutation_indicators(20, 15, 5, np.random.default_rng(9))
    res = mmd_test(X, Y, sigma=1.0, permutations=5, seed=9)
    stats = [mmd2_unbiased(Z[A[b] == 1], Z[A[b] == 0], 1.0) for b in range(1, 6)]
    expected_p = (sum(s >= res.statistic for s in stats) + 1) / 6
    assert res.p_value == pytest.approx(expected_p)


def test_mmd_pvalue_is_never_zero_and_detects_a_shift() -> None:
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(300, 5)), rng.normal(1.0, 1.0, size=(300, 5))
    res = mmd_test(X, Y, permutations=99)
    assert res.p_value == pytest.approx(1 / 100)


def test_mmd_blocks_give_the_same_answer_as_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import plugins.drift.multivariate as mv

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(120, 4)), rng.normal(size=(90, 4))
    whole = mmd_test(X, Y, sigma=2.0, permutations=30)
    monkeypatch.setattr(mv, "_BLOCK_ELEMENTS", 2000)  # ~9 rows per block
    blocked = mmd_test(X, Y, sigma=2.0, permutations=30)
    assert blocked.statistic == pytest.approx(whole.statistic, abs=1e-12)
    assert blocked.p_value == whole.p_value


def test_every_relabeling_gets_the_direct_unbiased_mmd_with_the_exact_kernel() -> None:
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(60, 3))
    labels = relabel(35, 25, 6, rng)
    stats = mmd2_permuted(Z, labels, (1.2, 0.6))
    for b in range(7):
        for i, s in enumerate((1.2, 0.6)):
            direct = mmd2_unbiased(Z[labels[b]], Z[~labels[b]], s)
            assert stats[b, i] == pytest.approx(direct, abs=1e-7)  # float32 kernel products


def test_random_features_approximate_the_exact_mmd_above_the_exact_size() -> None:
    import plugins.drift.multivariate as mv

    rng = np.random.default_rng(5)
    Z = np.vstack([rng.normal(size=(700, 4)), rng.normal(0.6, 1.0, size=(600, 4))])
    labels = relabel(700, 600, 3, rng)
    rff = mmd2_permuted(Z, labels, (2.0, 1.0))  # 1,300 rows: random features
    exact = mv._mmd2_exact(Z, labels.astype(float), 700, 600, (2.0, 1.0))
    assert rff[0, 0] == pytest.approx(exact[0, 0], rel=0.15)
    assert rff[0, 1] == pytest.approx(exact[0, 1], rel=0.15)
    assert np.all(np.abs(rff[1:]) < rff[0, 0] / 5)  # relabelings: no difference left


def test_the_shift_scale_reads_an_mmd_as_a_one_feature_mean_shift() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(600, 5))
    sigma, sample, distances = scale_sample(X, max_points=600)
    assert sigma == pytest.approx(median_bandwidth(X, max_points=600), rel=1e-9)
    (c,) = shift_sensitivity(sample, distances, (sigma,))
    Y = rng.normal(size=(600, 5))
    Y[:, 2] += 0.5
    mmd2 = mmd2_unbiased(X, Y, sigma)
    # averaged over the columns, c is the MMD² of a unit shift of one column (second order)
    assert np.sqrt(mmd2 / c) == pytest.approx(0.5, abs=0.15)


def test_mahalanobis_norms_are_scipys_distances_under_the_shrunk_pooled_covariance() -> None:
    from scipy.spatial.distance import mahalanobis

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    X[:, 5] = 3.0  # a constant column: the shrinkage keeps the covariance invertible
    C = np.cov(X, rowvar=False)
    shrunk = 0.9 * C + 0.1 * np.trace(C) / 6 * np.eye(6)
    VI = np.linalg.inv(shrunk)
    centre = X.mean(axis=0)
    expected = [mahalanobis(x, centre, VI) ** 2 for x in X]
    np.testing.assert_allclose(mahalanobis_norms(X, shrinkage=0.1), expected, rtol=1e-9)
    # more columns than rows
    W = rng.normal(size=(8, 20))
    C = np.cov(W, rowvar=False)
    VI = np.linalg.inv(0.9 * C + 0.1 * np.trace(C) / 20 * np.eye(20))
    np.testing.assert_allclose(mahalanobis_norms(W), [mahalanobis(w, W.mean(axis=0), VI) ** 2 for w in W],
                               rtol=1e-8)
    assert not mahalanobis_norms(np.ones((5, 3))).any()
    with np.errstate(over="ignore", invalid="ignore"):  # squares beyond float range: no norms, no exception
        assert not mahalanobis_norms(np.array([[1e308, 0.0], [-1e308, 1.0], [0.0, 2.0]])).any()


def test_lsdd_detects_a_shift_and_keeps_pvalues_positive() -> None:
    rng = np.random.default_rng(5)
    ref = fit_lsdd(rng.normal(size=(1000, 4)), seed=1)
    shifted = lsdd_test(ref, rng.normal(0.5, 1.0, size=(500, 4)), permutations=99)
    same = lsdd_test(ref, rng.normal(size=(500, 4)), permutations=99)
    assert shifted.p_value == pytest.approx(1 / 100)
    assert same.p_value > 0.01
    assert ref.n_reference == 1000 - 50  # the kernel centres are set aside


def test_lsdd_of_every_relabeling_separates_a_shift_from_its_relabelings() -> None:
    rng = np.random.default_rng(5)
    Z = np.vstack([rng.normal(size=(300, 3)), rng.normal(0.7, 1.0, size=(200, 3))])
    stats = lsdd_permuted(Z, relabel(300, 200, 40, rng))
    assert stats.shape == (41,) and stats[0] > stats[1:].max()


def test_lsdd_at_several_bandwidths_gives_one_column_each_and_the_single_bandwidth_one_by_default() -> None:
    rng = np.random.default_rng(8)
    Z = np.vstack([rng.normal(size=(150, 3)), rng.normal(0.8, 1.0, size=(100, 3))])
    labels = relabel(150, 100, 30, rng)
    sigma = median_bandwidth(Z)
    both = lsdd_permuted(Z, labels, sigmas=(sigma, sigma / 2))
    assert both.shape == (31, 2)
    assert np.allclose(both[:, 0], lsdd_permuted(Z, labels))
    assert np.all(both[0] > np.quantile(both[1:], 0.95, axis=0))


def test_median_bandwidth_scales_with_data() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(500, 3))
    assert median_bandwidth(10 * X) == pytest.approx(10 * median_bandwidth(X), rel=1e-9)


def test_pooled_encoding_standardises_and_codes_without_labels() -> None:
    X = np.array([[1.0, 5.0], [3.0, np.nan], [5.0, 5.0]])
    Z = standardise(X)
    assert Z[:, 0].tolist() == pytest.approx([-1.2247448714, 0.0, 1.2247448714])
    assert Z[1, 1] == 0.0 and Z[0, 1] == 0.0  # a constant column stays 0; missing is the mean
    codes, levels, frequent = pooled_codes(np.array(["b", "a", "b", None, "b", "c"], dtype=object))
    assert codes.tolist() == [0, 1, 0, -1, 0, 2] and levels == 3 and frequent == 0  # none in 5 rows
    hot = one_hot(np.array([0, 2, -1]), 2)
    np.testing.assert_allclose(hot, [[0.70710678, 0.0], [0.0, 0.0], [0.0, 0.0]], rtol=1e-7)


@pytest.mark.parametrize("method", [Reduction.PCA, Reduction.RANDOM_PROJECTION, Reduction.NONE])
def test_projection_output_width(method: Reduction) -> None:
    X = np.random.default_rng(7).normal(size=(200, 12))
    proj = fit_projection(X, method, n_components=4)
    assert proj.transform(X).shape == (200, 12 if method is Reduction.NONE else 4)


def test_auto_reduction_keeps_the_full_data_unless_it_is_wide() -> None:
    rng = np.random.default_rng(9)
    assert reduce(rng.normal(size=(50, 40)), Reduction.AUTO, 8).shape == (50, 40)
    assert reduce(rng.normal(size=(50, 300)), Reduction.AUTO, 8).shape == (50, 8)


def test_pca_keeps_the_direction_of_largest_reference_variance() -> None:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1000, 3)) * np.array([5.0, 1.0, 0.1])
    proj = fit_projection(X, Reduction.PCA, n_components=1)
    assert abs(proj.matrix[0, 0]) > 0.99


def _joint(ref: np.ndarray, win: np.ndarray, seed: int) -> DriftResult:
    config = replace(DriftConfig(), seed=seed)
    profile = build_profile({f"x{j}": ref[:, j] for j in range(ref.shape[1])}, config)
    report = evaluate(profile, {f"x{j}": win[:, j] for j in range(win.shape[1])}, config)
    return next(r for r in report.results if r.feature == MULTIVARIATE)


def test_small_windows_get_p_values_that_do_not_hang_on_the_relabelings_drawn() -> None:
    # 150 + 150 rows of 30 features, a 0.45σ shift of one: p-values near α. With the 107
    # relabelings of the old rule a p-value below 0.1 moved by up to 0.028 from one draw of
    # relabelings to the next, so a verdict at p = 0.04 was close to a coin flip (0.009 now,
    # with 537); large windows keep the minimum.
    rng = np.random.default_rng(5)
    moved = []
    for _ in range(12):
        ref, win = rng.normal(size=(150, 30)), rng.normal(size=(150, 30))
        win[:, 0] += 0.45
        a, b = _joint(ref, win, seed=1), _joint(ref, win, seed=2)
        assert a.effects["permutations"] >= 300
        if max(a.p_value, b.p_value) < 0.1:
            moved.append(abs(a.p_value - b.p_value))
    assert len(moved) >= 6 and max(moved) <= 0.015, moved
    big = _joint(rng.normal(size=(3000, 30)), rng.normal(size=(3000, 30)), seed=1)
    assert big.effects["permutations"] == DriftConfig().permutations
