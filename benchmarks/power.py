"""Power study: the default drift verdict against the two reference decisions, on real data with seeded shifts.

Data: scikit-learn's digits (1,797 x 64 integer pixels), breast cancer (569 x 30) and wine
(178 x 13), shipped with scikit-learn (nothing downloaded). Each trial splits the rows at
random into a reference of n rows and a pool; the window is n rows drawn from the pool and
shifted as in "Failing Loudly" (Rabanser et al. 2019):

- ``null``: no shift (a re-split: the false-positive rate);
- ``gn_small`` / ``gn_medium`` / ``gn_large``: Gaussian noise of 0.1 / 0.5 / 1.0 feature
  standard deviations added to half of the window's rows;
- ``ko``: class knock-out (no row of class 0 in the window);
- ``dead``: a tenth of the features (at least one) read 0 in every window row;
- ``subset``: covariate subsetting (window rows only where the most variable feature is
  above its 20th percentile).

Sizes n in {50, 100, 200, 500} with the reference and the window of equal size; a cell
needing more than the dataset's rows (2n > rows) is left out (wine: n = 50 only; breast
cancer: up to 200).

Decisions compared per trial, on the same data:

- (a) the MMD test function on the full standardised data: ``mmd_test`` with a Gaussian
  kernel, data standardised by the reference mean and sd, the median-heuristic bandwidth of
  the reference, 100 permutations, α = 0.05: the decision Alibi Detect's ``MMDDrift`` makes
  with its defaults (bandwidth configured from x_ref) and Frouros's MMD;
- (a') the same with standardisation and bandwidth from the pooled rows (an exact test;
  printed for reference);
- (b) the KS test on every feature (scipy's p-values) with Bonferroni at α = 0.05;
- the default detector's verdict (``DriftConfig()``: any result drifted), and the same
  verdict with every threshold at 0 (significance alone).

Printed: detection rate per cell (the null rows are false-positive rates), the verdict's gap
to the better of (a) and (b), and the cost per window of the default detector against the
two test functions alone: the window's evaluation (what the live plugin runs per window, the
reference profile built once) and the profile of the reference (once per reference).
Run: ``.venv/bin/python benchmarks/power.py [--trials 50] [--joint mmd|lsdd|off]``.

``--synthetic`` runs the synthetic study instead (``tests/plugins/drift/test_calibration.py``'s
data, more draws): false-positive rates over 200 null trials of n = 500 per sample in 10
dimensions (numeric, categorical, mixed) for the per-feature tests, Bonferroni, the joint
test and the verdict (thresholds 0 and default), and power at equal sizes (0.2σ in 2 of 10
features at n = 500, correlation 0 → 0.7 at n = 1,000, variance ×1.5, category
frequencies), for the joint test chosen with ``--joint``; then, with no drift, how often each
corrected effect reaches its threshold in 800 windows of 50 rows against 500 (the CI test
``tests/plugins/drift/test_practical.py`` runs the first 100 of them).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from plugins.drift import MULTIVARIATE, DriftConfig
from plugins.drift.config import Multivariate
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.multivariate import median_bandwidth, mmd_test
from plugins.drift.stats import ks_many, sorted_reference

SHIFTS = ("null", "gn_small", "gn_medium", "gn_large", "ko", "dead", "subset")
SIZES = (50, 100, 200, 500)
DATASETS = ("digits", "breast_cancer", "wine")
ALPHA = 0.05
NOISE = {"gn_small": 0.1, "gn_medium": 0.5, "gn_large": 1.0}


@dataclass(frozen=True)
class Dataset:
    """Rows, class labels and per-feature standard deviations of one scikit-learn dataset."""

    name: str
    X: np.ndarray
    y: np.ndarray
    sd: np.ndarray


def load(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets as floats."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    return Dataset(name, X, np.asarray(bunch.target), X.std(axis=0))


def draw(ds: Dataset, n: int, shift: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A reference and a window of n rows each, the window shifted (seeded)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ds.X))
    ref, pool = ds.X[perm[:n]], perm[n:]
    if shift == "ko":
        pool = pool[ds.y[pool] != 0]
    elif shift == "subset":
        col = ds.X[:, int(np.argmax(ds.sd))]
        pool = pool[col[pool] > np.quantile(col[pool], 0.2)]
    win = ds.X[rng.choice(pool, n, replace=False)].copy()
    if shift in NOISE:
        rows = rng.random(n) < 0.5
        win[rows] += rng.normal(size=(int(rows.sum()), ds.X.shape[1])) * ds.sd * NOISE[shift]
    elif shift == "dead":
        cols = rng.choice(ds.X.shape[1], max(1, ds.X.shape[1] // 10), replace=False)
        win[:, cols] = 0.0
    return ref, win


def anchor_mmd(ref: np.ndarray, win: np.ndarray, seed: int, pooled: bool = False) -> bool:
    """(a): MMD on the full standardised data, median bandwidth, 100 permutations, at α."""
    src = np.vstack([ref, win]) if pooled else ref
    mu, sd = src.mean(axis=0), src.std(axis=0)
    sd[sd == 0] = 1.0
    R, W = (ref - mu) / sd, (win - mu) / sd
    sigma = median_bandwidth(np.vstack([R, W]) if pooled else R, seed=seed)
    return mmd_test(R, W, sigma, permutations=100, seed=seed).p_value < ALPHA


def anchor_ks(ref: np.ndarray, win: np.ndarray) -> bool:
    """(b): KS on every feature (scipy's p-values) with Bonferroni at α."""
    refs = [sorted_reference(ref[:, j]) for j in range(ref.shape[1])]
    p = np.array([o.p_value for o in ks_many(refs, win)])
    p = np.where(np.isnan(p), 1.0, p)
    return bool(p.min() * ref.shape[1] < ALPHA)


ZERO = replace(DriftConfig(), threshold_numeric=0.0, threshold_categorical=0.0, threshold_multivariate=0.0)


DEFAULT = DriftConfig()


def verdicts(ref: np.ndarray, win: np.ndarray, config: DriftConfig = DEFAULT,
             seconds: list[float] | None = None) -> tuple[bool, bool]:
    """The default detector's verdict, and the verdict with every threshold at 0 (same window test).

    ``seconds`` (when given) receives the time to profile the reference and to evaluate the window.
    """
    cols = {f"x{j}": ref[:, j] for j in range(ref.shape[1])}
    cur = {f"x{j}": win[:, j] for j in range(win.shape[1])}
    t0 = time.perf_counter()
    profile = build_profile(cols, config)
    t1 = time.perf_counter()
    report = evaluate(profile, cur, config)
    t2 = time.perf_counter()
    if seconds is not None:
        seconds[:] = [t1 - t0, t2 - t1]
    drifted = any(r.drifted for r in report.results)
    significant_any = any(r.significant for r in report.results)
    return drifted, significant_any


@dataclass
class Cell:
    """Detection rates of one (dataset, n, shift) cell."""

    dataset: str
    n: int
    shift: str
    trials: int
    a: float
    a_pooled: float
    b: float
    verdict: float
    significant: float
    seconds_detector: float  # evaluating one window (the reference profiled once)
    seconds_tests: float
    seconds_profile: float = 0.0  # profiling the reference (once per reference in the live plugin)

    @property
    def best(self) -> float:
        """The better reference decision, (a) or (b)."""
        return max(self.a, self.b)

    @property
    def gap(self) -> float:
        """Default verdict minus the better reference decision (>= -0.05 is the target)."""
        return self.verdict - self.best


def run_cell(ds: Dataset, n: int, shift: str, trials: int, seed0: int = 0, pooled_anchor: bool = True,
             config: DriftConfig = DEFAULT) -> Cell:
    """Every decision on ``trials`` seeded draws of one cell."""
    hits = np.zeros(5)
    t_det = t_tests = t_prof = 0.0
    seconds: list[float] = []
    for t in range(trials):
        seed = seed0 + 1000 * t + n
        ref, win = draw(ds, n, shift, seed)
        t0 = time.perf_counter()
        a = anchor_mmd(ref, win, seed)
        b = anchor_ks(ref, win)
        t1 = time.perf_counter()
        v, s = verdicts(ref, win, config, seconds)
        ap = anchor_mmd(ref, win, seed, pooled=True) if pooled_anchor else False
        hits += (a, ap, b, v, s)
        t_tests += t1 - t0
        t_prof += seconds[0]
        t_det += seconds[1]
    r = hits / trials
    return Cell(ds.name, n, shift, trials, r[0], r[1], r[2], r[3], r[4], t_det / trials, t_tests / trials,
                t_prof / trials)


def cells(datasets: Sequence[str] = DATASETS, sizes: Sequence[int] = SIZES,
          shifts: Sequence[str] = SHIFTS) -> Iterator[tuple[Dataset, int, str]]:
    """Every feasible (dataset, n, shift) cell (2n rows needed)."""
    for name in datasets:
        ds = load(name)
        for n in sizes:
            if 2 * n > len(ds.X):
                continue
            for shift in shifts:
                yield ds, n, shift


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
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--shifts", nargs="*", default=list(SHIFTS))
    parser.add_argument("--joint", choices=[m.value for m in Multivariate], default=DEFAULT.multivariate.value)
    parser.add_argument("--synthetic", action="store_true", help="the synthetic calibration and power study")
    args = parser.parse_args(argv)
    config = replace(DEFAULT, multivariate=Multivariate(args.joint))
    if args.synthetic:
        with one_blas_thread():
            synthetic(config, out)
        return []
    done: list[Cell] = []
    out(f"{args.trials} seeded draws per cell, alpha {ALPHA}, joint test {args.joint}; rates are detections "
        "(false positives on null rows)")
    out(f"{'dataset':14}{'n':>4} {'shift':10}{'(a) MMD':>8}{'(a) pool':>9}{'(b) KS':>7}{'best':>6}"
        f"{'verdict':>8}{'gap':>7}{'p only':>7}  {'window ms':>9}{'tests ms':>9}{'profile ms':>11}")
    with one_blas_thread():
        for ds, n, shift in cells(args.datasets, args.sizes, args.shifts):
            c = run_cell(ds, n, shift, args.trials, config=config)
            done.append(c)
            gap = "" if shift == "null" else f"{c.gap:+.2f}"
            out(f"{c.dataset:14}{c.n:>4} {c.shift:10}{c.a:8.2f}{c.a_pooled:9.2f}{c.b:7.2f}{c.best:6.2f}"
                f"{c.verdict:8.2f}{gap:>7}{c.significant:7.2f}  {c.seconds_detector * 1e3:9.1f}"
                f"{c.seconds_tests * 1e3:9.1f}{c.seconds_profile * 1e3:11.1f}")
    shifted = [c for c in done if c.shift != "null"]
    nulls = [c for c in done if c.shift == "null"]
    if shifted:
        worst = min(shifted, key=lambda c: c.gap)
        out(f"\nworst gap to the better reference decision: {worst.gap:+.2f} ({worst.dataset}, n={worst.n}, "
            f"{worst.shift}); cells within 0.05: {sum(c.gap >= -0.05 for c in shifted)}/{len(shifted)}")
    if nulls:
        out(f"largest false-positive rate of the verdict: {max(c.verdict for c in nulls):.2f}; of (a): "
            f"{max(c.a for c in nulls):.2f}, (a pooled): {max(c.a_pooled for c in nulls):.2f}, "
            f"(b): {max(c.b for c in nulls):.2f}")
    det = sum(c.seconds_detector for c in done) / max(len(done), 1)
    prof = sum(c.seconds_profile for c in done) / max(len(done), 1)
    tests = sum(c.seconds_tests for c in done) / max(len(done), 1)
    out(f"cost per window: the detector's window evaluation {det * 1e3:.1f} ms (every test, effect, null and "
        f"verdict) vs (a) + (b) test functions alone {tests * 1e3:.1f} ms: ratio {det / max(tests, 1e-12):.1f}x; "
        f"with the reference profiled for every window as well {(det + prof) * 1e3:.1f} ms: ratio "
        f"{(det + prof) / max(tests, 1e-12):.1f}x")
    return done


# -- the synthetic study (the data of tests/plugins/drift/test_calibration.py) ----------------------

SYN_CATS = np.array(["a", "b", "c", "d"], dtype=object)
Columns = dict[str, np.ndarray]


def synthetic_sample(rng: np.random.Generator, n: int, kind: str) -> Columns:
    """10 features: N(0, 1) numerics, 4-category columns (0.4/0.3/0.2/0.1), or 5 of each."""
    cols: Columns = {}
    for i in range(10):
        if kind == "numeric" or (kind == "mixed" and i < 5):
            cols[f"f{i}"] = rng.normal(size=n)
        else:
            cols[f"f{i}"] = rng.choice(SYN_CATS, n, p=[0.4, 0.3, 0.2, 0.1])
    return cols


def two_of_ten(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    """A 0.2σ mean shift of f0 and f1 (numeric data)."""
    ref, cur = synthetic_sample(rng, n, "numeric"), synthetic_sample(rng, n, "numeric")
    cur["f0"] = cur["f0"] + 0.2
    cur["f1"] = cur["f1"] + 0.2
    return ref, cur


def correlation(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    """f0 and f1 become correlated (ρ = 0.7); every marginal stays N(0, 1)."""
    ref, cur = synthetic_sample(rng, n, "numeric"), synthetic_sample(rng, n, "numeric")
    z = rng.normal(size=n)
    cur["f0"] = np.sqrt(0.7) * z + np.sqrt(0.3) * cur["f0"]
    cur["f1"] = np.sqrt(0.7) * z + np.sqrt(0.3) * cur["f1"]
    return ref, cur


def variance(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    """f3's standard deviation × 1.5 (numeric data)."""
    ref, cur = synthetic_sample(rng, n, "numeric"), synthetic_sample(rng, n, "numeric")
    cur["f3"] = cur["f3"] * 1.5
    return ref, cur


def category_frequencies(rng: np.random.Generator, n: int) -> tuple[Columns, Columns]:
    """f7's categories become equally frequent (mixed data)."""
    ref, cur = synthetic_sample(rng, n, "mixed"), synthetic_sample(rng, n, "mixed")
    cur["f7"] = rng.choice(SYN_CATS, n, p=[0.25, 0.25, 0.25, 0.25])
    return ref, cur


SYNTHETIC_SHIFTS = (("0.2 sd in 2 of 10 features, n=500", two_of_ten, 500, 400),
                    ("correlation 0 -> 0.7 in 2 features, n=1000", correlation, 1000, 100),
                    ("variance x1.5 in 1 feature, n=500", variance, 500, 100),
                    ("category frequencies of 1 feature, n=500", category_frequencies, 500, 100))


def synthetic(config: DriftConfig, out: Callable[[str], None] = print, null_trials: int = 200) -> None:
    """False-positive rates and power of every decision on the synthetic data, for ``config``'s joint test."""
    zero = replace(config, threshold_numeric=0.0, threshold_categorical=0.0, threshold_multivariate=0.0,
                   min_window=10, permutations=50)
    out(f"synthetic study, joint test {config.multivariate.value}; null: {null_trials} trials, n = 500 per sample")
    out(f"{'null data':12}{'feature':>9}{'Bonferroni':>11}{'joint':>7}{'verdict p':>10}{'verdict':>8}")
    for kind in ("numeric", "categorical", "mixed"):
        per = per_n = bonf = joint = sig = drift = 0
        for seed in range(null_trials):
            rng = np.random.default_rng(seed)
            ref, cur = synthetic_sample(rng, 500, kind), synthetic_sample(rng, 500, kind)
            rep = evaluate(build_profile(ref, zero), cur, zero)
            uni = [r for r in rep.results if r.feature != MULTIVARIATE]
            per += sum(r.p_value < ALPHA for r in uni)
            per_n += len(uni)
            bonf += min(r.p_value for r in uni) * len(uni) < ALPHA
            j = [r for r in rep.results if r.feature == MULTIVARIATE]
            joint += bool(j) and j[0].p_value < ALPHA
            sig += any(r.drifted for r in rep.results)
            drift += any(r.significant and r.corrected_effect >= _threshold(config, r.effect_name)
                         for r in rep.results)
        out(f"{kind:12}{per / per_n:9.3f}{bonf / null_trials:11.3f}{joint / null_trials:7.3f}"
            f"{sig / null_trials:10.3f}{drift / null_trials:8.3f}")
    out(f"\n{'power at equal sizes':44}{'trials':>7}{'joint':>7}{'verdict':>8}")
    for name, scenario, n, trials in SYNTHETIC_SHIFTS:
        joint = drift = 0
        for seed in range(trials):
            ref, cur = scenario(np.random.default_rng(10_000 + seed), n)
            rep = evaluate(build_profile(ref, config), cur, config)
            joint += any(r.significant for r in rep.results if r.feature == MULTIVARIATE)
            drift += any(r.drifted for r in rep.results)
        out(f"{name:44}{trials:7}{joint / trials:7.3f}{drift / trials:8.3f}")
    no_shift_effects(config, out)


NO_SHIFT_CATS = np.array(["a", "b", "c", "d", "e"], dtype=object)


def no_shift_columns(rng: np.random.Generator, n: int) -> Columns:
    """A normal, an exponential, a 5-category and a 6-value integer feature, all without drift."""
    return {"x": rng.normal(size=n), "y": rng.exponential(size=n), "c": rng.choice(NO_SHIFT_CATS, n),
            "k": rng.integers(0, 6, n)}


def no_shift_effects(config: DriftConfig, out: Callable[[str], None] = print, windows: int = 800) -> None:
    """How often a corrected effect reaches its threshold with no drift: 50-row windows, fresh 500-row references."""
    rng = np.random.default_rng(1)
    over: dict[str, int] = {}
    joint = 0
    for _ in range(windows):
        for r in evaluate(build_profile(no_shift_columns(rng, 500), config), no_shift_columns(rng, 50),
                          config).results:
            over[r.feature] = over.get(r.feature, 0) + (r.corrected_effect >= r.threshold)
            joint += r.feature == MULTIVARIATE and r.significant
    out(f"\nno shift, {windows} windows of 50 rows against 500 (fresh each): corrected effect >= threshold in "
        + ", ".join(f"{f} {v / windows:.2%}" for f, v in over.items())
        + f"; joint test significant in {joint / windows:.2%}")


def _threshold(config: DriftConfig, effect: str) -> float:
    return {"wasserstein_norm": config.threshold_numeric, "tvd": config.threshold_categorical,
            "mmd_shift": config.threshold_multivariate}.get(effect, 0.0)


if __name__ == "__main__":
    main()
