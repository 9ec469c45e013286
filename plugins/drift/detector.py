"""Reference profiles and window evaluation: the pure core shared by the live plugin and the offline CLI.

``build_profile`` summarises a reference once (sorted values, quantile bins, category
counts, encoder, projection, kernel bandwidth); ``evaluate`` tests one window against
it and returns ``DriftResult``s, summaries and schema changes. No state, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from agent.plugin import FeatureType, infer_feature_types
from plugins.drift import effects, names
from plugins.drift.config import DriftConfig, Multivariate
from plugins.drift.correction import correct
from plugins.drift.multivariate import (
    LSDDReference,
    fit_lsdd,
    lsdd_test,
    median_bandwidth,
    mmd_linear_test,
    mmd_test,
)
from plugins.drift.reduction import Encoder, Projection, fit_encoder, fit_projection
from plugins.drift.results import MULTIVARIATE, DriftResult, TestOutcome
from plugins.drift.stats import (
    SortedReference,
    chi2_test,
    contingency_counts,
    cvm_2samp,
    fisher_test,
    ks_many,
    needs_fisher,
    pool_rare,
    sorted_reference,
)
from plugins.drift.summary import FeatureSummary, summarize_counts, summarize_numeric
from plugins.drift.values import categorical_values, is_vector, tally, to_float


@dataclass(frozen=True, slots=True)
class NumericProfile:
    """What a numeric feature's tests need from the reference."""

    sorted: SortedReference
    std: float
    edges: np.ndarray
    proportions: np.ndarray


@dataclass(frozen=True, slots=True)
class CategoricalProfile:
    """Reference category counts (most frequent first), for contingency tables and unseen values."""

    counts: Mapping[Hashable, int]

    @property
    def categories(self) -> frozenset[Hashable]:
        """The distinct non-missing reference values."""
        return frozenset(self.counts)


@dataclass(frozen=True, slots=True)
class JointProfile:
    """Encoder, projection and kernel state for the multivariate test."""

    encoder: Encoder
    projection: Projection
    reference: np.ndarray  # projected (sub)sample used by MMD
    sigma: float
    lsdd: LSDDReference | None


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """A reference summarised once for all window tests."""

    n_rows: int
    types: Mapping[str, FeatureType]
    numeric: Mapping[str, NumericProfile]
    categorical: Mapping[str, CategoricalProfile]
    summaries: Mapping[str, FeatureSummary]
    joint: JointProfile | None
    invalid: Mapping[str, int] = field(default_factory=dict)  # non-numeric values seen in numeric columns
    vectors: tuple[str, ...] = ()  # list/array-valued features: known, never tested one by one

    @property
    def features(self) -> frozenset[str]:
        """Every feature of the reference, tested or not (for schema changes)."""
        return frozenset(self.types) | frozenset(self.vectors)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """A feature added/missing or values never seen in the reference (its own signal, not a p-value)."""

    kind: str  # feature_added | feature_missing | new_category
    feature: str
    count: int = 0
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Everything one window produced."""

    results: tuple[DriftResult, ...]
    summaries: Mapping[str, FeatureSummary]
    schema: tuple[SchemaChange, ...]
    # (feature, reason, count): values a test could not use as they were (names.BAD_* reasons)
    issues: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True, slots=True)
class _Clean:
    """Scalar columns converted once: numerics as float64, categories as hashable scalars."""

    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    issues: list[tuple[str, str, int]]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Every column, converted."""
        return {**self.numeric, **self.categorical}


def _clean(columns: Mapping[str, np.ndarray], types: Mapping[str, FeatureType]) -> _Clean:
    """Convert each column by its type; values a test cannot use are counted, never raised."""
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    issues: list[tuple[str, str, int]] = []
    for name, raw in columns.items():
        col = raw if isinstance(raw, np.ndarray) else np.asarray(raw)
        if types.get(name) is FeatureType.NUMERIC:
            values, non_numeric, unconvertible = to_float(col)
            if non_numeric:
                issues.append((name, names.BAD_NON_NUMERIC, non_numeric))
            if unconvertible:
                issues.append((name, names.BAD_UNCONVERTIBLE, unconvertible))
            numeric[name] = values
        else:
            cats, unhashable = categorical_values(col)
            if unhashable:
                issues.append((name, names.BAD_UNHASHABLE, unhashable))
            categorical[name] = cats
    return _Clean(numeric, categorical, issues)


def build_profile(
    columns: Mapping[str, np.ndarray], config: DriftConfig, *, joint: bool = True
) -> ReferenceProfile:
    """Summarise reference columns: types, sorted values, bins, categories, summaries, joint state.

    List/array-valued features are recorded as vectors and left out of every test.
    """
    cols = {k: (v if isinstance(v, np.ndarray) else np.asarray(v)) for k, v in columns.items()}
    vectors = frozenset(k for k, v in cols.items() if is_vector(v))
    scalar = {k: v for k, v in cols.items() if k not in vectors}
    n_rows = max((len(c) for c in cols.values()), default=0)
    types = _feature_types(scalar, config.feature_types)
    clean = _clean(scalar, types)
    numeric: dict[str, NumericProfile] = {}
    categorical: dict[str, CategoricalProfile] = {}
    summaries: dict[str, FeatureSummary] = {}
    invalid = {f: n for f, reason, n in clean.issues if reason == names.BAD_NON_NUMERIC}
    for name, values in clean.numeric.items():
        ref = sorted_reference(values)
        std = float(ref.values.std()) if ref.n else 0.0
        edges = effects.quantile_edges(ref, config.bins)
        numeric[name] = NumericProfile(ref, std, edges, effects.binned_proportions(ref.values, edges))
        summaries[name] = summarize_numeric(name, values)
    for name, values in clean.categorical.items():
        counts = tally(values)
        categorical[name] = CategoricalProfile(counts)
        summaries[name] = summarize_counts(name, len(values), counts)
    run_joint = joint and config.multivariate is not Multivariate.OFF
    jp = _joint_profile(clean.columns, types, n_rows, config) if run_joint else None
    return ReferenceProfile(n_rows, types, numeric, categorical, summaries, jp, invalid, tuple(sorted(vectors)))


_TEXT = frozenset({str, type(None)})


def _feature_types(columns: Mapping[str, np.ndarray],
                   overrides: Mapping[str, FeatureType]) -> dict[str, FeatureType]:
    """``infer_feature_types`` for these columns only; text columns (the common object case) at C speed."""
    text = {k for k, v in columns.items() if k not in overrides and v.dtype.kind == "O"
            and len(v) and set(map(type, v.tolist())) <= _TEXT and any(x is not None for x in v.tolist())}
    inferred = infer_feature_types({k: v for k, v in columns.items() if k not in text}, overrides)
    return {k: FeatureType.CATEGORICAL if k in text else inferred[k] for k in columns}


def _joint_profile(columns: Mapping[str, np.ndarray], types: Mapping[str, FeatureType], n_rows: int,
                   config: DriftConfig) -> JointProfile | None:
    if n_rows < 4 or not columns:
        return None
    encoder = fit_encoder(columns, types)
    X = encoder.transform(columns, n_rows)
    rng = np.random.default_rng(config.seed)
    # The projection is fitted on one half of the reference and the tests use the other half:
    # PCA picks the directions where *its* sample varies most, so testing that same sample
    # against a window would make the reference look wider than any null window (a false alarm
    # rate of ~20% with one-hot columns in our calibration study).
    order = rng.permutation(n_rows)
    fit_rows, test_rows = (order[: n_rows // 2], order[n_rows // 2 :]) if n_rows >= 8 else (order, order)
    projection = fit_projection(X[fit_rows], config.reduction, config.n_components, config.seed)
    Z = projection.transform(X[test_rows])
    if Z.shape[0] > config.mmd_reference_rows:
        Z = Z[rng.choice(Z.shape[0], config.mmd_reference_rows, replace=False)]
    sigma = config.bandwidth if config.bandwidth is not None else median_bandwidth(Z, seed=config.seed)
    lsdd = fit_lsdd(Z, sigma=None, seed=config.seed) if config.multivariate is Multivariate.LSDD else None
    return JointProfile(encoder, projection, Z, sigma, lsdd)


def evaluate(
    profile: ReferenceProfile,
    window: Mapping[str, np.ndarray],
    config: DriftConfig,
    *,
    model: str = "",
    window_start: float = math.nan,
    window_end: float = math.nan,
    features: tuple[str, ...] | None = None,
    joint_name: str = MULTIVARIATE,
) -> WindowReport:
    """Test one window against the reference: per-feature tests with correction, then the joint test.

    Vector (list/array-valued) features give a result skipped as ``vector_feature``; values a
    test cannot use are counted in ``issues`` and tested as missing, never raised.
    """
    n_window = max((len(c) for c in window.values()), default=0)
    selected = [f for f in (features or tuple(profile.types)) if f in profile.types]
    clean = _clean({f: window[f] for f in profile.types if f in window}, profile.types)
    schema = _schema_changes(profile, window, clean)
    pending: list[DriftResult] = []
    summaries: dict[str, FeatureSummary] = {}
    issues: list[tuple[str, str, int]] = list(clean.issues)
    base = dict(model=model, window_start=window_start, window_end=window_end, n_window=n_window)

    numeric_names = [f for f in selected if f in profile.numeric and f in clean.numeric]
    numeric_values: dict[str, np.ndarray] = {}
    for f in numeric_names:
        values = clean.numeric[f]
        n_inf = int(np.count_nonzero(np.isinf(values)))
        if n_inf:
            issues.append((f, names.BAD_NON_FINITE, n_inf))
        finite_ = values[np.isfinite(values)]
        if finite_.size > 1 and finite_.min() == finite_.max():
            issues.append((f, names.BAD_CONSTANT_WINDOW, int(finite_.size)))
        numeric_values[f] = values
        summaries[f] = summarize_numeric(f, values)
    ks_out: dict[str, TestOutcome] = {}
    if config.numeric_test == "ks" and numeric_names:
        runnable = [f for f in numeric_names if _numeric_skip(numeric_values[f], profile, f, config) is None]
        if runnable:
            mat = np.column_stack([numeric_values[f] for f in runnable])
            outcomes = ks_many([profile.numeric[f].sorted for f in runnable], mat)
            ks_out = dict(zip(runnable, outcomes, strict=True))
    for f in numeric_names:
        prof = profile.numeric[f]
        values = numeric_values[f]
        reason = _numeric_skip(values, profile, f, config)
        finite = values[np.isfinite(values)]
        effects_: dict[str, float] = {}
        if finite.size:
            p_win = effects.binned_proportions(finite, prof.edges)
            effects_ = {
                "wasserstein_norm": effects.normalised_wasserstein(prof.sorted, finite, prof.std),
                "psi": effects.psi(prof.proportions, p_win),
                "js": effects.js_distance(prof.proportions, p_win),
            }
        if reason is None:
            outcome = ks_out[f] if config.numeric_test == "ks" else cvm_2samp(prof.sorted, finite)
        else:
            outcome = TestOutcome(math.nan, math.nan)
        pending.append(_result(
            feature=f, test=config.numeric_test, outcome=outcome, effects_=effects_,
            effect_name="wasserstein_norm", threshold=config.threshold_numeric, reason=reason,
            n_ref=prof.sorted.n, base=base,
        ))

    for f in selected:
        if f not in profile.categorical or f not in clean.categorical:
            continue
        ref_counts = profile.categorical[f].counts
        win_counts = tally(clean.categorical[f])
        summaries[f] = summarize_counts(f, len(clean.categorical[f]), win_counts)
        cats, table = contingency_counts(ref_counts, win_counts)
        n_ref = int(table[0].sum())
        reason = None
        if table[1].sum() < config.min_window:
            reason = names.SKIP_WINDOW_TOO_SMALL
        p_ref, p_win = effects.category_proportions(cats, table)
        effects_c = {"psi": effects.psi(p_ref, p_win), "js": effects.js_distance(p_ref, p_win)}
        test_name = "chi2"
        outcome = TestOutcome(math.nan, math.nan)
        if reason is None:
            pooled = pool_rare(table)
            if pooled.shape[1] < 2:
                reason = names.SKIP_CONSTANT
            elif pooled.shape == (2, 2) and needs_fisher(pooled):
                test_name, outcome = "fisher", fisher_test(pooled)
            else:
                outcome = chi2_test(pooled)
        pending.append(_result(
            feature=f, test=test_name, outcome=outcome, effects_=effects_c, effect_name="psi",
            threshold=config.threshold_categorical, reason=reason, n_ref=n_ref, base=base,
        ))

    corrected = correct([r.p_value for r in pending], config.correction)
    joint = profile.joint is not None and config.multivariate is not Multivariate.OFF
    # The overall verdict "something drifted" unions the per-feature family and the joint test;
    # splitting α evenly between them (Bonferroni) keeps that verdict's false-alarm rate <= α.
    # ``significant`` still reports each test at the full α.
    drift_alpha = config.alpha / 2 if joint and pending else config.alpha
    results = [_decide(r, cp, config.alpha, drift_alpha) for r, cp in zip(pending, corrected, strict=True)]
    if features is None:
        results.extend(_vector_result(f, base) for f in profile.vectors if f in window)
    if joint:
        results.append(_joint(profile, clean.columns, config, n_window=n_window, base=base, name=joint_name,
                              drift_alpha=drift_alpha))
    return WindowReport(tuple(results), summaries, schema, tuple(issues))


def _vector_result(feature: str, base: Mapping[str, object]) -> DriftResult:
    return DriftResult(
        feature=feature, test="none", statistic=math.nan, p_value=math.nan, corrected_p_value=math.nan,
        effect_size=math.nan, effect_name="none", threshold=math.nan, drifted=False, skipped=names.SKIP_VECTOR,
        n_reference=0, **base,  # type: ignore[arg-type]
    )


def _numeric_skip(values: np.ndarray, profile: ReferenceProfile, f: str, config: DriftConfig) -> str | None:
    finite = values[np.isfinite(values)]
    if finite.size < config.min_window:
        return names.SKIP_WINDOW_TOO_SMALL if np.isfinite(values).all() else names.SKIP_TOO_FEW_FINITE
    if profile.numeric[f].sorted.n < 2:
        return names.SKIP_REFERENCE_TOO_SMALL
    if finite.min() == finite.max() and profile.numeric[f].std == 0:
        return names.SKIP_CONSTANT
    return None


def _result(*, feature: str, test: str, outcome: TestOutcome, effects_: dict[str, float], effect_name: str,
            threshold: float, reason: str | None, n_ref: int, base: Mapping[str, object]) -> DriftResult:
    effect = effects_.get(effect_name, math.nan)
    return DriftResult(
        feature=feature, test=test, statistic=outcome.statistic, p_value=outcome.p_value,
        corrected_p_value=math.nan, effect_size=effect, effect_name=effect_name, threshold=threshold,
        drifted=False, skipped=reason, n_reference=n_ref, effects=effects_, **base,  # type: ignore[arg-type]
    )


def _decide(r: DriftResult, corrected_p: float, alpha: float, drift_alpha: float) -> DriftResult:
    if r.skipped is not None or math.isnan(r.p_value):
        return replace(r, skipped=r.skipped or names.SKIP_TEST_FAILED)
    significant = corrected_p < alpha
    drifted = corrected_p < drift_alpha and not math.isnan(r.effect_size) and r.effect_size >= r.threshold
    return replace(r, corrected_p_value=corrected_p, significant=significant, drifted=drifted)


def _joint(profile: ReferenceProfile, window: Mapping[str, np.ndarray], config: DriftConfig, *,
           n_window: int, base: Mapping[str, object], name: str, drift_alpha: float) -> DriftResult:
    jp = profile.joint
    assert jp is not None
    test = config.multivariate.value
    if test == "mmd" and n_window > config.linear_mmd_above:
        test = "mmd_linear"
    reason: str | None = None
    outcome = TestOutcome(math.nan, math.nan)
    if n_window < config.min_window:
        reason = names.SKIP_WINDOW_TOO_SMALL
    else:
        Z = jp.projection.transform(jp.encoder.transform(window, n_window))
        if not np.isfinite(Z).all():
            reason = names.SKIP_NON_FINITE
        elif test == "lsdd" and jp.lsdd is not None:
            outcome = lsdd_test(jp.lsdd, Z, config.permutations, config.seed)
        elif test == "mmd_linear":
            outcome = mmd_linear_test(jp.reference, Z, jp.sigma, config.seed)
        else:
            outcome = mmd_test(jp.reference, Z, jp.sigma, config.permutations, config.seed)
    r = DriftResult(
        model=str(base["model"]), feature=name, test=test,
        statistic=outcome.statistic, p_value=outcome.p_value,
        corrected_p_value=outcome.p_value, effect_size=outcome.statistic,
        effect_name="mmd2" if test.startswith("mmd") else "lsdd", threshold=config.threshold_multivariate,
        drifted=False, skipped=reason, window_start=float(base["window_start"]),  # type: ignore[arg-type]
        window_end=float(base["window_end"]), n_reference=int(jp.reference.shape[0]),  # type: ignore[arg-type]
        n_window=n_window,
    )
    return _decide(r, outcome.p_value, config.alpha, drift_alpha)


def _schema_changes(profile: ReferenceProfile, window: Mapping[str, np.ndarray],
                    clean: _Clean) -> tuple[SchemaChange, ...]:
    out: list[SchemaChange] = []
    known = profile.features
    for f in window:
        if f not in known:
            out.append(SchemaChange("feature_added", f))
    for f in sorted(known):
        if f not in window:
            out.append(SchemaChange("feature_missing", f))
    for f, prof in profile.categorical.items():
        if f not in clean.categorical:
            continue
        new: dict[str, int] = {}
        cats = prof.counts
        for v, n in tally(clean.categorical[f]).items():
            if v not in cats:
                key = str(v)
                new[key] = new.get(key, 0) + n
        if new:
            out.append(SchemaChange("new_category", f, sum(new.values()), tuple(sorted(new)[:10])))
    return tuple(out)
