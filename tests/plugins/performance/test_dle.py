"""DLE: the loss model's MAE/RMSE estimates hold under covariate shift and miss concept drift, as documented."""

from __future__ import annotations

import numpy as np

from plugins.performance.dle import estimate_dle, fit_dle, predict_losses, realized_regression

from .simulate import heteroscedastic


def test_mae_and_rmse_within_the_band_under_covariate_shift_into_noisier_rows() -> None:
    rng = np.random.default_rng(12)
    cols, pred, y = heteroscedastic(rng, 20000)
    ref = fit_dle(cols, pred, y, ["x1", "x2"], bins=5, ridge=1.0)
    assert 2.7 < ref.kurtosis < 3.3  # Gaussian errors once scaled by the predicted noise
    shifts = rng.uniform(-1.0, 1.5, 100)
    hits = {"mae": 0, "rmse": 0}
    moved = []
    for s in shifts:
        c, p, t = heteroscedastic(rng, 1000, shift=s)
        est = estimate_dle(ref, predict_losses(ref, c, p))
        real = realized_regression(p, t)
        moved.append(real["mae"])
        for m in hits:
            hits[m] += abs(est[m].value - real[m]) <= 3 * est[m].std
    coverage = {m: h / len(shifts) for m, h in hits.items()}
    print(f"DLE coverage at 3 sigma: {coverage}")
    assert max(moved) > 1.5 * min(moved)  # the shift really changes the error
    assert min(coverage.values()) >= 0.9, coverage


def test_concept_drift_is_invisible_to_dle() -> None:
    rng = np.random.default_rng(13)
    cols, pred, y = heteroscedastic(rng, 20000)
    ref = fit_dle(cols, pred, y, ["x1", "x2"], bins=5, ridge=1.0)
    c, p, t = heteroscedastic(rng, 2000, noise=2.0)  # same inputs, the target twice as noisy
    est = estimate_dle(ref, predict_losses(ref, c, p))
    real = realized_regression(p, t)
    assert real["mae"] > est["mae"].value + 10 * est["mae"].std  # the method's limit: only labels show it
