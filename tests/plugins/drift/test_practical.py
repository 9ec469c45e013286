"""Practical importance and window size: the gate means the same at n = 50 and 50,000, and power grows with n.

Effects are corrected by the noise's expected size at the window's sizes (read off its own
permutations) and reported as 0 when not significant, so with no drift a corrected effect is
above 0 in at most α = 5% of windows at any size; with 50,000 rows the noise is tiny and a
threshold of 0.1σ separates a 0.02σ shift from a 0.2σ one. The
joint test uses the whole window (random Fourier features above 1,000 pooled rows), so its
power does not fall as windows grow. One BLAS thread, as in the calibration studies.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plugins.drift import MULTIVARIATE, DriftConfig
from plugins.drift.detector import build_profile, evaluate
from tests.support.benchmarks import load_benchmark

Columns = dict[str, np.ndarray]


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _numeric(rng: np.random.Generator, n: int, d: int, shift: float = 0.0, shifted: int = 0) -> Columns:
    cols = {f"x{i}": rng.normal(size=n) for i in range(d)}
    for i in range(shifted):
        cols[f"x{i}"] += shift
    return cols


@pytest.mark.slow
def test_with_50000_rows_a_002_sd_shift_is_flagged_by_no_test_and_a_02_sd_shift_is() -> None:
    rng = np.random.default_rng(0)
    cfg = replace(DriftConfig(), permutations=40)
    profile = build_profile(_numeric(rng, 50_000, 4), cfg)
    small = evaluate(profile, _numeric(rng, 50_000, 4, 0.02, 2), cfg)
    large = evaluate(profile, _numeric(rng, 50_000, 4, 0.2, 2), cfg)
    assert not any(r.drifted for r in small.results)
    joint_small = next(r for r in small.results if r.feature == MULTIVARIATE)
    assert joint_small.corrected_effect < 0.1  # the joint effect too is practically small
    flagged = {r.feature for r in large.results if r.drifted}
    assert {"x0", "x1", MULTIVARIATE} <= flagged and not flagged & {"x2", "x3"}


@pytest.mark.slow
def test_with_no_shift_corrected_effects_exceed_their_thresholds_in_at_most_5_percent_of_50_row_windows() -> None:
    # The first 100 windows of benchmarks/power.py's no-shift study (800 windows: joint effect 3.9%,
    # every per-feature effect <= 1.25%). A corrected effect counts only when its test is
    # significant, so the joint effect's rate is bounded by the joint test's level (5%).
    rng = np.random.default_rng(1)
    cfg = DriftConfig()
    sample = load_benchmark("power").no_shift_columns
    windows = 100
    over = dict.fromkeys(("x", "y", "c", "k", MULTIVARIATE), 0)
    raw_over = 0
    for _ in range(windows):
        # A fresh reference each time: the 5% holds over draws of both samples (one fixed reference
        # that happens to sit far from its population shifts every window's rate up or down).
        for r in evaluate(build_profile(sample(rng, 500), cfg), sample(rng, 50), cfg).results:
            over[r.feature] += r.corrected_effect >= r.threshold
            raw_over += r.feature == "x" and r.effect_size >= r.threshold
    rates = {k: v / windows for k, v in over.items()}
    print(f"\nno shift, n = 50: corrected effect >= threshold {rates}; raw Wasserstein >= 0.1 in "
          f"{raw_over / windows:.2f}")
    assert all(rate <= 0.05 for rate in rates.values()), rates
    assert raw_over / windows > 0.5  # uncorrected, the gate would do nothing at this size


@pytest.mark.slow
def test_detection_does_not_fall_as_the_window_grows_from_1000_to_50000_rows() -> None:
    rng = np.random.default_rng(2)
    cfg = replace(DriftConfig(), permutations=30)
    profile = build_profile(_numeric(rng, 50_000, 3), cfg)
    rates = []
    for n in (1_000, 10_000, 50_000):
        hits = sum(any(r.drifted for r in evaluate(profile, _numeric(rng, n, 3, 0.12, 1), cfg).results)
                   for _ in range(4))
        rates.append(hits / 4)
    print(f"\n0.12 sd in one of 3 features, reference 50,000: detection at 1,000 / 10,000 / 50,000 rows {rates}")
    assert rates == sorted(rates) and rates[-1] == 1.0


def test_the_joint_test_is_not_blind_above_5000_rows() -> None:
    """A 0.05σ shift in every one of 10 features, reference 10,000 rows: significant at every window size.

    (The linear-time MMD it replaces used the first 2,000 window rows above 5,000 and went from
    detection 1.00 at 5,000 rows to 0.00 at 5,001.) The shift is below the 0.1σ threshold, so the
    joint test reports it significant and practically small, not drift.
    """
    rng = np.random.default_rng(3)
    cfg = replace(DriftConfig(), permutations=30)
    profile = build_profile(_numeric(rng, 10_000, 10), cfg)
    for n in (5_000, 5_001, 20_000):
        joint = next(r for r in evaluate(profile, _numeric(rng, n, 10, 0.05, 10), cfg).results
                     if r.feature == MULTIVARIATE)
        assert joint.significant and joint.n_window == n, n


def test_the_joint_effect_reads_added_noise_as_spread_and_a_mean_shift_as_location() -> None:
    """Noise of 0.6σ on every feature: spread = sqrt(1.36) - 1 = 0.166 (the sd grows by 16.6%).

    A mean shift of the same features leaves each group's variance as it was, so its spread
    stays within its noise (also with a 5,000-row reference sample against a 20,000-row
    window, where the groups sit at unequal distances from the pooled mean) and its effect is
    the location one.
    """
    rng = np.random.default_rng(5)
    cfg = replace(DriftConfig(), permutations=30)
    profile = build_profile(_numeric(rng, 20_000, 4), cfg)
    noisy = {f: v + rng.normal(scale=0.6, size=v.size) for f, v in _numeric(rng, 20_000, 4).items()}
    joint = next(r for r in evaluate(profile, noisy, cfg).results if r.feature == MULTIVARIATE)
    print(f"\nnoise: {joint.effects}, corrected {joint.corrected_effect:.4f}")
    assert joint.drifted and joint.effects["spread"] == pytest.approx(0.166, abs=0.01)
    assert joint.corrected_effect >= joint.effects["spread"] - 0.01  # the larger effect (here the kernel's: 0.51σ)
    shifted = next(r for r in evaluate(profile, _numeric(rng, 20_000, 4, 0.3, 4), cfg).results
                   if r.feature == MULTIVARIATE)
    print(f"shift: {shifted.effects}, corrected {shifted.corrected_effect:.4f}")
    assert shifted.drifted and shifted.effects["spread"] < 0.02
    assert shifted.corrected_effect == pytest.approx(shifted.effects["mmd_shift"], abs=0.02)
