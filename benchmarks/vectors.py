"""Vector (embedding) drift on real 64-d vectors: false-positive rate, detection per window size, cost.

Data: scikit-learn's digits (1,797 images as 64-d vectors of 0-16 pixel values), shipped with
scikit-learn (nothing downloaded). Each trial splits the rows at random into a reference part
and a window pool (disjoint: halves for the null splits; 30% and 70% for the shifts, whose
windows of 500 rows need a larger pool); the reference's vectors go through the drift plugin's vector
profile (``vectors.fit_vectors``: the projection fitted on a third of them, the rest pooled
with each window) and the window's through its test (``vectors.run_vectors``), with the
default config (16 components, 1,000 reference rows at most, 100 permutations at least).

Shifts of the window (n rows):

- ``null``: none, reference and pool are two random halves (the false-positive rate, 200 splits);
- ``digits0-4``: only digits 0-4 (a class-mix change: half of the classes gone);
- ``over0``: digit 0 makes 20% of the window instead of 10%;
- ``ko3``: no digit 3 (one class knocked out: 10% of the reference's rows have no counterpart);
- ``noise1``: Gaussian noise of sd 1 pixel (about a fifth of a pixel's spread) on every element;
- ``noise2``: the same with sd 2.

Printed per (shift, n): the rate of windows whose p-value is below α = 0.05 ("sig"), of
windows with the drift verdict (significant and the noise-corrected AUC above chance at least
the default threshold 0.05, "drift"), the mean held-out AUC and its noise-corrected excess,
and the cost per window of the whole vector test against ``mmd_test`` (the quadratic MMD test
function, 100 permutations) on the same projected rows. Then the cost per window of a 384-d
vector (a sentence-embedding size; synthetic correlated Gaussian vectors, 3,000 reference
rows) at n = 100, 500 and 1,000, again against ``mmd_test`` alone on the projected rows.
Run: ``.venv/bin/python benchmarks/vectors.py [--nulls 200] [--draws 50] [--shifts ...] [--sizes ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from plugins.drift import DriftConfig
from plugins.drift.multivariate import mmd_test
from plugins.drift.vectors import VectorOutcome, fit_vectors, run_vectors, vector_matrix
from plugins.drift.verdict import noise_corrected

SHIFTS = ("null", "digits0-4", "over0", "ko3", "noise1", "noise2")
SIZES = (100, 200, 500)
ALPHA = 0.05
DEFAULT = DriftConfig()


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float vectors and their classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def window_rows(pool: np.ndarray, y: np.ndarray, n: int, shift: str, rng: np.random.Generator) -> np.ndarray:
    """Indices of a window of ``n`` rows drawn from ``pool`` under ``shift`` (without replacement)."""
    if shift == "digits0-4":
        return rng.choice(pool[y[pool] <= 4], n, replace=False)
    if shift == "ko3":
        return rng.choice(pool[y[pool] != 3], n, replace=False)
    if shift == "over0":
        k = round(0.2 * n)
        return np.concatenate([rng.choice(pool[y[pool] == 0], k, replace=False),
                               rng.choice(pool[y[pool] != 0], n - k, replace=False)])
    return rng.choice(pool, n, replace=False)


def trial(X: np.ndarray, y: np.ndarray, n: int, shift: str, seed: int, *, config: DriftConfig = DEFAULT,
          reference_share: float = 0.5) -> tuple[VectorOutcome, float]:
    """One seeded split, window and test, and the test's seconds (the reference profile is built once per
    reference, not per window, so its cost is left out): the reference is a random share of the rows,
    the window comes from the rest.

    Shifted windows of 500 rows need more rows than half of the data holds for some shifts,
    so callers pass ``reference_share`` < 0.5 for them (the reference is still disjoint).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    cut = int(len(X) * reference_share)
    ref, pool = order[:cut], order[cut:]
    profile = fit_vectors(vector_matrix(X[ref]), config.vector_components, config.vector_reference_rows, seed)
    assert profile is not None
    W = X[window_rows(pool, y, n, shift, rng)]
    if shift.startswith("noise"):
        W = W + rng.normal(0.0, float(shift[5:]), W.shape)
    t0 = time.perf_counter()
    out = run_vectors(profile, W, permutations=config.permutations, seed=seed, test=config.vector_test)
    return out, time.perf_counter() - t0


@dataclass(frozen=True)
class Cell:
    """Rates and costs of one (shift, n) cell."""

    shift: str
    n: int
    trials: int
    significant: float
    drifted: float
    auc: float
    corrected: float
    seconds_vector: float
    seconds_mmd: float


def run_cell(X: np.ndarray, y: np.ndarray, n: int, shift: str, trials: int, config: DriftConfig = DEFAULT) -> Cell:
    """``trials`` seeded trials of one cell, with the vector test's cost against ``mmd_test`` alone."""
    share = 0.5 if shift == "null" else 0.3  # shifted windows of 500 rows need a larger pool
    sig = drift = 0
    aucs: list[float] = []
    corr: list[float] = []
    t_vec = 0.0
    for seed in range(trials):
        out, seconds = trial(X, y, n, shift, seed, config=config, reference_share=share)
        t_vec += seconds
        significant = out.p_value < ALPHA
        c = noise_corrected(out.auc_effect, out.auc_null) if significant else 0.0
        sig += significant
        drift += significant and c >= config.threshold_vector
        aucs.append(out.auc)
        corr.append(c)
    # the MMD test function alone on the same projected rows (a few windows: its cost only)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    profile = fit_vectors(vector_matrix(X[order[: len(X) // 2]]), config.vector_components,
                          config.vector_reference_rows, 0)
    assert profile is not None
    W = profile.project(X[order[len(X) // 2:][:n]])
    reps = 5
    t0 = time.perf_counter()
    for seed in range(reps):
        mmd_test(profile.projected, W, permutations=config.permutations, seed=seed)
    t_mmd = (time.perf_counter() - t0) / reps
    return Cell(shift, n, trials, sig / trials, drift / trials, float(np.mean(aucs)), float(np.mean(corr)),
                t_vec / trials, t_mmd)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Many small matrices: one BLAS thread is faster than two contended ones (as in the calibration tests)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - installed with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> list[Cell]:
    """Run the study and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nulls", type=int, default=200, help="null splits per window size")
    parser.add_argument("--draws", type=int, default=50, help="draws per shift and window size")
    parser.add_argument("--sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--shifts", nargs="*", default=list(SHIFTS))
    parser.add_argument("--sizes-cost", nargs="*", type=int, default=[100, 500, 1000],
                        help="window sizes of the 384-d cost table")
    args = parser.parse_args(argv)
    X, y = digits()
    out(f"digits {X.shape[0]} x {X.shape[1]}; {args.nulls} null splits and {args.draws} draws per shift and n; "
        f"alpha {ALPHA}, threshold {DEFAULT.threshold_vector} (AUC above chance), "
        f"{DEFAULT.vector_components} components")
    out(f"{'shift':10}{'n':>5}{'trials':>7}{'sig':>7}{'drift':>7}{'AUC':>7}{'corr':>7}  "
        f"{'vector ms':>9}{'mmd_test ms':>12}{'ratio':>7}")
    cells: list[Cell] = []
    with one_blas_thread():
        for shift in args.shifts:
            for n in args.sizes:
                c = run_cell(X, y, n, shift, args.nulls if shift == "null" else args.draws)
                cells.append(c)
                out(f"{c.shift:10}{c.n:>5}{c.trials:>7}{c.significant:7.3f}{c.drifted:7.3f}{c.auc:7.3f}"
                    f"{c.corrected:7.3f}  {c.seconds_vector * 1e3:9.1f}{c.seconds_mmd * 1e3:12.1f}"
                    f"{c.seconds_vector / c.seconds_mmd:7.2f}")
        out(f"\ncost per window, {DIM}-d vectors, reference {COST_REFERENCE} rows (best of {COST_REPEATS} runs)")
        out(f"{'n':>6}{'vector ms':>11}{'mmd_test ms':>13}{'ratio':>7}{'profile ms':>12}")
        for n, vec, mmd, fit in cost_384(args.sizes_cost):
            out(f"{n:>6}{vec * 1e3:11.1f}{mmd * 1e3:13.1f}{vec / mmd:7.2f}{fit * 1e3:12.1f}")
    return cells


DIM = 384
COST_REFERENCE = 3000
COST_REPEATS = 5


def cost_384(sizes: Sequence[int], config: DriftConfig = DEFAULT) -> list[tuple[int, float, float, float]]:
    """(n, seconds of the vector test, of ``mmd_test`` alone, of building the profile) per window size."""
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    ref = rng.normal(size=(COST_REFERENCE, DIM)) @ mix
    t0 = time.perf_counter()
    profile = fit_vectors(vector_matrix(ref), config.vector_components, config.vector_reference_rows, 0)
    fit = time.perf_counter() - t0
    assert profile is not None
    rows: list[tuple[int, float, float, float]] = []
    for n in sizes:
        W = rng.normal(size=(n, DIM)) @ mix
        vec = mmd = math.inf
        for seed in range(COST_REPEATS):
            t0 = time.perf_counter()
            run_vectors(profile, W, permutations=config.permutations, seed=seed)
            vec = min(vec, time.perf_counter() - t0)
            t0 = time.perf_counter()
            mmd_test(profile.projected, profile.project(W), permutations=config.permutations, seed=seed)
            mmd = min(mmd, time.perf_counter() - t0)
        rows.append((n, vec, mmd, fit))
    return rows


if __name__ == "__main__":
    main()
