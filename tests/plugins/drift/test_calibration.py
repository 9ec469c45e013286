"""Calibration under the null and power on seeded shifts (detection rates are printed; run with -s).

Null: 200 seeded trials per feature mix, n = 500 per sample, 10 dimensions, α = 0.05.

Each trial runs the detector end to end (``build_profile`` then ``evaluate``: per-feature
tests, correction, the PCA fitted on half the reference, the MMD permutation test), so
the rates are those of the code the plugin runs. What kept these studies slow was not
the trials but the linear algebra: thousands of small SVDs and kernel products, each
split over BLAS threads that fight over two busy cores (an SVD of 250 x 40 took 54 ms
under load, 0.45 ms on one thread). The studies run with one BLAS thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from plugins.drift.config import DriftConfig, Multivariate
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.results import MULTIVARIATE
from plugins.drift.stats import cvm_2samp

Columns = dict[str, np.ndarray]
TRIALS = 200
N = 500
CATS = np.array(["a", "b", "c", "d"], dtype=object)


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """Small matrices, many of them: one BLAS thread is several times faster than two contended ones."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - installed with scikit-learn (a test dependency)
        limits: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    with limits:
        yield


def _sample(rng: np.random.Generator, n: int, kind: str) -> Columns:
    cols: Columns = {}
    for i in range(10):
        if kind == "numeric" or (kind == "mixed" and i < 5):
            cols[f"f{i}"] = rng.normal(size=n)
        else:
            cols[f"f{i}"] = rng.choice(CATS, n, p=[0.4, 0.3, 0.2, 0.1])
    return cols


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["numeric", "categorical", "mixed"])
def test_null_false_positive_rates_stay_near_alpha(kind: str) -> None:
    cfg = DriftConfig(min_window=10, permutations=50)
    per_test, per_test_n, any_sig, joint, verdict, cvm_fp, cvm_n = 0, 0, 0, 0, 0, 0, 0
    for seed in range(TRIALS):
        rng = np.random.default_rng(seed)
        ref, cur = _sample(rng, N, kind), _sample(rng, N, kind)
        profile = build_profile(ref, cfg)
        rep = evaluate(profile, cur, cfg)
        uni = [r for r in rep.results if r.feature != MULTIVARIATE]
        per_test += sum(r.p_value < 0.05 for r in uni)
        per_test_n += len(uni)
        any_sig += any(r.significant for r in uni)
        joint += next(r for r in rep.results if r.feature == MULTIVARIATE).p_value < 0.05
        verdict += any(r.drifted for r in rep.results)
        for f in profile.numeric:
            cvm_fp += cvm_2samp(profile.numeric[f].sorted, cur[f]).p_value < 0.05
            cvm_n += 1
    rates = {
        "per-feature test": per_test / per_test_n,
        "corrected any-feature": any_sig / TRIALS,
        "mmd": joint / TRIALS,
        "final verdict": verdict / TRIALS,
    }
    if cvm_n:
        rates["cvm per-feature"] = cvm_fp / cvm_n
    print(f"\nnull {kind}: " + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    for name in ("per-feature test", "corrected any-feature", "mmd", "cvm per-feature"):
        if name in rates:
            assert 0.02 <= rates[name] <= 0.08, (name, rates[name])
    assert rates["final verdict"] <= 0.05


def _shift_mean(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    ref, cur = _sample(rng, n, "numeric"), _sample(rng, n, "numeric")
    cur["f0"] = cur["f0"] + 0.5
    cur["f1"] = cur["f1"] + 0.5
    return ref, cur


def _variance(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    ref, cur = _sample(rng, n, "numeric"), _sample(rng, n, "numeric")
    cur["f3"] = cur["f3"] * 1.5
    return ref, cur


def _categorical(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    ref, cur = _sample(rng, n, "mixed"), _sample(rng, n, "mixed")
    cur["f7"] = rng.choice(CATS, n, p=[0.25, 0.25, 0.25, 0.25])
    return ref, cur


def _correlation(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    """f0 and f1 become correlated (ρ = 0.7); every marginal stays N(0, 1)."""
    ref, cur = _sample(rng, n, "numeric"), _sample(rng, n, "numeric")
    z = rng.normal(size=n)
    cur["f0"] = np.sqrt(0.7) * z + np.sqrt(0.3) * cur["f0"]
    cur["f1"] = np.sqrt(0.7) * z + np.sqrt(0.3) * cur["f1"]
    return ref, cur


Scenario = Callable[[np.random.Generator, int], tuple[Columns, Columns]]


def _power(scenario: Scenario, n: int, trials: int, targets: tuple[str, ...]) -> dict[str, float]:
    # The reference is twice the window: half fits the reduction, half is tested (see detector).
    cfg = DriftConfig(min_window=10, permutations=100)
    hits = dict.fromkeys(("any feature", "mmd", *targets), 0)
    for seed in range(trials):
        rng = np.random.default_rng(10_000 + seed)
        ref, cur = scenario(rng, n)
        ref2, _ = scenario(rng, n)
        ref = {k: np.concatenate([ref[k], ref2[k]]) for k in ref}
        rep = evaluate(build_profile(ref, cfg), cur, cfg)
        by = {r.feature: r for r in rep.results}
        hits["any feature"] += any(r.drifted for r in rep.results if r.feature != MULTIVARIATE)
        hits["mmd"] += by[MULTIVARIATE].p_value < cfg.alpha
        for t in targets:
            hits[t] += by[t].drifted
    return {k: v / trials for k, v in hits.items()}


@pytest.mark.slow
def test_power_on_seeded_shifts_is_reported_and_correlation_change_caught_by_mmd() -> None:
    results = {
        "mean shift 0.5σ in f0,f1 (n=500)": _power(_shift_mean, 500, 25, ("f0", "f1")),
        "variance x1.5 in f3 (n=500)": _power(_variance, 500, 25, ("f3",)),
        "categorical frequencies in f7 (n=500)": _power(_categorical, 500, 25, ("f7",)),
        "correlation 0 -> 0.7 in f0,f1 (n=1000)": _power(_correlation, 1000, 30, ()),
    }
    for name, rates in results.items():
        print(f"\npower {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
    corr = results["correlation 0 -> 0.7 in f0,f1 (n=1000)"]
    assert corr["mmd"] >= 0.8
    assert results["mean shift 0.5σ in f0,f1 (n=500)"]["f0"] >= 0.8
    assert results["variance x1.5 in f3 (n=500)"]["f3"] >= 0.5
    assert results["categorical frequencies in f7 (n=500)"]["f7"] >= 0.8


def test_marginal_tests_do_not_see_a_pure_correlation_change() -> None:
    rng = np.random.default_rng(3)
    ref, cur = _correlation(rng, 1000)
    cfg = DriftConfig(min_window=10, multivariate=Multivariate.OFF)
    rep = evaluate(build_profile(ref, cfg), cur, cfg)
    assert not any(r.drifted for r in rep.results)
