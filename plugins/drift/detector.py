"""Reference profiles and window evaluation: the pure core shared by the live plugin and the offline CLI.

``build_profile`` summarises a reference once (sorted values, quantile bins, discrete levels,
category counts, the rows the window tests pool with); ``evaluate`` tests one window against
it and returns ``DriftResult``s, summaries and schema changes. No state, no I/O.

Per window: each feature's own test on the whole reference and window (KS, or KS with ties
broken at random for discrete features, or CvM; chi-square or Fisher for categories), one
joint permutation test over every feature (``plugins.drift.joint``), each effect corrected
for the window size with the null read off the same permutations, then one verdict rule
(``plugins.drift.verdict``).

A vector (list/array-valued, embedding) feature is tested on its own as one multivariate
feature (``plugins.drift.vectors``): its p-value joins the per-feature family (Bonferroni or
BH) and the verdict rule is the same, but the window's joint test is not its gate, since the
joint test never sees vector features (its own permutation test is exact at α, so the gate
is not needed for its level either).
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
from plugins.drift.joint import JointOutcome, JointProfile, fit_joint, run_joint
from plugins.drift.results import MULTIVARIATE, DriftResult, TestOutcome
from plugins.drift.stats import (
    SortedReference,
    categorical_test,
    contingency_counts,
    cvm_2samp,
    ks_many,
    ks_pvalue,
    ks_tiebreak,
    sorted_reference,
)
from plugins.drift.summary import FeatureSummary, summarize_counts, summarize_numeric
from plugins.drift.values import categorical_values, is_vector, tally, to_float
from plugins.drift.vectors import (
    VectorMatrix,
    VectorProfile,
    VectorTest,
    fit_vectors,
    run_vectors,
    vector_effects,
    vector_matrix,
)
from plugins.drift.verdict import decide, noise_corrected

VANISHED_MIN_EXPECTED = 5.0  # a reference category absent from a window is reported when >= 5 rows were expected


@dataclass(frozen=True, slots=True)
class NumericProfile:
    """What a numeric feature's tests need from the reference."""

    sorted: SortedReference
    std: float
    edges: np.ndarray
    proportions: np.ndarray
    levels: np.ndarray | None = None  # sorted distinct values of a discrete feature (None: continuous)

    @property
    def discrete(self) -> bool:
        """Integer codes with few values: tested with ties broken at random, effect as a share of rows."""
        return self.levels is not None


@dataclass(frozen=True, slots=True)
class CategoricalProfile:
    """Reference category counts (most frequent first), for contingency tables and unseen values."""

    counts: Mapping[Hashable, int]

    @property
    def categories(self) -> frozenset[Hashable]:
        """The distinct non-missing reference values."""
        return frozenset(self.counts)


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """A reference summarised once for all window tests."""

    n_rows: int
    types: Mapping[str, FeatureType]
    numeric: Mapping[str, NumericProfile]
    categorical: Mapping[str, CategoricalProfile]
    summaries: Mapping[str, FeatureSummary]
    joint: JointProfile | None  # the reference rows every window test pools with the window
    invalid: Mapping[str, int] = field(default_factory=dict)  # non-numeric values seen in numeric columns
    vectors: tuple[str, ...] = ()  # list/array-valued (embedding) features, each tested as one vector feature
    vector_profiles: Mapping[str, VectorProfile | None] = field(default_factory=dict)  # None: too few valid rows

    @property
    def features(self) -> frozenset[str]:
        """Every feature of the reference, tested or not (for schema changes)."""
        return frozenset(self.types) | frozenset(self.vectors)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """A feature added/missing, or categories new to or vanished from a window (their own signal, with a count).

    ``count``: rows with unseen values (new_category); rows the vanished categories would have
    held at their reference shares (vanished_category).
    """

    kind: str  # feature_added | feature_missing | new_category | vanished_category
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


def build_profile(columns: Mapping[str, np.ndarray], config: DriftConfig) -> ReferenceProfile:
    """Summarise reference columns: types, sorted values, bins, levels, categories, summaries, test rows.

    List/array-valued features are recorded as vectors, left out of the scalar and joint tests
    and profiled for their own test (unless ``vector_test = "off"``).
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
    levels: dict[str, np.ndarray] = {}
    for name, values in clean.numeric.items():
        ref = sorted_reference(values)
        std = float(ref.values.std()) if ref.n else 0.0
        edges = effects.quantile_edges(ref, config.bins)
        lv = _discrete_levels(ref, config.discrete_levels, force=name in config.discrete_features)
        if lv is not None:
            levels[name] = lv
        numeric[name] = NumericProfile(ref, std, edges, effects.binned_proportions(ref.values, edges), lv)
        summaries[name] = summarize_numeric(name, values)
    for name, values in clean.categorical.items():
        counts = tally(values)
        categorical[name] = CategoricalProfile(counts)
        summaries[name] = summarize_counts(name, len(values), counts)
    jp = fit_joint(clean.numeric, clean.categorical, levels, n_rows, config)
    vector_profiles: dict[str, VectorProfile | None] = {}
    if config.vector_test is not VectorTest.OFF:
        for name in sorted(vectors):
            vector_profiles[name] = fit_vectors(vector_matrix(cols[name]), config.vector_components,
                                                config.vector_reference_rows, config.seed)
    return ReferenceProfile(n_rows, types, numeric, categorical, summaries, jp, invalid, tuple(sorted(vectors)),
                            vector_profiles)


def _discrete_levels(ref: SortedReference, max_levels: int, force: bool) -> np.ndarray | None:
    """The distinct reference values when the feature is discrete: forced, or integers with few values."""
    if ref.n == 0:
        return None
    distinct = np.unique(ref.values)
    if force or (distinct.size <= max_levels and bool(np.all(distinct == np.round(distinct)))):
        return distinct
    return None


_TEXT = frozenset({str, type(None)})


def _feature_types(columns: Mapping[str, np.ndarray],
                   overrides: Mapping[str, FeatureType]) -> dict[str, FeatureType]:
    """``infer_feature_types`` for these columns only; text columns (the common object case) at C speed."""
    text = {k for k, v in columns.items() if k not in overrides and v.dtype.kind == "O"
            and len(v) and set(map(type, v.tolist())) <= _TEXT and any(x is not None for x in v.tolist())}
    inferred = infer_feature_types({k: v for k, v in columns.items() if k not in text}, overrides)
    return {k: FeatureType.CATEGORICAL if k in text else inferred[k] for k in columns}


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
    """Test one window against the reference: per-feature tests, the joint test, corrected effects, verdicts.

    Each vector (list/array-valued) feature gets its own test (``plugins.drift.vectors``; skipped
    as ``vector_feature`` when ``vector_test = "off"``), in the correction family but not gated
    by the joint test. Values a test cannot use are counted in ``issues`` and tested as missing
    (a vector of the wrong dimension, or holding NaN/inf, leaves that row out of its test),
    never raised.
    """
    n_window = max((len(c) for c in window.values()), default=0)
    selected = [f for f in (features or tuple(profile.types)) if f in profile.types]
    clean = _clean({f: window[f] for f in profile.types if f in window}, profile.types)
    schema = _schema_changes(profile, window, clean, n_window)
    summaries: dict[str, FeatureSummary] = {}
    issues: list[tuple[str, str, int]] = list(clean.issues)
    base: dict[str, object] = dict(model=model, window_start=window_start, window_end=window_end, n_window=n_window)
    rng = np.random.default_rng(config.seed)

    kernel = config.multivariate is not Multivariate.OFF
    has_features = any(f in profile.numeric or f in profile.categorical for f in selected)
    outcome: JointOutcome | None = None
    joint_skip: str | None = None
    if profile.joint is None:
        joint_skip = names.SKIP_REFERENCE_TOO_SMALL
    elif n_window < max(config.min_window, 2):
        joint_skip = names.SKIP_WINDOW_TOO_SMALL
    elif has_features or kernel:
        outcome = run_joint(profile.joint, clean.numeric, clean.categorical, n_window,
                            config if kernel else replace(config, multivariate=Multivariate.OFF), kernel=kernel)

    pending = _numeric_results(profile, clean, selected, config, base, summaries, issues, rng, outcome)
    pending += _categorical_results(profile, clean, selected, config, base, summaries)

    pending = [_with_null(r, profile, outcome) for r in pending]
    vector_pending = ([_vector_result(f, window[f], profile, config, base, issues)
                       for f in profile.vectors if f in window] if features is None else [])
    corrected = correct([r.p_value for r in [*pending, *vector_pending]], config.correction)
    gate: bool | None = None
    joint_result: DriftResult | None = None
    if kernel and (profile.joint is not None or joint_skip is not None):
        joint_result = _joint_result(outcome, joint_skip, config, base, joint_name)
        if outcome is not None and not math.isnan(outcome.p_value):
            gate = joint_result.significant
    results = [decide(r, cp, config.alpha, gate=gate) for r, cp in zip(pending, corrected[:len(pending)], strict=True)]
    # A vector feature's own test is exact at α and the joint test never saw it: no gate.
    results.extend(decide(r, cp, config.alpha) for r, cp in zip(vector_pending, corrected[len(pending):],
                                                                 strict=True))
    if joint_result is not None:
        results.append(joint_result)
    return WindowReport(tuple(results), summaries, schema, tuple(issues))


def _numeric_results(profile: ReferenceProfile, clean: _Clean, selected: list[str], config: DriftConfig,
                     base: Mapping[str, object], summaries: dict[str, FeatureSummary],
                     issues: list[tuple[str, str, int]], rng: np.random.Generator,
                     joint: JointOutcome | None) -> list[DriftResult]:
    names_ = [f for f in selected if f in profile.numeric and f in clean.numeric]
    values_: dict[str, np.ndarray] = {}
    for f in names_:
        values = clean.numeric[f]
        n_inf = int(np.count_nonzero(np.isinf(values)))
        if n_inf:
            issues.append((f, names.BAD_NON_FINITE, n_inf))
        finite_ = values[np.isfinite(values)]
        if finite_.size > 1 and finite_.min() == finite_.max():
            issues.append((f, names.BAD_CONSTANT_WINDOW, int(finite_.size)))
        values_[f] = values
        summaries[f] = summarize_numeric(f, values)
    reasons = {f: _numeric_skip(values_[f], profile.numeric[f], config) for f in names_}
    ks_out: dict[str, TestOutcome] = {}
    continuous = [f for f in names_ if reasons[f] is None and not profile.numeric[f].discrete]
    # The joint test's observed split already holds each feature's KS and Wasserstein distances
    # when it pooled the whole reference: reuse them (the same numbers, fewer passes over the data).
    seen = joint.observed_ks if joint is not None else {}
    whole = {f for f in names_ if f in seen and joint is not None
             and joint.reference_counts.get(f) == profile.numeric[f].sorted.n}
    for f in continuous:
        m = int(np.count_nonzero(np.isfinite(values_[f])))
        # exact integers when nothing is missing (the distance is then a ratio of counts, as scipy's)
        if f in whole and config.numeric_test == "ks" and m == values_[f].size and not math.isnan(seen[f]):
            ks_out[f] = TestOutcome(seen[f], ks_pvalue(profile.numeric[f].sorted.n, m, seen[f]))
    rest = [f for f in continuous if f not in ks_out]
    if config.numeric_test == "ks" and rest:
        mat = np.column_stack([values_[f] for f in rest])
        ks_out.update(zip(rest, ks_many([profile.numeric[f].sorted for f in rest], mat), strict=True))
    out: list[DriftResult] = []
    for f in names_:
        prof = profile.numeric[f]
        finite = values_[f][np.isfinite(values_[f])]
        effects_: dict[str, float] = {}
        if finite.size:
            w = joint.observed_wasserstein.get(f, math.nan) if joint is not None and f in whole else math.nan
            if math.isnan(w):
                effects_["wasserstein_norm"] = effects.normalised_wasserstein(prof.sorted, finite, prof.std)
            else:
                effects_["wasserstein_norm"] = w / prof.std if prof.std > 0 else (0.0 if w == 0 else math.inf)
            if prof.levels is not None:
                ref_counts = effects.level_counts(prof.levels, prof.sorted.values)
                win_counts = effects.level_counts(prof.levels, finite)
                p_ref, p_win = ref_counts / ref_counts.sum(), win_counts / win_counts.sum()
                effects_["tvd"] = effects.tvd(p_ref, p_win)
                effects_["js"] = effects.js_distance(p_ref, p_win)
            else:
                p_win = effects.binned_proportions(finite, prof.edges)
                effects_["psi"] = effects.psi(prof.proportions, p_win)
                effects_["js"] = effects.js_distance(prof.proportions, p_win)
        test = "ks_tiebreak" if prof.discrete and config.numeric_test == "ks" else config.numeric_test
        outcome = TestOutcome(math.nan, math.nan)
        if reasons[f] is None:
            if prof.discrete and config.numeric_test == "ks":
                outcome = ks_tiebreak(prof.sorted, finite, rng)
            elif config.numeric_test == "ks":
                outcome = ks_out[f]
            else:
                outcome = cvm_2samp(prof.sorted, finite)
        headline, threshold = (("tvd", config.threshold_categorical) if prof.discrete
                               else ("wasserstein_norm", config.threshold_numeric))
        out.append(_result(feature=f, test=test, outcome=outcome, effects_=effects_, effect_name=headline,
                           threshold=threshold, reason=reasons[f], n_ref=prof.sorted.n, base=base))
    return out


def _categorical_results(profile: ReferenceProfile, clean: _Clean, selected: list[str], config: DriftConfig,
                         base: Mapping[str, object], summaries: dict[str, FeatureSummary]) -> list[DriftResult]:
    out: list[DriftResult] = []
    for f in selected:
        if f not in profile.categorical or f not in clean.categorical:
            continue
        win_counts = tally(clean.categorical[f])
        summaries[f] = summarize_counts(f, len(clean.categorical[f]), win_counts)
        _, table = contingency_counts(profile.categorical[f].counts, win_counts)
        reason = names.SKIP_WINDOW_TOO_SMALL if table[1].sum() < config.min_window else None
        test_name, outcome = "chi2", TestOutcome(math.nan, math.nan)
        if reason is None:
            test_name, outcome = categorical_test(table)
            if math.isnan(outcome.p_value):
                reason = names.SKIP_CONSTANT
        out.append(_result(feature=f, test=test_name, outcome=outcome, effects_=effects.category_effects(table),
                           effect_name="tvd", threshold=config.threshold_categorical, reason=reason,
                           n_ref=int(table[0].sum()), base=base))
    return out


def _with_null(r: DriftResult, profile: ReferenceProfile, outcome: JointOutcome | None) -> DriftResult:
    """The result with its null effect (95th percentile with no drift, at these sizes) and corrected effect.

    The permutations pool at most ``joint_reference_rows`` reference rows; a null measured at
    those sizes is rescaled to the full reference by ``sqrt((1/n + 1/m) / (1/n_test + 1/m))``
    (both effects shrink as one over root-n).
    """
    if outcome is None or r.skipped is not None:
        return r
    null = math.nan
    if r.effect_name == "wasserstein_norm":
        prof = profile.numeric[r.feature]
        raw = outcome.wasserstein_null.get(r.feature, math.nan)
        null = raw / prof.std if prof.std > 0 else (0.0 if raw == 0 else math.inf)
    elif r.effect_name == "tvd":
        null = outcome.tvd_null.get(r.feature, math.nan)
    n_test = outcome.reference_counts.get(r.feature, 0)
    n_full, m = r.n_reference, r.n_window
    if n_test and n_full and m and not math.isnan(null) and math.isfinite(null):
        null *= math.sqrt((1 / n_full + 1 / m) / (1 / n_test + 1 / m))
    return replace(r, null_effect=null, corrected_effect=noise_corrected(r.effect_size, null))


def _joint_result(outcome: JointOutcome | None, skip: str | None, config: DriftConfig,
                  base: Mapping[str, object], name: str) -> DriftResult:
    test = "lsdd" if config.multivariate is Multivariate.LSDD else "mmd"
    if outcome is None:
        r = DriftResult(
            model=str(base["model"]), feature=name, test=test, statistic=math.nan, p_value=math.nan,
            corrected_p_value=math.nan, effect_size=math.nan, effect_name="mmd_shift",
            threshold=config.threshold_multivariate, drifted=False, skipped=skip or names.SKIP_TEST_FAILED,
            window_start=float(base["window_start"]), window_end=float(base["window_end"]),  # type: ignore[arg-type]
            n_reference=0, n_window=int(base["n_window"]),  # type: ignore[call-overload]
        )
        return decide(r, math.nan, config.alpha)
    effects_ = {"mmd2": outcome.mmd2, "mmd2_null": outcome.mmd2_null, "mmd_shift": outcome.shift,
                "spread": outcome.spread, "permutations": float(outcome.permutations),
                **{f"z[{k}]": v for k, v in outcome.components.items()}}
    r = DriftResult(
        model=str(base["model"]), feature=name, test=outcome.test, statistic=outcome.statistic,
        p_value=outcome.p_value, corrected_p_value=outcome.p_value, effect_size=outcome.shift,
        effect_name="mmd_shift", threshold=config.threshold_multivariate, drifted=False,
        skipped=None if not math.isnan(outcome.p_value) else names.SKIP_TEST_FAILED,
        window_start=float(base["window_start"]), window_end=float(base["window_end"]),  # type: ignore[arg-type]
        n_reference=outcome.n_reference, n_window=outcome.n_window, effects=effects_,
        corrected_effect=outcome.shift_corrected, null_effect=outcome.shift_null,
    )
    return decide(r, outcome.p_value, config.alpha)


_VECTOR_TEST_NAMES = {VectorTest.BOTH: names.TEST_VECTOR, VectorTest.MMD: names.TEST_VECTOR_MMD,
                      VectorTest.CLASSIFIER: names.TEST_VECTOR_CLASSIFIER, VectorTest.OFF: "none"}


def _vector_result(feature: str, column: np.ndarray, profile: ReferenceProfile, config: DriftConfig,
                   base: Mapping[str, object], issues: list[tuple[str, str, int]]) -> DriftResult:
    """One vector feature's test (not yet corrected or decided); rows it cannot use are counted in ``issues``."""
    test = _VECTOR_TEST_NAMES[config.vector_test]
    vp = profile.vector_profiles.get(feature)
    skip: str | None = None
    vm: VectorMatrix | None = None
    if config.vector_test is VectorTest.OFF or feature not in profile.vector_profiles:
        skip = names.SKIP_VECTOR
    elif vp is None:
        skip = names.SKIP_REFERENCE_TOO_SMALL
    else:
        vm = vector_matrix(column if isinstance(column, np.ndarray) else np.asarray(column), vp.dim)
        issues.extend((feature, reason, count) for reason, count in vm.issues.items() if count)
        if vm.matrix.shape[0] < max(config.min_window, 2):
            skip = names.SKIP_WINDOW_TOO_SMALL if not vm.issues else names.SKIP_TOO_FEW_FINITE
    if skip is not None or vp is None or vm is None:
        return DriftResult(
            feature=feature, test=test, statistic=math.nan, p_value=math.nan, corrected_p_value=math.nan,
            effect_size=math.nan, effect_name=names.EFFECT_AUC_ABOVE_CHANCE, threshold=config.threshold_vector,
            drifted=False, skipped=skip, n_reference=vp.n_rows if vp is not None else 0, **base,  # type: ignore[arg-type]
        )
    out = run_vectors(vp, vm.matrix, permutations=config.permutations, seed=config.seed, test=config.vector_test)
    return DriftResult(
        feature=feature, test=test, statistic=out.statistic, p_value=out.p_value, corrected_p_value=math.nan,
        effect_size=out.auc_effect, effect_name=names.EFFECT_AUC_ABOVE_CHANCE, threshold=config.threshold_vector,
        drifted=False, skipped=None if not math.isnan(out.p_value) else names.SKIP_TEST_FAILED,
        n_reference=out.n_reference, effects=vector_effects(out), null_effect=out.auc_null,
        corrected_effect=noise_corrected(out.auc_effect, out.auc_null),
        **{**base, "n_window": out.n_window},  # type: ignore[arg-type]
    )


def _numeric_skip(values: np.ndarray, prof: NumericProfile, config: DriftConfig) -> str | None:
    finite = values[np.isfinite(values)]
    if finite.size < config.min_window:
        return names.SKIP_WINDOW_TOO_SMALL if np.isfinite(values).all() else names.SKIP_TOO_FEW_FINITE
    if prof.sorted.n < 2:
        return names.SKIP_REFERENCE_TOO_SMALL
    if finite.min() == finite.max() and prof.std == 0 and finite[0] == prof.sorted.values[0]:
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


def _schema_changes(profile: ReferenceProfile, window: Mapping[str, np.ndarray], clean: _Clean,
                    n_window: int) -> tuple[SchemaChange, ...]:
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
        counts = tally(clean.categorical[f])
        for v, n in counts.items():
            if v not in cats:
                key = str(v)
                new[key] = new.get(key, 0) + n
        if new:
            out.append(SchemaChange("new_category", f, sum(new.values()), tuple(sorted(new)[:10])))
        present = sum(counts.values())
        total = sum(cats.values())
        if present and total:
            gone = {str(c): n * present / total for c, n in cats.items()
                    if c not in counts and n * present / total >= VANISHED_MIN_EXPECTED}
            if gone:
                out.append(SchemaChange("vanished_category", f, round(sum(gone.values())),
                                        tuple(sorted(gone, key=lambda c: -gone[c])[:10])))
    return tuple(out)
