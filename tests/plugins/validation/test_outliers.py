"""Robust ranges from reference values: quantiles and median/MAD z-scores."""

from __future__ import annotations

import numpy as np

from plugins.validation.outliers import OutlierConfig, OutlierMethod, fit_range


def test_quantile_range_matches_reference_quantiles() -> None:
    vals = np.arange(1001, dtype=float)
    rng = fit_range(vals, OutlierConfig(low_quantile=0.01, high_quantile=0.99))
    assert rng is not None and (rng.low, rng.high) == (10.0, 990.0)
    assert rng.mask(np.array([5.0, 500.0, 995.0, np.nan])).tolist() == [True, False, True, False]


def test_zscore_range_is_robust_to_contamination() -> None:
    vals = np.random.default_rng(0).normal(0, 1, size=10_000)
    vals[:500] = 1e6  # 5% garbage does not move median/MAD much
    rng = fit_range(vals, OutlierConfig(method=OutlierMethod.ZSCORE, z=3.0))
    assert rng is not None and -3.6 < rng.low < -2.6 and 2.6 < rng.high < 3.6


def test_constant_majority_falls_back_to_standard_deviation() -> None:
    vals = np.array([0.0] * 80 + list(np.linspace(1, 20, 20)))
    rng = fit_range(vals, OutlierConfig(method=OutlierMethod.ZSCORE))
    assert rng is not None and rng.high > 0


def test_too_few_reference_values_give_no_range() -> None:
    assert fit_range(np.array([1.0, np.nan, np.inf]), OutlierConfig()) is None
