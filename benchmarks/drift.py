"""Drift benchmarks: vectorised KS vs a scipy loop, vectorised MMD permutations vs a loop, LSDD,
the window engine (every relabeling at two bandwidths, exact or random features) and one window.

Run: ``.venv/bin/python benchmarks/drift.py``. Seeded data; each figure is printed next to
a baseline measured in the same run, with the ratio and the peak traced memory (tracemalloc).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from plugins.drift.config import DriftConfig
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.multivariate import (
    fit_lsdd,
    gaussian_kernel,
    lsdd_test,
    median_bandwidth,
    mmd2_permuted,
    mmd_test,
)
from plugins.drift.permutation import relabel
from plugins.drift.stats import ks_many, sorted_reference


def measure(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` runs, and the peak traced memory (MB) of one run."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 1e6, out


def line(name: str, ours: float, base: float, mem_ours: float, mem_base: float) -> None:
    print(f"{name:<38} ours {ours * 1e3:9.1f} ms  baseline {base * 1e3:9.1f} ms  ratio {base / ours:6.1f}x"
          f"  peak mem ours {mem_ours:7.1f} MB  baseline {mem_base:7.1f} MB")


def bench_ks() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(10_000, 20))
    win = rng.normal(0.01, 1.0, size=(10_000, 20))
    refs = [sorted_reference(ref[:, j]) for j in range(20)]  # once per reference, outside the window cost
    ours, m_ours, res = measure(lambda: ks_many(refs, win))
    base, m_base, expected = measure(lambda: [stats.ks_2samp(ref[:, j], win[:, j]) for j in range(20)])
    worst = max(abs(a.statistic - b.statistic) for a, b in zip(res, expected, strict=True))
    line("KS, 20 features, 10k ref / 10k window", ours, base, m_ours, m_base)
    print(f"{'':38} max |statistic - scipy| = {worst:.1e}")


def mmd_loop(X: np.ndarray, Y: np.ndarray, sigma: float, permutations: int, seed: int = 0) -> float:
    """The straightforward version: kernel matrix once, then a Python loop re-indexing it per permutation."""
    n, m = len(X), len(Y)
    Z = np.vstack([X, Y])
    K = gaussian_kernel(Z, Z, sigma)

    def stat(ix: np.ndarray, iy: np.ndarray) -> float:
        kxx, kyy, kxy = K[np.ix_(ix, ix)], K[np.ix_(iy, iy)], K[np.ix_(ix, iy)]
        return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                     - 2 * kxy.mean())

    rng = np.random.default_rng(seed)
    observed = stat(np.arange(n), np.arange(n, n + m))
    count = 0
    for _ in range(permutations):
        p = rng.permutation(n + m)
        count += stat(p[:n], p[n:]) >= observed
    return (count + 1) / (permutations + 1)


def bench_mmd() -> None:
    for n in (1000, 2000, 5000):
        rng = np.random.default_rng(n)
        X, Y = rng.normal(size=(n, 32)), rng.normal(size=(n, 32))
        sigma = median_bandwidth(X)
        ours, m_ours, _ = measure(lambda X=X, Y=Y, s=sigma: mmd_test(X, Y, s, permutations=100), repeat=2)
        if n <= 2000:
            base, m_base, _ = measure(lambda X=X, Y=Y, s=sigma: mmd_loop(X, Y, s, 100), repeat=1)
            label = f"MMD 100 perms, n={n}/sample, d=32"
        else:
            # The loop at n=5,000 takes minutes: time 10 permutations and scale the permutation part.
            t_k, m_base, _ = measure(lambda X=X, Y=Y, s=sigma: mmd_loop(X, Y, s, 0), repeat=1)
            t_10, _, _ = measure(lambda X=X, Y=Y, s=sigma: mmd_loop(X, Y, s, 10), repeat=1)
            base = t_k + (t_10 - t_k) * 10
            label = f"MMD 100 perms, n={n}/sample, d=32 (*)"
        line(label, ours, base, m_ours, m_base)
    print(f"{'':38} (*) baseline = kernel time + 10x the time of 10 looped permutations")


def bench_lsdd() -> None:
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(2000, 32)), rng.normal(size=(2000, 32))
    fit, _, ref = measure(lambda: fit_lsdd(X, seed=0), repeat=2)
    t, m_test, _ = measure(lambda: lsdd_test(ref, Y, permutations=100), repeat=2)
    mmd_t, m_mmd, _ = measure(lambda: mmd_test(X, Y, permutations=100), repeat=2)
    print(f"{'LSDD 100 perms, n=2000/sample, d=32':<38} ours {t * 1e3:9.1f} ms  (fit once {fit * 1e3:.1f} ms)"
          f"  vs quadratic MMD {mmd_t * 1e3:9.1f} ms  ratio {mmd_t / t:6.1f}x"
          f"  peak mem {m_test:7.1f} MB (MMD {m_mmd:.1f} MB)")


def bench_window_engine() -> None:
    """Every relabeling's MMD² at σ and σ/2 (the joint test's kernel part) against the loop at one bandwidth."""
    for n, label in ((500, "exact kernel"), (1000, "random features"), (25_000, "random features")):
        rng = np.random.default_rng(n)
        X, Y = rng.normal(size=(n, 32)), rng.normal(size=(n, 32))
        Z = np.vstack([X, Y])
        sigma = median_bandwidth(Z)
        labels = relabel(n, n, 100, np.random.default_rng(0))
        ours, m_ours, _ = measure(lambda Z=Z, s=sigma, L=labels: mmd2_permuted(Z, L, (s, s / 2)), repeat=2)
        if n <= 1000:
            base, m_base, _ = measure(lambda X=X, Y=Y, s=sigma: mmd_loop(X, Y, s, 100), repeat=1)
            base *= 2  # two bandwidths
            name = f"window MMD², 2 bandwidths, n={n}/sample ({label})"
        else:
            t_k, m_base, _ = measure(lambda X=X[:5000], Y=Y[:5000], s=sigma: mmd_loop(X, Y, s, 0), repeat=1)
            t_10, _, _ = measure(lambda X=X[:5000], Y=Y[:5000], s=sigma: mmd_loop(X, Y, s, 10), repeat=1)
            # the loop on 25,000 per sample: 25x the 5,000-row kernel, permutations scaled the same way
            base = 2 * 25 * (t_k + (t_10 - t_k) * 10)
            name = f"window MMD², 2 bandwidths, n={n}/sample (**)"
        line(name, ours, base, m_ours, m_base)
    print(f"{'':38} (**) baseline extrapolated from 5,000 rows per sample (quadratic in the rows)")


def bench_window() -> None:
    """One closed window as the live worker tests it: 1,000 rows, 20 features, a 2,000-row reference."""
    rng = np.random.default_rng(11)
    cfg = DriftConfig()
    ref = {f"f{i}": rng.normal(size=2000) for i in range(20)}
    win = {f"f{i}": rng.normal(size=1000) for i in range(20)}
    profile = build_profile(ref, cfg)
    ours, m_ours, _ = measure(lambda: evaluate(profile, win, cfg), repeat=5)
    refs = [sorted_reference(ref[f"f{i}"]) for i in range(20)]
    mat = np.column_stack([win[f"f{i}"] for i in range(20)])
    tests, _, _ = measure(lambda: ks_many(refs, mat), repeat=5)
    print(f"{'window: 1,000 rows x 20 features':<38} ours {ours * 1e3:9.1f} ms  (every test, effect, null and "
          f"the joint test; KS alone {tests * 1e3:.1f} ms)  peak mem {m_ours:7.1f} MB")


if __name__ == "__main__":
    bench_ks()
    bench_mmd()
    bench_lsdd()
    bench_window_engine()
    bench_window()
