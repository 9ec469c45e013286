"""The window's joint test: one permutation test over every feature at once, calibrated at α exactly.

Rows. The reference rows the test uses (all of them up to ``joint_reference_rows``, else a
fixed random subset) are pooled with every row of the window; B relabelings of the pooled
rows (``plugins.drift.permutation``) give the null distribution of every statistic below.

Statistic. The largest of these components, each standardised by its mean and standard
deviation over the relabelings:

- MMD² with a Gaussian kernel on the standardised (pooled) data, at the median-heuristic
  bandwidth σ and at σ/2 (aggregating bandwidths as MMDAgg does: the smaller one is what
  catches added noise; on breast cancer with medium noise at n = 200 it doubled the
  detection rate) — or LSDD, or one fixed bandwidth when configured;
- the largest KS distance over the numeric features (on the Kolmogorov scale, ties exact);
- the largest standardised mean difference over the numeric features (a location shift of
  a few features is what KS and the median-bandwidth kernel are least quick to see);
- the largest standardised chi-square over the categorical features;
- the difference between the groups' mean squared Mahalanobis distance from the pooled mean
  (kernel input, shrunk pooled covariance; ``multivariate.mahalanobis_norms``), entering the
  maximum ``COMPONENT_OFFSETS`` = 2 standard deviations down. Added noise, a broken
  correlation or a change of spread moves a group's rows away from the pooled shape; on
  breast cancer with large noise on half of a 50-row window (30 correlated features) it lifted
  the verdict from 0.665 to 0.95 of 200 draws, where the reference-standardised MMD detects
  0.72 (every noise cell of ``benchmarks/power.py`` gained; no other cell moved). Offset,
  it rarely sets the maximum when nothing drifted, so the other components keep their power
  (0.2σ in 2 of 10 features at n = 500: 0.853 with or without it; without the offset 0.810).

So the joint test is as sensitive as the MMD test and as the per-feature tests together,
and because it is one test at level α, it is the gate of every per-feature verdict
(``plugins.drift.verdict``): no share of α is set aside for it. Its p-value is
``(1 + #{relabelings at least as extreme}) / (B + 1)``.

Effect: the larger of two, each corrected by its own root mean square over the relabelings
(its expected size with no drift, ``verdict.noise_corrected``):

- location, in σ of one feature: the larger of the largest mean shift of one feature and,
  at each bandwidth, the one-feature mean shift that gives the observed MMD² under the same
  kernel (``multivariate.shift_sensitivity``). (Measured at the median bandwidth only, the effect
  of added noise, which the σ/2 kernel detects, stayed within its noise at n = 50 and the
  verdict lost a third of its detections on breast cancer.)
- spread: the relative change of the numeric features' standard deviation from the reference
  rows to the window's (within-group variances averaged over the features; 0.1 = 10% more
  or less spread, about the Wasserstein distance/σ of 0.08 per feature that rescaling
  gives). Where only the Mahalanobis component rejects, the location effect is often within
  its noise (breast cancer, large noise, n = 50, 40 draws: of the 37 significant, 2 stayed
  below 0.1 without the spread effect, 1 with it). A location shift leaves it near 0.

The same relabelings give each feature's null
effect (Wasserstein-1, total variation distance), used to correct its effect for the
window size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from plugins.drift.config import DriftConfig, Multivariate
from plugins.drift.multivariate import (
    EXACT_MAX_ROWS,
    lsdd_permuted,
    mahalanobis_norms,
    mmd2_from_feature_sums,
    mmd2_permuted,
    rff_block,
    rff_count,
    rff_frequencies,
    scale_sample,
    shift_sensitivity,
)
from plugins.drift.permutation import (
    WASSERSTEIN_RELABELINGS,
    OrderedStats,
    count_from_sums,
    labelled_sums,
    mean_from_sums,
    null_quantile,
    null_rms,
    one_hot_rows,
    ordered_from_counts,
    ordered_statistics,
    permutation_p,
    permutations_for,
    relabelings,
    standardise,
)
from plugins.drift.reduction import one_hot, pooled_codes, reduce
from plugins.drift.reduction import standardise as standardise_columns
from plugins.drift.verdict import NOISE_QUANTILE, noise_corrected

# Standard deviations a component's standardised value gives up in the maximum. The Mahalanobis
# component detects large changes of shape (added noise, broken correlations), where its value
# runs to tens of standard deviations; offset by 2 it rarely sets the maximum when nothing
# drifted, so the other components keep their power (``benchmarks/power.py``).
COMPONENT_OFFSETS = {"mahalanobis": 2.0}


@dataclass(frozen=True, slots=True)
class JointProfile:
    """The reference rows the joint test pools with each window (a fixed random subset when the reference is large)."""

    numeric: tuple[str, ...]  # continuous and discrete numeric features, in column order
    levels: Mapping[str, np.ndarray]  # sorted reference levels of the discrete features
    categorical: tuple[str, ...]
    numeric_rows: np.ndarray  # (rows, len(numeric)) floats, NaN = missing
    categorical_rows: tuple[np.ndarray, ...]  # one object array of cleaned values per categorical feature

    @property
    def n_rows(self) -> int:
        """Reference rows in every window test."""
        return int(self.numeric_rows.shape[0])


def fit_joint(numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray],
              levels: Mapping[str, np.ndarray], n_rows: int, config: DriftConfig) -> JointProfile | None:
    """Keep the reference rows the joint test uses (None when there are too few rows or no features)."""
    if n_rows < 4 or not (numeric or categorical):
        return None
    rows = np.arange(n_rows)
    if n_rows > config.joint_reference_rows:
        rows = np.sort(np.random.default_rng(config.seed).choice(n_rows, config.joint_reference_rows, replace=False))
    names = tuple(numeric)
    matrix = (np.column_stack([np.asarray(numeric[f], dtype=np.float64)[rows] for f in names])
              if names else np.empty((rows.size, 0)))
    return JointProfile(names, {f: levels[f] for f in names if f in levels}, tuple(categorical), matrix,
                        tuple(np.asarray(categorical[f], dtype=object)[rows] for f in categorical))


@dataclass(frozen=True, slots=True)
class JointOutcome:
    """The joint test of one window, and the null effects of every feature read off its relabelings."""

    test: str
    p_value: float
    statistic: float  # the largest standardised component (observed)
    components: Mapping[str, float]  # each component's standardised observed value
    mmd2: float  # at the bandwidth where the shift is largest
    mmd2_null: float  # its 95th percentile over the relabelings
    shift: float  # raw effect, location (σ) or spread, whichever is larger after correction
    shift_null: float  # root mean square of that effect over the relabelings (its size with no drift)
    shift_corrected: float  # sqrt(max(shift² - shift_null², 0))
    spread: float  # |window sd / reference sd - 1| over the numeric features (within-group variances averaged), raw
    n_reference: int
    n_window: int
    permutations: int
    wasserstein_null: Mapping[str, float] = field(default_factory=dict)  # data units, at the test's sizes
    tvd_null: Mapping[str, float] = field(default_factory=dict)
    reference_counts: Mapping[str, int] = field(default_factory=dict)  # finite reference values per feature in the test
    observed_ks: Mapping[str, float] = field(default_factory=dict)  # the observed split's KS distance per feature
    observed_wasserstein: Mapping[str, float] = field(default_factory=dict)  # ... and Wasserstein-1 (data units)


def run_joint(jp: JointProfile, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray],
              n_window: int, config: DriftConfig, *, kernel: bool = True) -> JointOutcome:
    """Pool the reference rows with the window, relabel, and compute every component and null effect.

    ``kernel=False`` leaves the kernel statistic out (no joint test configured): the
    relabelings then only give the features' null effects.
    """
    n = jp.n_rows
    N = n + n_window
    width = len(jp.numeric) + len(jp.categorical)
    labels = relabelings(n, n_window, permutations_for(N, width, config.permutations), config.seed)
    if not kernel:  # no joint test: the relabelings only give null effects, for which fewer do
        labels = labels[:WASSERSTEIN_RELABELINGS]

    # numeric features: KS and Wasserstein of every relabeling (ties exact)
    num = np.vstack([jp.numeric_rows, np.column_stack(
        [_column(numeric.get(f), n_window) for f in jp.numeric]) if jp.numeric else np.empty((n_window, 0))])
    comps: dict[str, np.ndarray] = {"ks": np.empty(0)} if jp.numeric else {}  # the KS component, set below
    w_null: dict[str, float] = {}
    observed_ks: dict[str, float] = {}
    observed_w: dict[str, float] = {}
    counts_ref: dict[str, int] = {}
    standardised = standardise_columns(num) if jp.numeric else np.empty((N, 0))
    counts_ref.update(zip(jp.numeric, np.isfinite(jp.numeric_rows).sum(axis=0).tolist(), strict=True))
    # Discrete features whose pooled values are all reference levels get their KS and Wasserstein
    # distances from the level counts below (the same numbers, without sorting every relabeling).
    discrete = [f for f in jp.numeric if f in jp.levels]
    level_codes = {f: _level_codes(jp.levels[f], num[:, jp.numeric.index(f)]) for f in discrete}
    by_counts = {f for f in discrete if not np.any(level_codes[f] == jp.levels[f].size)}
    sorted_cols = [j for j, f in enumerate(jp.numeric) if f not in by_counts]
    ordered = ordered_statistics(num[:, sorted_cols], labels) if sorted_cols else None

    # categorical features (chi-square, TVD) and discrete ones (TVD over reference levels + other)
    cat_codes: list[np.ndarray] = []
    cat_levels: list[int] = []
    one_hot_width: list[int] = []
    for f, ref_values in zip(jp.categorical, jp.categorical_rows, strict=True):
        pooled = np.concatenate([ref_values, _objects(categorical.get(f), n_window)])
        code, k, frequent = pooled_codes(pooled)
        cat_codes.append(code)
        cat_levels.append(max(k, 1))
        one_hot_width.append(frequent)
        counts_ref[f] = int(np.count_nonzero(code[:n] >= 0))
    for f in discrete:
        cat_codes.append(level_codes[f])
        cat_levels.append(jp.levels[f].size + 1)

    # the kernel's input: the standardised, encoded pooled rows
    k_cat = len(jp.categorical)
    encoded = _encode(standardised, cat_codes[:k_cat], one_hot_width) if kernel else np.empty((N, 0))
    Z = reduce(encoded, config.reduction, config.n_components, config.seed)
    sigmas: tuple[float, ...] = ()
    sample = distances = np.empty((0, 0))
    if Z.shape[1]:
        sigma, sample, distances = scale_sample(Z, seed=config.seed)
        sigma = config.bandwidth if config.bandwidth is not None else sigma
        sigmas = (sigma,) if config.bandwidth is not None else (sigma, sigma / 2.0)
    rff = bool(sigmas) and N > EXACT_MAX_ROWS
    W = rff_frequencies(Z.shape[1], config.seed, rff_count(N)) if rff else np.empty((0, 0))
    # per row: the squared Mahalanobis norm (a component) and the mean square of the standardised
    # numerics (the spread effect)
    row_stats = (np.column_stack([mahalanobis_norms(Z)] + ([np.mean(standardised ** 2, axis=1)] if jp.numeric else []))
                 if sigmas else np.empty((N, 0)))

    # One product of the labels with [standardised numerics | one-hot codes | random features | row
    # statistics] gives every relabeling's means, category counts, kernel feature sums and mean norms.
    codes = np.column_stack(cat_codes) if cat_codes else np.empty((N, 0), dtype=np.int64)
    levels = np.asarray(cat_levels, dtype=np.int64)
    widths = (standardised.shape[1], int(levels.sum()), 2 * W.shape[1] * len(sigmas) if rff else 0,
              row_stats.shape[1])

    def block(rows: slice) -> np.ndarray:
        parts = [standardised[rows].astype(np.float32)]
        if widths[1]:
            parts.append(one_hot_rows(codes[rows], levels))
        if widths[2]:
            parts.append(rff_block(Z[rows], W, sigmas))
        if widths[3]:
            parts.append(row_stats[rows].astype(np.float32))
        return np.concatenate(parts, axis=1)

    sums, totals = labelled_sums(labels, block, N, sum(widths))
    cuts = np.cumsum(widths)
    mean_shift = np.full(labels.shape[0], np.nan)
    if jp.numeric:
        means = mean_from_sums(sums[:, :cuts[0]], totals[:cuts[0]], n, N).max(axis=1)
        comps["mean"] = means
        mean_shift = means / math.sqrt(n * n_window / N)  # the largest mean difference, in pooled σ
    if jp.numeric:
        ks, scaled, wass = _ordered(jp, ordered, sorted_cols, by_counts, discrete, sums[:, cuts[0]:cuts[1]],
                                    totals[cuts[0]:cuts[1]], levels)
        comps["ks"] = np.where(np.isnan(ks), -np.inf, scaled).max(axis=1)
        w_null = dict(zip(jp.numeric, null_rms(wass).tolist(), strict=True))
        observed_ks = dict(zip(jp.numeric, ks[0].tolist(), strict=True))
        observed_w = dict(zip(jp.numeric, wass[0].tolist(), strict=True))
    tvd_null: dict[str, float] = {}
    if cat_codes:
        counted = count_from_sums(sums[:, cuts[0]:cuts[1]], totals[cuts[0]:cuts[1]], levels)
        if k_cat:
            chi = counted.chi2_z[:, :k_cat]
            comps["chi2"] = np.where(np.isnan(chi), -np.inf, chi).max(axis=1)
        q = null_rms(counted.tvd)
        tvd_null = dict(zip([*jp.categorical, *discrete], q.tolist(), strict=True))

    # the kernel component(s)
    mmd2 = mmd2_null = shift = shift_null = shift_corrected = spread_observed = math.nan
    test = "mmd"
    if sigmas:
        if rff:
            stats = mmd2_from_feature_sums(sums[:, cuts[1]:cuts[2]], totals[cuts[1]:cuts[2]], n, n_window, W.shape[1])
        else:
            stats = mmd2_permuted(Z, labels, sigmas, seed=config.seed)
        if config.multivariate is Multivariate.LSDD:
            # at the same bandwidths as the MMDs: at the median one alone LSDD saw a 0 -> 0.7
            # correlation change at n = 1,000 in 0.74 of 50 seeded trials, with σ/2 added in 0.84 of 100
            test = "lsdd"
            lsdd = lsdd_permuted(Z, labels, seed=config.seed, sigmas=sigmas)
            for i, s in enumerate(sigmas):
                comps[f"lsdd@{s / sigmas[0]:g}σ"] = lsdd[:, i]
        else:
            for i, s in enumerate(sigmas):
                comps[f"mmd@{s / sigmas[0]:g}σ"] = stats[:, i]
        row_ref = sums[:, cuts[2]:cuts[3]] / n
        row_win = (totals[None, cuts[2]:cuts[3]] - sums[:, cuts[2]:cuts[3]]) / n_window
        comps["mahalanobis"] = np.abs(row_ref[:, 0] - row_win[:, 0])
        # the spread effect: the relative change of the numeric features' standard deviation within
        # each group (variance: mean square less squared mean, averaged over the features); a mean
        # shift leaves it as it was
        spread = np.full(labels.shape[0], np.nan)
        if jp.numeric:
            var_ref = row_ref[:, 1] - np.mean((sums[:, :cuts[0]] / n) ** 2, axis=1)
            var_win = row_win[:, 1] - np.mean(((totals[None, :cuts[0]] - sums[:, :cuts[0]]) / n_window) ** 2, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                spread = np.abs(np.sqrt(np.maximum(var_win, 0.0) / var_ref) - 1.0)
        # The shift scale is read along the numeric columns when they survive the reduction as they are.
        numeric_cols = np.arange(len(jp.numeric)) if jp.numeric and Z is encoded else None
        c = np.asarray(shift_sensitivity(sample, distances, sigmas, numeric_cols))
        with np.errstate(invalid="ignore", divide="ignore"):
            shifts = np.sqrt(np.maximum(stats, 0.0) / c[None, :])  # (B + 1, bandwidths)
        at = int(np.nanargmax(np.where(np.isfinite(shifts[0]), shifts[0], -np.inf)))
        mmd2, mmd2_null = float(stats[0, at]), float(null_quantile(stats[:, at:at + 1], NOISE_QUANTILE)[0])
        kernel_shift = np.where(np.isfinite(shifts), shifts, -np.inf).max(axis=1)
        # Two effects, each corrected by its own root mean square over the relabelings: location
        # (σ), the larger of the kernel's one-feature shift and the largest mean shift of one
        # feature; spread, the relative change of the features' standard deviation. The joint
        # effect is the larger after correction.
        location = np.fmax(np.where(np.isfinite(kernel_shift), kernel_shift, np.nan), mean_shift)
        for effect in (location, spread):
            if not np.isfinite(effect[0]):
                continue
            raw, null = float(effect[0]), float(null_rms(effect[:, None])[0])
            corrected = noise_corrected(raw, null)
            if math.isnan(shift_corrected) or corrected > shift_corrected:
                shift, shift_null, shift_corrected = raw, null, corrected
        spread_observed = float(spread[0])

    names = list(comps)
    if names:
        std = standardise(np.column_stack([comps[k] for k in names]))
        offsets = np.array([COMPONENT_OFFSETS.get(k, 0.0) for k in names])
        total = (std - offsets[None, :]).max(axis=1)
        p = permutation_p(total)
        statistic = float(total[0])
        observed = {k: float(std[0, i]) for i, k in enumerate(names)}
    else:
        p, statistic, observed = math.nan, math.nan, {}
    return JointOutcome(
        test=test, p_value=p, statistic=statistic, components=observed, mmd2=mmd2, mmd2_null=mmd2_null,
        shift=shift, shift_null=shift_null, shift_corrected=shift_corrected, spread=spread_observed,
        n_reference=n, n_window=n_window,
        permutations=labels.shape[0] - 1, wasserstein_null=w_null, tvd_null=tvd_null, reference_counts=counts_ref,
        observed_ks=observed_ks, observed_wasserstein=observed_w,
    )


def _ordered(jp: JointProfile, ordered: OrderedStats | None, sorted_cols: list[int], by_counts: set[str],
             discrete: list[str], counts: np.ndarray, totals: np.ndarray,
             levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """KS distance, scaled KS and Wasserstein-1 of every relabeling for every numeric feature, in column order.

    From ``ordered_statistics`` for the columns it sorted, from the level counts of the
    one-hot product for the discrete features whose pooled values are all reference levels.
    """
    B1 = counts.shape[0]
    d = len(jp.numeric)
    W1 = ordered.wasserstein.shape[0] if ordered is not None else min(B1, WASSERSTEIN_RELABELINGS)
    ks, scaled, wass = np.full((B1, d), math.nan), np.zeros((B1, d)), np.full((W1, d), math.nan)
    if ordered is not None:
        ks[:, sorted_cols], scaled[:, sorted_cols], wass[:, sorted_cols] = (
            ordered.ks, ordered.scaled_ks, ordered.wasserstein)
    if by_counts:
        offsets = np.concatenate([[0], np.cumsum(levels)]).astype(np.int64)
        first = len(levels) - len(discrete)  # the discrete features' codes follow the categorical ones
        names = [f for f in discrete if f in by_counts]
        cols = np.concatenate([np.arange(offsets[first + discrete.index(f)],
                                         offsets[first + discrete.index(f)] + jp.levels[f].size) for f in names])
        got = ordered_from_counts(counts[:, cols], totals[cols], [jp.levels[f] for f in names])
        where = [jp.numeric.index(f) for f in names]
        ks[:, where], scaled[:, where], wass[:, where] = got.ks, got.scaled_ks, got.wasserstein[:W1]
    return ks, scaled, wass


def _column(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=np.float64)


def _objects(values: np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, None, dtype=object)
    return np.asarray(values, dtype=object)


def _level_codes(levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value among the reference levels; ``levels.size`` for any other finite value; -1 missing."""
    idx = np.searchsorted(levels, values)
    clipped = np.minimum(idx, levels.size - 1)
    hit = np.isfinite(values) & (idx < levels.size) & (levels[clipped] == values)
    out = np.where(hit, idx, levels.size)
    return np.where(np.isfinite(values), out, -1).astype(np.int64)


def _encode(standardised: np.ndarray, cat_codes: list[np.ndarray], widths: list[int]) -> np.ndarray:
    num = standardised
    parts = [standardised] if num.shape[1] else []
    parts.extend(one_hot(c, k) for c, k in zip(cat_codes, widths, strict=True) if k)
    if not parts:
        return np.empty((num.shape[0], 0))
    return np.concatenate(parts, axis=1)
