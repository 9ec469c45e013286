"""Calibration under the null and power at equal sizes (rates are printed; run with -s).

Null: 200 seeded trials per feature mix, n = 500 per sample (reference and window of equal
size), 10 dimensions, α = 0.05. Each trial runs the detector end to end (``build_profile``
then ``evaluate``: per-feature tests, the joint permutation test, null effects, the verdict),
so the rates are those of the code the plugin runs. The studies run with one BLAS thread:
thousands of small kernel products, each split over BLAS threads that fight over two busy
cores, were what kept them slow.

The final verdict is reported twice: with every threshold at 0 (significance alone) and with
the default thresholds (drift must also be practically large). Both false-positive rates must
sit in [0.02, 0.08]: the effects are corrected by the noise's expected size, not by its 95th
percentile, so at n = 500 the practical-size gate removes few null rejections (with a 0.1σ
threshold it must remove them all as n grows: with 50,000 rows per sample no null window is
practically large, see test_practical.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from plugins.drift.config import DriftConfig, Multivariate
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.results import MULTIVARIATE, DriftResult
from plugins.drift.stats import cvm_2samp
from tests.support.benchmarks import load_benchmark

Columns = dict[str, np.ndarray]
TRIALS = 200
N = 500
ZERO = replace(DriftConfig(), threshold_numeric=0.0, threshold_categorical=0.0, threshold_multivariate=0.0)
SYNTHETIC = load_benchmark("power")  # the synthetic study's data and shifts (its full version: power.py --synthetic)


pytestmark = pytest.mark.usefixtures("one_blas_thread")


DEFAULT = DriftConfig()


def drifted_at_default(results: tuple[DriftResult, ...], config: DriftConfig = DEFAULT) -> bool:
    """The verdict with the default thresholds, from results computed with thresholds at 0."""
    limit = {"wasserstein_norm": config.threshold_numeric, "tvd": config.threshold_categorical,
             "mmd_shift": config.threshold_multivariate}
    return any(r.significant and not math.isnan(r.corrected_effect) and r.corrected_effect >= limit[r.effect_name]
               for r in results)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["numeric", "categorical", "mixed"])
def test_null_false_positive_rates_stay_near_alpha(kind: str) -> None:
    cfg = replace(ZERO, min_window=10, permutations=50)
    per_test, per_test_n, bonferroni, joint, verdict, default, cvm_fp, cvm_n = 0, 0, 0, 0, 0, 0, 0, 0
    for seed in range(TRIALS):
        rng = np.random.default_rng(seed)
        ref, cur = SYNTHETIC.synthetic_sample(rng, N, kind), SYNTHETIC.synthetic_sample(rng, N, kind)
        profile = build_profile(ref, cfg)
        rep = evaluate(profile, cur, cfg)
        uni = [r for r in rep.results if r.feature != MULTIVARIATE]
        per_test += sum(r.p_value < 0.05 for r in uni)
        per_test_n += len(uni)
        bonferroni += min(r.p_value for r in uni) * len(uni) < 0.05
        joint += next(r for r in rep.results if r.feature == MULTIVARIATE).p_value < 0.05
        verdict += any(r.drifted for r in rep.results)
        default += drifted_at_default(rep.results)
        for f in profile.numeric:
            cvm_fp += cvm_2samp(profile.numeric[f].sorted, cur[f]).p_value < 0.05
            cvm_n += 1
    rates = {
        "per-feature test": per_test / per_test_n,
        "Bonferroni any-feature": bonferroni / TRIALS,
        "joint test": joint / TRIALS,
        "verdict, thresholds 0": verdict / TRIALS,
        "verdict, default thresholds": default / TRIALS,
    }
    if cvm_n:
        rates["cvm per-feature"] = cvm_fp / cvm_n
    print(f"\nnull {kind}: " + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    for name, rate in rates.items():
        assert 0.02 <= rate <= 0.08, (name, rate)
    assert rates["verdict, default thresholds"] <= rates["verdict, thresholds 0"]


Scenario = Callable[[np.random.Generator, int], tuple[Columns, Columns]]


def _power(scenario: Scenario, n: int, trials: int, targets: tuple[str, ...] = ()) -> dict[str, float]:
    """Detection rates of the default verdict at equal sizes (reference and window both n rows)."""
    cfg = DriftConfig()
    hits = dict.fromkeys(("verdict", "joint test", *targets), 0)
    for seed in range(trials):
        rng = np.random.default_rng(10_000 + seed)
        ref, cur = scenario(rng, n)
        rep = evaluate(build_profile(ref, cfg), cur, cfg)
        by = {r.feature: r for r in rep.results}
        hits["verdict"] += any(r.drifted for r in rep.results)
        hits["joint test"] += by[MULTIVARIATE].significant
        for t in targets:
            hits[t] += by[t].drifted
    return {k: v / trials for k, v in hits.items()}


@pytest.mark.slow
def test_power_at_equal_sizes_on_seeded_shifts() -> None:
    results = {
        "mean 0.2σ in 2 of 10 dims (n=500)": _power(SYNTHETIC.two_of_ten, 500, 40),
        "correlation 0 -> 0.7 in f0,f1 (n=1000)": _power(SYNTHETIC.correlation, 1000, 20),
        "variance x1.5 in f3 (n=500)": _power(SYNTHETIC.variance, 500, 15, ("f3",)),
        "categorical frequencies in f7 (n=500)": _power(SYNTHETIC.category_frequencies, 500, 15, ("f7",)),
    }
    for name, rates in results.items():
        print(f"\npower {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
    # Issue 16 asks 0.85 (Alibi's MMD: 0.865). Over 400 seeded draws of this case the verdict
    # detects 0.853, the joint test 0.853 and the MMD test function alone 0.843: the effect gate
    # (noise removed at its expected size) costs nothing here. These 40 draws give 0.82 (33/40);
    # the assertion keeps one standard error (0.056 at 40 draws) of room so that a single draw
    # flipping on another BLAS does not fail CI, and the verdict must keep the joint test's power.
    two = results["mean 0.2σ in 2 of 10 dims (n=500)"]
    assert two["verdict"] >= 0.80 and two["verdict"] >= two["joint test"] - 0.025
    assert results["correlation 0 -> 0.7 in f0,f1 (n=1000)"]["verdict"] >= 0.95
    assert results["variance x1.5 in f3 (n=500)"]["f3"] >= 0.6
    assert results["categorical frequencies in f7 (n=500)"]["f7"] >= 0.8


def test_marginal_tests_do_not_see_a_pure_correlation_change() -> None:
    rng = np.random.default_rng(3)
    ref, cur = SYNTHETIC.correlation(rng, 1000)
    cfg = DriftConfig(min_window=10, multivariate=Multivariate.OFF)
    rep = evaluate(build_profile(ref, cfg), cur, cfg)
    assert not any(r.drifted for r in rep.results)
