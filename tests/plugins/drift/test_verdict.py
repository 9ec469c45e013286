"""The one verdict rule: labels that name the failed condition, noise-corrected effects, categories and flags."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from plugins.drift import DriftConfig, DriftResult, Verdict, compare, decide, format_table, noise_corrected
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.permutation import null_rms
from plugins.drift.stats import categorical_test, ks_2samp, ks_tiebreak, sorted_reference


def _result(p: float = 0.001, effect: float = 0.5, corrected: float = 0.4, threshold: float = 0.1) -> DriftResult:
    return DriftResult(model="m", feature="x", test="ks", statistic=0.3, p_value=p, corrected_p_value=math.nan,
                       effect_size=effect, effect_name="wasserstein_norm", threshold=threshold, drifted=False,
                       skipped=None, window_start=0.0, window_end=1.0, n_reference=100, n_window=100,
                       corrected_effect=corrected)


@pytest.mark.parametrize(
    ("corrected_p", "corrected_effect", "gate", "verdict", "drifted"),
    [
        (0.001, 0.4, True, Verdict.DRIFT, True),
        (0.001, 0.4, None, Verdict.DRIFT, True),  # no joint test: the feature alone
        (0.2, 0.4, True, Verdict.NOT_SIGNIFICANT, False),
        (0.001, 0.4, False, Verdict.JOINT_NOT_SIGNIFICANT, False),
        (0.001, 0.05, True, Verdict.BELOW_THRESHOLD, False),
    ],
)
def test_each_verdict_names_the_condition_that_failed(corrected_p: float, corrected_effect: float,
                                                      gate: bool | None, verdict: Verdict, drifted: bool) -> None:
    r = decide(_result(corrected=corrected_effect), corrected_p, 0.05, gate=gate)
    assert (r.verdict, r.drifted, r.level) == (verdict.value, drifted, 0.05)
    assert r.significant == (verdict in (Verdict.DRIFT, Verdict.BELOW_THRESHOLD))


def test_an_effect_not_told_apart_from_noise_is_reported_as_zero() -> None:
    kept = decide(_result(corrected=0.4), 0.001, 0.05, gate=True)
    dropped = decide(_result(corrected=0.4), 0.2, 0.05, gate=True)
    gated = decide(_result(corrected=0.4), 0.001, 0.05, gate=False)
    assert kept.corrected_effect == 0.4 and dropped.corrected_effect == 0.0 and gated.corrected_effect == 0.0
    assert dropped.effect_size == 0.5  # the raw effect is still reported


def test_the_noise_removed_is_the_effects_root_mean_square_over_the_relabelings() -> None:
    stat = np.array([[9.0, 1.0], [3.0, np.nan], [4.0, 2.0], [0.0, np.inf]])  # row 0 is the observed split
    assert null_rms(stat) == pytest.approx([math.sqrt(25 / 3), 2.0])


def test_noise_is_removed_in_quadrature_and_never_below_zero() -> None:
    assert noise_corrected(0.5, 0.3) == pytest.approx(0.4)
    assert noise_corrected(0.2, 0.3) == 0.0
    assert math.isnan(noise_corrected(0.2, math.nan))


def test_the_table_states_alpha_the_split_and_thresholds_and_labels_each_verdict() -> None:
    rng = np.random.default_rng(0)
    ref = {"a": rng.normal(size=20_000), "b": rng.normal(size=20_000)}
    cur = {"a": rng.normal(0.05, 1.0, 20_000), "b": rng.normal(size=20_000)}
    report = compare(ref, cur)
    text = format_table(report)
    assert "alpha 0.05: joint permutation test at 0.05" in text and "no split of alpha" in text
    assert "Wasserstein >= 0.1 sd" in text and "TVD >= 0.1 (share of rows)" in text and "joint >= 0.1 sd" in text
    assert "relative change of the features' sd >= 0.1" in text
    a = next(r for r in report.results if r.feature == "a")
    # a 0.05 sd shift over 20,000 rows: significant, but practically small, and the table says so
    assert a.significant and not a.drifted and a.verdict == "below_threshold"
    assert "significant, effect below 0.1" in text and "verdict: no drift" in text


def test_a_rare_flag_rising_from_1_to_30_percent_in_100_rows_is_flagged_by_fishers_test() -> None:
    rng = np.random.default_rng(1)
    ref = {"flag": rng.random(1000) < 0.01, "x": rng.normal(size=1000)}
    cur = {"flag": rng.random(100) < 0.30, "x": rng.normal(size=100)}
    cfg = DriftConfig()
    rep = evaluate(build_profile(ref, cfg), cur, cfg)
    flag = next(r for r in rep.results if r.feature == "flag")
    assert flag.test == "fisher" and flag.p_value < 1e-10 and flag.drifted
    assert flag.effect_name == "tvd" and flag.effect_size > 0.2


def test_a_two_level_table_with_small_expected_counts_is_never_pooled_into_a_constant() -> None:
    table = np.array([[990, 10], [70, 30]])
    name, outcome = categorical_test(table)
    assert name == "fisher" and outcome.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
    name, outcome = categorical_test(np.array([[990, 5, 5], [95, 3, 2]]))  # rare levels pooled, still 2 columns
    assert name == "fisher" and not math.isnan(outcome.p_value)


def test_a_new_category_at_2_percent_is_a_schema_change_with_a_count_not_a_large_effect() -> None:
    rng = np.random.default_rng(2)
    cats = np.array(["a", "b", "c"], dtype=object)
    ref = {"c": rng.choice(cats, 2000)}
    cur_values = rng.choice(cats, 1000)
    cur_values[:20] = "new"
    cfg = DriftConfig()
    rep = evaluate(build_profile(ref, cfg), {"c": cur_values}, cfg)
    change = next(ch for ch in rep.schema if ch.kind == "new_category")
    assert (change.feature, change.count, change.examples) == ("c", 20, ("new",))
    c = next(r for r in rep.results if r.feature == "c")
    assert c.effect_size == pytest.approx(c.effects["tvd"]) and c.effects["new_share"] == pytest.approx(0.02)
    assert c.effect_size < 0.05 and not c.drifted


def test_a_vanished_category_is_reported_with_the_rows_it_would_have_held() -> None:
    rng = np.random.default_rng(3)
    ref = {"c": rng.choice(np.array(["a", "b", "gone"], dtype=object), 3000, p=[0.45, 0.45, 0.1])}
    cur = {"c": rng.choice(np.array(["a", "b"], dtype=object), 500)}
    cfg = DriftConfig()
    rep = evaluate(build_profile(ref, cfg), cur, cfg)
    change = next(ch for ch in rep.schema if ch.kind == "vanished_category")
    assert change.examples == ("gone",) and 40 <= change.count <= 60


def test_integer_codes_with_few_values_are_discrete_and_tested_with_ties_broken_at_random() -> None:
    rng = np.random.default_rng(4)
    ref = {"k": rng.integers(0, 5, 500), "x": rng.normal(size=500)}
    cfg = DriftConfig()
    profile = build_profile(ref, cfg)
    assert profile.numeric["k"].discrete and not profile.numeric["x"].discrete
    forced = build_profile(ref, replace(cfg, discrete_features=frozenset({"x"})))
    assert forced.numeric["x"].discrete
    rep = evaluate(profile, {"k": rng.integers(0, 5, 300), "x": rng.normal(size=300)}, cfg)
    k = next(r for r in rep.results if r.feature == "k")
    assert k.test == "ks_tiebreak" and k.effect_name == "tvd"


def test_tie_broken_ks_is_exact_on_discrete_data_where_tied_ks_is_conservative() -> None:
    rng = np.random.default_rng(5)
    rejected, tied, trials = 0, 0, 400
    for _ in range(trials):
        a, b = rng.integers(0, 4, 80).astype(float), rng.integers(0, 4, 60).astype(float)
        ref = sorted_reference(a)
        p_tb = ks_tiebreak(ref, b, rng).p_value
        p_tied = ks_2samp(ref, b).p_value
        rejected += p_tb < 0.05
        tied += p_tied < 0.05
    assert 0.02 <= rejected / trials <= 0.08  # exact size
    assert tied / trials < rejected / trials  # KS on tied data is conservative
