"""One verdict rule for every drift test: significant at the level used AND a noise-corrected effect large enough.

Significance. The window's joint test (``plugins.drift.joint``) is one permutation test over
every feature at once; it is calibrated at α exactly. A feature is significant when its own
corrected p-value (Bonferroni or Benjamini–Hochberg over the features) is below α *and* the
joint test rejected: the joint test is a gatekeeper, so "any result drifted" stays at level α
without splitting α between the joint test and the features (when no joint test runs, the
features alone are tested at α).

Practical size. Every effect is reported raw (``effect_size``) and corrected for the window
size: ``corrected_effect = sqrt(max(effect² - null_effect², 0))`` where ``null_effect`` is the
effect's root mean square with no drift at the same sizes, read off the window's own
relabelings (``sqrt(E₀[effect²])``: the effect's expected value under the null). Sampling
noise adds to a squared distance (exactly for the joint test's unbiased MMD², to first order
for Wasserstein-1 and TVD), so this removes the bias without shrinking a real effect: with a
0.2σ shift in 2 of 10 features at n = 500, the corrected joint effect averages 0.24σ (the
one-feature equivalent of the shift is 0.28σ), where subtracting the null's 95th percentile,
as the previous rule did, left 0.15σ and dropped a fifth of the detections. An effect the
result's own test does not separate from noise (not significant) is reported as 0, so with
no drift the corrected effect is above 0 in at most α of windows at any n. That condition,
not the correction, is what holds it there at small n: a 50-row window against 500 reference
rows with no drift has a Wasserstein/σ of at least 0.1 in 98% of windows raw, 24% after the
bias correction alone, 1% as reported (joint effect: 87%, 28%, 4%). With 50,000 rows
``null_effect`` is about 0.01σ and the threshold applies almost as written. Thresholds are in units a person reads:

- numeric: Wasserstein-1 distance in reference standard deviations ("the mass moved by
  0.1σ on average");
- categorical, boolean and discrete (few integer values): total variation distance, the
  share of rows that would have to change value (0.1 = 10% of rows);
- joint: the larger of two effects, each corrected by its own null: location, the
  one-feature mean shift in σ that gives the same MMD (or the largest mean shift of one
  feature: "as large as a 0.1σ shift of one feature"), and spread, the relative change of
  the numeric features' standard deviation ("10% more or less spread").
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import Enum

from plugins.drift import names
from plugins.drift.results import DriftResult

NOISE_QUANTILE = 0.95
"""A null quantile for statistics reported next to their observed value (e.g. the joint MMD²'s 95th percentile).

The verdict rule itself removes the null's root mean square (``permutation.null_rms``), not this quantile.
"""


class Verdict(Enum):
    """Why a result is, or is not, drift."""

    DRIFT = "drift"
    NOT_SIGNIFICANT = "not_significant"  # corrected p-value not below the level used
    JOINT_NOT_SIGNIFICANT = "joint_not_significant"  # significant alone, but the window's joint test did not reject
    BELOW_THRESHOLD = "below_threshold"  # significant, but the corrected effect is below the threshold
    SKIPPED = "skipped"


def noise_corrected(effect: float, null_effect: float) -> float:
    """``sqrt(max(effect² - null_effect², 0))``: the effect with the noise's share removed; nan when either is nan."""
    if math.isnan(effect) or math.isnan(null_effect):
        return math.nan
    if math.isinf(effect):
        return effect if not math.isinf(null_effect) else math.nan
    return math.sqrt(max(effect * effect - null_effect * null_effect, 0.0))


def decide(result: DriftResult, corrected_p: float, alpha: float, *, gate: bool | None = None) -> DriftResult:
    """Apply the verdict rule to one result.

    ``gate`` is the joint test's decision for the window (None when no joint test ran).
    ``result.corrected_effect`` and ``result.threshold`` must already be set; the result
    returned reports a corrected effect of 0 when it is not significant (not told apart from noise).
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
    corrected = result.corrected_effect if significant or math.isnan(result.corrected_effect) else 0.0
    return replace(result, corrected_p_value=corrected_p, significant=significant, drifted=significant and large,
                   level=alpha, verdict=verdict.value, corrected_effect=corrected)


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
