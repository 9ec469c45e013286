"""The fleet verdict's false-positive rate and power, seeded (rates printed; run with -s).

Profiles are built straight from arrays, as each replica's plugin builds them, then merged
across 5 replicas and tested against a reference profile, with the default sketch size
(k = 2000). Null: a 2,000-row reference (its sketch holds every value) against merged
1,000-row windows. Power: a 4,000-row reference whose sketch estimates (rank error ≈
0.14%), so the KS test takes its conservative branch (the rank errors are subtracted from
the statistic, which costs power only in the tail: under the null its per-feature rate at
α = 0.05 is ≈ 0.04, and the verdict's ≈ 0.01–0.03 instead of ≈ 0.04, a study we ran while
writing this one). The exact tests are the drift plugin's own (``plugins.drift.compare``)
on the same pooled rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from plugins.drift import DriftConfig, compare
from plugins.fleet import Profile, ProfileBuilder, compare_profiles, merge_profiles
from plugins.fleet.sample import offset_priorities

ALPHA = 0.05
FEATURES = 10
REPLICAS = 5
REFERENCE_ROWS = 4000  # power: more than k = 2000 values, so the reference sketch estimates
NULL_REFERENCE_ROWS = 2000  # null: an exact reference sketch, merged 5-replica windows


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _profile(cols: dict[str, np.ndarray], stream: str, sample_rows: int) -> Profile:
    n = len(next(iter(cols.values())))
    b = ProfileBuilder(model="m", sample_rows=sample_rows)
    b.add_columns(cols, offset_priorities(stream, 0, n))
    return b.build()


def _replicas(rng: np.random.Generator, rows: int, shift: float, sample_rows: int) -> tuple[Profile, np.ndarray]:
    """The pooled window as 5 replicas' merged profiles, and the pooled rows themselves."""
    pooled = rng.normal(size=(REPLICAS * rows, FEATURES))
    pooled[:, :2] += shift
    parts = [_profile({f"f{j}": pooled[i * rows:(i + 1) * rows, j] for j in range(FEATURES)}, f"r{i}", sample_rows)
             for i in range(REPLICAS)]
    return merge_profiles(parts), pooled


def test_null_false_positive_rate_of_the_fleet_verdict_stays_near_alpha() -> None:
    """Null: 200 trials; the verdict as a test (effect thresholds at 0) and with drift's default thresholds.

    With thresholds at 0 the verdict is the significance rule alone: a per-feature KS
    (Bonferroni over 10 features) at α/2 or the joint MMD at α/2, so its size should be near
    α. With the default effect thresholds (0.1 reference σ) a verdict also needs a large
    enough shift, so it fires less often still (≤ α, as drift's own study asserts).
    """
    trials, rows = 200, 200
    cfg = DriftConfig(alpha=ALPHA, permutations=100, min_window=10)
    verdicts = with_thresholds = joint = ks = ks_n = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        ref = rng.normal(size=(NULL_REFERENCE_ROWS, FEATURES))
        ref_p = _profile({f"f{j}": ref[:, j] for j in range(FEATURES)}, "ref", 100)
        cur_p, _ = _replicas(rng, rows, 0.0, 100)
        rep = compare_profiles(ref_p, cur_p, cfg)
        verdicts += any(r.corrected_p_value < ALPHA / 2 for r in rep.results if not r.skipped)
        with_thresholds += rep.drifted
        joint += rep.multivariate is not None and rep.multivariate.p_value < ALPHA
        uni = [r for r in rep.results if r is not rep.multivariate]
        ks += sum(r.p_value < ALPHA for r in uni)
        ks_n += len(uni)
    fpr = verdicts / trials
    lo, hi = stats.binomtest(verdicts, trials).proportion_ci(0.95)
    print(f"\nfleet null, {trials} trials: verdict FPR {fpr:.3f} (95% CI {lo:.3f}-{hi:.3f}); with default "
          f"thresholds {with_thresholds / trials:.3f}; joint MMD at alpha {joint / trials:.3f}; "
          f"per-feature KS at alpha {ks / ks_n:.3f}")
    assert 0.02 <= fpr <= 0.08
    assert with_thresholds / trials <= ALPHA
    assert joint / trials <= 0.08  # permutation p-values (b + 1) / (B + 1): never anti-conservative
    assert 0.02 <= ks / ks_n <= 0.08


def test_power_matches_the_exact_tests_on_the_same_pooled_data_for_a_small_shift() -> None:
    trials, rows = 200, 50  # 250 pooled rows: the exact tests' power is in the middle of its range
    cfg = DriftConfig(alpha=ALPHA, min_window=10, multivariate=DriftConfig().multivariate.__class__("off"))
    fleet_hits = exact_hits = 0
    for seed in range(trials):
        rng = np.random.default_rng(10_000 + seed)
        ref = rng.normal(size=(REFERENCE_ROWS, FEATURES))
        ref_cols = {f"f{j}": ref[:, j] for j in range(FEATURES)}
        cur_p, pooled = _replicas(rng, rows, 0.2, 16)
        fleet_hits += compare_profiles(_profile(ref_cols, "ref", 16), cur_p, cfg).drifted
        exact_hits += compare(ref_cols, {f"f{j}": pooled[:, j] for j in range(FEATURES)}, config=cfg).drifted
    fleet, exact = fleet_hits / trials, exact_hits / trials
    print(f"\npower, 0.2 sd shift in 2 of 10 features, 5 x {rows} rows: fleet {fleet:.3f}, exact {exact:.3f}")
    assert 0.2 <= exact <= 0.95  # not a trivial regime
    assert abs(fleet - exact) <= 0.05
