"""MMD, linear MMD, LSDD and the reductions fitted on the reference."""

from __future__ import annotations

import numpy as np
import pytest

from agent.plugin import FeatureType
from plugins.drift.multivariate import (
    fit_lsdd,
    lsdd_test,
    median_bandwidth,
    mmd2_unbiased,
    mmd_linear_test,
    mmd_test,
)
from plugins.drift.reduction import Reduction, fit_encoder, fit_projection


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


def test_linear_mmd_detects_a_large_shift_and_not_the_null() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(4000, 4))
    assert mmd_linear_test(X, rng.normal(0.5, 1.0, size=(4000, 4))).p_value < 0.01
    assert mmd_linear_test(X, rng.normal(size=(4000, 4))).p_value > 0.01


def test_lsdd_detects_a_shift_and_keeps_pvalues_positive() -> None:
    rng = np.random.default_rng(5)
    ref = fit_lsdd(rng.normal(size=(1000, 4)), seed=1)
    shifted = lsdd_test(ref, rng.normal(0.5, 1.0, size=(500, 4)), permutations=99)
    same = lsdd_test(ref, rng.normal(size=(500, 4)), permutations=99)
    assert shifted.p_value == pytest.approx(1 / 100)
    assert same.p_value > 0.01
    assert ref.n_reference == 1000 - 50  # the kernel centres are set aside


def test_median_bandwidth_scales_with_data() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(500, 3))
    assert median_bandwidth(10 * X) == pytest.approx(10 * median_bandwidth(X), rel=1e-9)


def test_encoder_standardises_numerics_and_one_hot_encodes_categories() -> None:
    cols = {"x": np.array([1.0, 2.0, 3.0, np.nan]), "c": np.array(["a", "b", "a", "z"], dtype=object)}
    enc = fit_encoder(cols, {"x": FeatureType.NUMERIC, "c": FeatureType.CATEGORICAL})
    X = enc.transform({"x": np.array([2.0, np.nan]), "c": np.array(["b", "new"], dtype=object)}, 2)
    assert X.shape == (2, 1 + 3)
    assert X[0, 0] == pytest.approx(0.0) and X[1, 0] == 0.0
    assert X[0, 1:].tolist() == [0.0, 1.0, 0.0] or X[0, 1:].sum() == 1.0
    assert X[1, 1:].sum() == 0.0  # unseen category encodes as zeros


@pytest.mark.parametrize("method", [Reduction.PCA, Reduction.RANDOM_PROJECTION, Reduction.NONE])
def test_projection_output_width(method: Reduction) -> None:
    X = np.random.default_rng(7).normal(size=(200, 12))
    proj = fit_projection(X, method, n_components=4)
    assert proj.transform(X).shape == (200, 12 if method is Reduction.NONE else 4)


def test_pca_keeps_the_direction_of_largest_reference_variance() -> None:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1000, 3)) * np.array([5.0, 1.0, 0.1])
    proj = fit_projection(X, Reduction.PCA, n_components=1)
    assert abs(proj.matrix[0, 0]) > 0.99
