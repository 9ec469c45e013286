"""Isotonic calibration: the numpy PAV matches scikit-learn, and calibration is applied only when it helps."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from plugins.performance.isotonic import Isotonic, apply_maps, fit_calibration, pav


def test_pav_matches_scikit_learn_with_ties_and_out_of_range_points() -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=3000), 2)  # many ties
    y = (rng.random(3000) < 1 / (1 + np.exp(-2 * x))).astype(float)
    ours = Isotonic.fit(x, y)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    probe = np.concatenate([np.linspace(-5, 5, 1001), x[:200]])
    assert np.allclose(ours.predict(probe), theirs.predict(probe), atol=1e-12)


def test_pav_is_the_weighted_monotone_least_squares_fit() -> None:
    fitted = pav(np.array([1.0, 3.0, 2.0, 2.0, 0.0, 5.0]), np.array([1.0, 1.0, 1.0, 2.0, 1.0, 1.0]))
    assert np.all(np.diff(fitted) >= 0)
    assert np.allclose(fitted, [1.0, 1.8, 1.8, 1.8, 1.8, 5.0])  # (3 + 2 + 2·2 + 0) / 5


def test_sorted_interpolation_gives_the_same_calibration() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1, 1, 1], size=2000)
    labels = rng.integers(0, 3, 2000)
    maps = tuple(Isotonic.fit(proba[:, c], labels == c) for c in range(3))
    orders = {c: np.argsort(proba[:, c]) for c in range(3)}
    assert np.allclose(apply_maps(maps, proba, False), apply_maps(maps, proba, False, orders))


def test_a_calibrated_model_keeps_its_scores_and_an_overconfident_one_is_calibrated() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=6000)
    p = 1 / (1 + np.exp(-2 * x))
    y = (rng.random(6000) < p).astype(np.int64)
    calibrated = fit_calibration(np.column_stack([1 - p, p]), y, binary=True, mode="auto")
    assert calibrated.maps is None and calibrated.quality.method == "none"

    over = 1 / (1 + np.exp(-6 * x))  # three times too confident
    fixed = fit_calibration(np.column_stack([1 - over, over]), y, binary=True, mode="auto")
    q = fixed.quality
    assert q.method == "isotonic" and fixed.maps is not None
    # quality measured on held-out folds, not on the rows the maps were fitted on
    assert q.folds == 3
    assert q.brier_calibrated < q.brier_raw
    assert q.ece_calibrated < q.ece_raw / 2
