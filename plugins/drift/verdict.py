"""One verdict rule for every drift test: significant at the level used AND a noise-corrected effect large enough.

Significance. The window's joint test (``plugins.drift.joint``) is one permutation test over
every feature at once; it is calibrated at α exactly. A feature is significant when its own
corrected p-value (Bonferroni or Benjamini–Hochberg over the features) is below α *and* the
joint test rejected: the joint test is a gatekeeper, so "any result drifted" stays at level α
without splitting α between the joint test and the features (when no joint test runs, the
features alone are tested at α).

Practical size. Every effect is reported raw (``effect_size``) and corrected for the window
size: ``corrected_effect = sqrt(max(effect² - null_effect², 0))`` where ``null_effect`` is
the value the effect reaches, with no drift at all, in 95% of windows of the same sizes
(read off the window's own permutations). Sampling noise adds to a distance roughly in
quadrature (exactly so for the joint test's MMD², an unbiased squared distance), so this
removes the noise without shrinking a large effect much; and since the corrected effect is 0
whenever the effect is below its null 95th percentile, with no drift it exceeds any
threshold in at most 5% of windows, whatever n. With 50,000 rows ``null_effect`` is tiny and
the threshold applies almost as written. Thresholds are in units a person reads:

- numeric: Wasserstein-1 distance in reference standard deviations ("the mass moved by
  0.1σ on average");
- categorical, boolean and discrete (few integer values): total variation distance, the
  share of rows that would have to change value (0.1 = 10% of rows);
- joint: the one-feature mean shift, in σ, that gives the same MMD ("as large as a 0.1σ
  shift of one feature").
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import Enum

from plugins.drift import names
from plugins.drift.results import DriftResult

NOISE_QUANTILE = 0.95
"""The null quantile subtracted from an effect: with no drift, corrected effects are 0 in 95% of windows."""


class Verdict(Enum):
    """Why a result is, or is not, drift."""

    DRIFT = "drift"
    NOT_SIGNIFICANT = "not_significant"  # corrected p-value not below the level used
    JOINT_NOT_SIGNIFICANT = "joint_not_significant"  # significant alone, but the window's joint test did not reject
    BELOW_THRESHOLD = "below_threshold"  # significant, but the corrected effect is below the threshold
    SKIPPED = "skipped"


def noise_corrected(effect: float, null_effect: float) -> float:
    """``sqrt(max(effect² - null_effect², 0))``; nan when either is nan (no null: the raw effect is not used)."""
    if math.isnan(effect) or math.isnan(null_effect):
        return math.nan
    if math.isinf(effect):
        return effect if not math.isinf(null_effect) else math.nan
    return math.sqrt(max(effect * effect - null_effect * null_effect, 0.0))


def decide(result: DriftResult, corrected_p: float, alpha: float, *, gate: bool | None = None) -> DriftResult:
    """Apply the verdict rule to one result.

    ``gate`` is the joint test's decision for the window (None when no joint test ran).
    ``result.corrected_effect`` and ``result.threshold`` must already be set.
    """
    if result.skipped is not None or math.isnan(result.p_value) or math.isnan(corrected_p):
        return replace(result, skipped=result.skipped or names.SKIP_TEST_FAILED, verdict=Verdict.SKIPPED.value,
                       corrected_p_value=math.nan, significant=False, drifted=False, level=alpha)
    alone = corrected_p < alpha
    significant = alone and gate is not False
    large = not math.isnan(result.corrected_effect) and result.corrected_effect >= result.threshold
    if not alone:
        verdict = Verdict.NOT_SIGNIFICANT
    elif not significant:
        verdict = Verdict.JOINT_NOT_SIGNIFICANT
    elif not large:
        verdict = Verdict.BELOW_THRESHOLD
    else:
        verdict = Verdict.DRIFT
    return replace(result, corrected_p_value=corrected_p, significant=significant, drifted=significant and large,
                   level=alpha, verdict=verdict.value)


def label(result: DriftResult) -> str:
    """A short table label: DRIFT, or the condition that failed, in words."""
    if result.skipped is not None:
        return f"skipped: {result.skipped}"
    return {
        Verdict.DRIFT.value: "DRIFT",
        Verdict.NOT_SIGNIFICANT.value: f"ok (p not < {result.level:g})",
        Verdict.JOINT_NOT_SIGNIFICANT.value: "ok (joint test not significant)",
        Verdict.BELOW_THRESHOLD.value: f"significant, effect below {result.threshold:g}",
    }.get(result.verdict, "ok")
