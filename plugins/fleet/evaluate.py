"""Drift tests on profiles: the live plugin's records, correction and verdict rule, computed from merged sketches.

``compare_profiles(reference, current, config)`` returns the ``OfflineReport`` that
``infersight drift`` prints, with one ``DriftResult`` per feature and one for the joint test.

- Numeric features: two-sample Kolmogorov–Smirnov from the two KLL sketches' CDFs. While both
  sketches hold every value (exact mode) this is the exact test (``scipy.stats.ks_2samp``,
  ``method="auto"``, the p-values the drift plugin reproduces). Once a sketch estimates, its
  CDF is off by at most ε (DataSketches' normalised rank error, 99th percentile over all
  ranks; ≈0.14% at k = 2000), so the true statistic D satisfies D ≥ D̂ − ε_ref − ε_cur. The
  p-value is that of ``max(D̂ − ε_ref − ε_cur, 0)`` under the asymptotic two-sample null
  (``scipy.stats.kstwo`` with n·m/(n+m), as scipy does above 10,000 values): the test stays
  conservative (the same rule DataSketches' own ``ks_test`` applies to its threshold) and
  costs power only when ε is not small against the critical value 1.36·sqrt((n+m)/nm).
- Effect sizes on the same sketches: Wasserstein-1 between the sketch CDFs in reference σ
  (moments), PSI and Jensen–Shannon on bins at the reference quantiles, and the
  summary-statistic comparison (``mean_shift`` in reference σ, ``std_ratio``).
- Categorical features: chi-square (Fisher for a sparse 2 x 2) on the category counts
  after pooling rare categories, PSI and Jensen–Shannon on the proportions. Above the
  cardinality cap the counts are the frequent-items sketch's estimates plus one bucket for
  the rest (approximate).
- Joint: unbiased MMD² with a permutation p-value on the merged bottom-k row samples,
  encoded as drift does (numerics standardised by the reference moments, one-hot for the 20
  most frequent reference categories), reduced by PCA fitted on one half of the reference
  sample when wider than ``n_components`` (then the other half is tested, as drift does).
- Correction (Bonferroni/BH over the per-feature tests) and verdict (significant AND effect
  size >= threshold; α/2 for each family when the joint test runs) as the drift plugin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from plugins.drift import (
    MULTIVARIATE,
    DriftConfig,
    DriftResult,
    FeatureSummary,
    OfflineReport,
    SchemaChange,
    js_distance,
    psi,
)
from plugins.fleet import borrowed, names
from plugins.fleet.profiles import FeatureProfile, Kind, Profile

TOP_CATEGORIES = 20
_OTHER = "\x00other"  # the bucket of categories a frequent-items sketch does not list
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# Profiles give drift's own summary and schema-change records (same printers, JSON and HTML).
ProfileSummary = FeatureSummary
ProfileSchemaChange = SchemaChange


# -- the sketch CDF -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cdf:
    """A weighted step CDF: sorted values, cumulative weights, total weight, and the rank error bound."""

    values: np.ndarray
    cum: np.ndarray
    n: float
    eps: float
    exact: bool

    @classmethod
    def of(cls, fp: FeatureProfile) -> _Cdf:
        v, w = fp.items()
        return cls(v, np.cumsum(w), float(w.sum()), fp.rank_error, fp.rank_error == 0.0)

    def at(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x) for each x."""
        idx = np.searchsorted(self.values, x, side="right")
        out = np.zeros(idx.shape)
        nz = idx > 0
        out[nz] = self.cum[idx[nz] - 1] / self.n
        return out

    def quantiles(self, qs: np.ndarray, fp: FeatureProfile) -> np.ndarray:
        """Quantiles: ``np.quantile`` (linear) while exact, the sketch's estimate otherwise."""
        if self.exact:
            return np.quantile(self.values, qs)
        return np.asarray(fp.sketch.get_quantiles(qs.tolist()), dtype=np.float64)


def ks_from_cdfs(ref: _Cdf, cur: _Cdf, grid_cdfs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 ) -> tuple[float, float]:
    """(D̂, p-value): exact KS while both sketches are exact, else the conservative bound (module docs)."""
    if ref.exact and cur.exact:
        from scipy import stats as sps

        res = sps.ks_2samp(ref.values, cur.values, method="auto")
        return float(res.statistic), float(res.pvalue)
    _, f_ref, f_cur = grid_cdfs or on_grid(ref, cur)
    d = float(np.max(np.abs(f_ref - f_cur))) if f_ref.size else 0.0
    d_adj = max(d - ref.eps - cur.eps, 0.0)
    if d_adj == 0.0:
        return d, 1.0
    from scipy import stats as sps

    en = round(ref.n * cur.n / (ref.n + cur.n))
    return d, float(np.clip(sps.kstwo.sf(d_adj, max(en, 1)), 0.0, 1.0))


def on_grid(ref: _Cdf, cur: _Cdf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both step CDFs at every point where either jumps (the union of the retained values)."""
    grid = np.union1d(ref.values, cur.values)
    return grid, ref.at(grid), cur.at(grid)


def wasserstein(ref: _Cdf, cur: _Cdf, grid_cdfs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> float:
    """Wasserstein-1 distance between two step CDFs (exact for the sketches' CDFs)."""
    grid, f_ref, f_cur = grid_cdfs or on_grid(ref, cur)
    if grid.size < 2:
        return 0.0 if grid.size else math.nan
    return float(np.sum(np.abs(f_ref[:-1] - f_cur[:-1]) * np.diff(grid)))


# -- summaries ------------------------------------------------------------------------------------


def summarize(profile: Profile, feature: str, cdf: _Cdf | None = None) -> ProfileSummary:
    """A feature's summary from a profile (quantiles from the sketch; exact while it is exact)."""
    fp = profile.features[feature]
    missing = profile.missing(feature) / profile.rows if profile.rows else 0.0
    if fp.kind is Kind.CATEGORICAL:
        counts = fp.category_counts()
        present = fp.present
        freqs = {c: n / present for c, n in list(counts.items())[:TOP_CATEGORIES]} if present else {}
        rest = present - sum(n for n in list(counts.values())[:TOP_CATEGORIES])
        if rest > 0:
            freqs["__other__"] = rest / present
        return ProfileSummary(feature, present, missing, frequencies=freqs)
    m = fp.moments
    if m.n == 0:
        return ProfileSummary(feature, 0, missing)
    q = (cdf or _Cdf.of(fp)).quantiles(np.array(_QUANTILES), fp)
    return ProfileSummary(feature, m.n, missing, m.min, m.max, m.mean, float(q[2]), m.variance,
                          float(q[0]), float(q[1]), float(q[3]), float(q[4]), m.skewness, m.kurtosis)


# -- the comparison ---------------------------------------------------------------------------------


def compare_profiles(reference: Profile, current: Profile, config: DriftConfig | None = None, *,
                     model: str | None = None, min_window: int | None = None) -> OfflineReport:
    """Test ``current`` against ``reference``: per-feature tests, correction, joint MMD, verdicts (module docs)."""
    cfg = config or DriftConfig()
    min_n = cfg.min_window if min_window is None else min_window
    name = current.model if model is None else model
    base: dict[str, Any] = dict(model=name, window_start=current.start, window_end=current.end,
                                n_window=current.rows)
    features = [f for f in reference.features if f in current.features]
    ref_cdfs = {f: _Cdf.of(fp) for f, fp in reference.features.items() if fp.kind is Kind.NUMERIC}
    cur_cdfs = {f: _Cdf.of(fp) for f, fp in current.features.items() if fp.kind is Kind.NUMERIC}
    pending: list[DriftResult] = []
    for f in features:
        ref_fp, cur_fp = reference.features[f], current.features[f]
        if ref_fp.kind is not cur_fp.kind:
            pending.append(_result(f, "none", (math.nan, math.nan), {}, "none", math.nan,
                                   names.SKIP_TEST_FAILED, ref_fp.present, base))
        elif ref_fp.kind is Kind.NUMERIC:
            pending.append(_numeric(f, (ref_fp, ref_cdfs[f]), (cur_fp, cur_cdfs[f]), cfg, min_n, base))
        else:
            pending.append(_categorical(f, ref_fp, cur_fp, cfg, min_n, base))
    corrected = borrowed.correct([r.p_value for r in pending], cfg.correction.value)
    joint = cfg.multivariate.value != "off"
    drift_alpha = cfg.alpha / 2 if joint and pending else cfg.alpha
    results = [borrowed.decide(r, cp, cfg.alpha, drift_alpha, names.SKIP_TEST_FAILED)
               for r, cp in zip(pending, corrected, strict=True)]
    if joint:
        results.append(_joint(reference, current, features, cfg, min_n, base, drift_alpha))
    ref_s = {f: summarize(reference, f, ref_cdfs.get(f)) for f in reference.features}
    cur_s = {f: summarize(current, f, cur_cdfs.get(f)) for f in current.features}
    schema = _schema(reference, current)
    return OfflineReport(tuple(results), ref_s, cur_s, schema)


def _result(feature: str, test: str, outcome: tuple[float, float], effects: dict[str, float], effect_name: str,
            threshold: float, reason: str | None, n_ref: int, base: Mapping[str, Any]) -> DriftResult:
    return DriftResult(
        feature=feature, test=test, statistic=outcome[0], p_value=outcome[1], corrected_p_value=math.nan,
        effect_size=effects.get(effect_name, math.nan), effect_name=effect_name, threshold=threshold,
        drifted=False, skipped=reason, n_reference=int(n_ref), effects=effects, **base,
    )


def _numeric(f: str, ref_side: tuple[FeatureProfile, _Cdf], cur_side: tuple[FeatureProfile, _Cdf],
             cfg: DriftConfig, min_n: int, base: Mapping[str, Any]) -> DriftResult:
    (ref_fp, ref), (cur_fp, cur) = ref_side, cur_side
    reason = None
    if cur_fp.present < min_n:
        reason = names.SKIP_WINDOW_TOO_SMALL
    elif ref_fp.present < 2:
        reason = names.SKIP_REFERENCE_TOO_SMALL
    elif cur_fp.moments.min == cur_fp.moments.max and ref_fp.moments.m2 == 0:
        reason = names.SKIP_CONSTANT
    effects: dict[str, float] = {}
    outcome = (math.nan, math.nan)
    if ref_fp.present and cur_fp.present:
        std = ref_fp.moments.std
        grid_cdfs = on_grid(ref, cur)
        w = wasserstein(ref, cur, grid_cdfs)
        edges = np.unique(ref.quantiles(np.linspace(0, 1, cfg.bins + 1)[1:-1], ref_fp))
        p_ref, p_cur = np.diff(ref.at(edges), prepend=0.0, append=1.0), np.diff(cur.at(edges), prepend=0.0, append=1.0)
        effects = {
            "wasserstein_norm": w / std if std > 0 else (0.0 if w == 0 else math.inf),
            "psi": psi(p_ref, p_cur),
            "js": js_distance(p_ref, p_cur),
            "mean_shift": (cur_fp.moments.mean - ref_fp.moments.mean) / std if std > 0 else math.nan,
            "std_ratio": cur_fp.moments.std / std if std > 0 else math.nan,
        }
        if reason is None:
            outcome = ks_from_cdfs(ref, cur, grid_cdfs)
    return _result(f, "ks", outcome, effects, "wasserstein_norm", cfg.threshold_numeric, reason,
                   ref_fp.present, base)


def _counts(fp: FeatureProfile) -> dict[str, int]:
    counts = fp.category_counts()
    if not fp.exact_counts:
        rest = fp.present - sum(counts.values())
        if rest > 0:
            counts[_OTHER] = rest
    return counts


def _categorical(f: str, ref_fp: FeatureProfile, cur_fp: FeatureProfile, cfg: DriftConfig, min_n: int,
                 base: Mapping[str, Any]) -> DriftResult:
    ref_c, cur_c = _counts(ref_fp), _counts(cur_fp)
    cats = list(ref_c) + [c for c in cur_c if c not in ref_c]
    table = np.array([[ref_c.get(c, 0) for c in cats], [cur_c.get(c, 0) for c in cats]], dtype=np.float64)
    sums = table.sum(axis=1, keepdims=True)
    props = table / np.where(sums == 0, 1.0, sums)
    effects = {"psi": psi(props[0], props[1]), "js": js_distance(props[0], props[1])}
    reason = names.SKIP_WINDOW_TOO_SMALL if table[1].sum() < min_n else None
    test, outcome = "chi2", (math.nan, math.nan)
    if reason is None:
        pooled = borrowed.pool_rare(table)
        if pooled.shape[1] < 2:
            reason = names.SKIP_CONSTANT
        elif pooled.shape == (2, 2) and borrowed.needs_fisher(pooled):
            test, outcome = "fisher", borrowed.fisher_test(pooled)
        else:
            outcome = borrowed.chi2_test(pooled)
    return _result(f, test, outcome, effects, "psi", cfg.threshold_categorical, reason, int(table[0].sum()), base)


def _encode(sample_cols: Mapping[str, np.ndarray], n: int, numeric: list[tuple[str, float, float]],
            categorical: list[tuple[str, list[str]]]) -> np.ndarray:
    width = len(numeric) + sum(len(c) for _, c in categorical)
    out = np.zeros((n, width))
    for j, (f, mean, std) in enumerate(numeric):
        col = sample_cols.get(f)
        if col is not None and col.dtype.kind == "f":
            z = (col - mean) / std
            out[:, j] = np.where(np.isfinite(z), z, 0.0)
    j = len(numeric)
    for f, cats in categorical:
        col = sample_cols.get(f)
        if col is not None:
            index = {c: i for i, c in enumerate(cats)}
            codes = np.fromiter((index.get(v, -1) for v in col.tolist()), dtype=np.int64, count=n)
            rows = np.flatnonzero(codes >= 0)
            out[rows, j + codes[rows]] = 1.0
        j += len(cats)
    return out


JOINT_THRESHOLD = 0.0
"""The joint MMD² on profiles' row samples counts when significant: drift's ``threshold_multivariate``
is in the live joint test's units (an equivalent one-feature shift in σ), which a row-sample MMD²
does not share."""


def _joint(reference: Profile, current: Profile, features: list[str], cfg: DriftConfig, min_n: int,
           base: Mapping[str, Any], drift_alpha: float) -> DriftResult:
    rs, cs = reference.sample, current.sample
    reason = None
    outcome = (math.nan, math.nan)
    n_ref = len(rs)
    if len(cs) < min(min_n, cs.k) or len(cs) < 2:
        reason = names.SKIP_WINDOW_TOO_SMALL
    elif len(rs) < 4 or not features:
        reason = names.SKIP_REFERENCE_TOO_SMALL
    else:
        numeric = [(f, reference.features[f].moments.mean, reference.features[f].moments.std or 1.0)
                   for f in features if reference.features[f].kind is Kind.NUMERIC]
        categorical = [(f, list(reference.features[f].category_counts())[: borrowed.MAX_ONE_HOT])
                       for f in features if reference.features[f].kind is Kind.CATEGORICAL]
        X = _encode(rs.columns, len(rs), numeric, categorical)
        Y = _encode(cs.columns, len(cs), [n for n in numeric], categorical)
        rng = np.random.default_rng(cfg.seed)
        if X.shape[1] > cfg.n_components and cfg.reduction.value != "none":
            order = rng.permutation(X.shape[0])
            fit, test = X[order[: X.shape[0] // 2]], X[order[X.shape[0] // 2 :]]
            centre = fit.mean(axis=0)
            _, _, vt = np.linalg.svd(fit - centre, full_matrices=False)
            basis = vt[: cfg.n_components].T
            X, Y = (test - centre) @ basis, (Y - centre) @ basis
        n_ref = X.shape[0]
        sigma = cfg.bandwidth if cfg.bandwidth is not None else borrowed.median_bandwidth(X, cfg.seed)
        outcome = borrowed.mmd_test(X, Y, sigma, cfg.permutations, cfg.seed)
    r = DriftResult(
        model=str(base["model"]), feature=MULTIVARIATE, test="mmd", statistic=outcome[0], p_value=outcome[1],
        corrected_p_value=outcome[1], effect_size=outcome[0], effect_name="mmd2",
        threshold=JOINT_THRESHOLD, drifted=False, skipped=reason,
        window_start=float(base["window_start"]), window_end=float(base["window_end"]),
        n_reference=int(n_ref), n_window=len(cs),
    )
    return borrowed.decide(r, outcome[1], cfg.alpha, drift_alpha, names.SKIP_TEST_FAILED)


def _schema(reference: Profile, current: Profile) -> tuple[ProfileSchemaChange, ...]:
    out: list[ProfileSchemaChange] = [ProfileSchemaChange("feature_added", f)
                                      for f in current.features if f not in reference.features]
    out += [ProfileSchemaChange("feature_missing", f) for f in sorted(reference.features)
            if f not in current.features]
    for f, fp in reference.features.items():
        cur = current.features.get(f)
        if fp.kind is not Kind.CATEGORICAL or cur is None or cur.kind is not Kind.CATEGORICAL:
            continue
        if not (fp.exact_counts and cur.exact_counts):
            continue
        known = fp.counts or {}
        new = {c: n for c, n in (cur.counts or {}).items() if c not in known}
        if new:
            out.append(ProfileSchemaChange("new_category", f, sum(new.values()), tuple(sorted(new)[:10])))
    return tuple(out)
