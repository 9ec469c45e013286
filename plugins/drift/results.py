"""Frozen result types of the drift tests."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TestName = Literal["ks", "ks_tiebreak", "cvm", "chi2", "fisher", "mmd", "lsdd"]
EffectName = Literal["wasserstein_norm", "tvd", "mmd_shift", "psi", "js", "none"]

MULTIVARIATE = "multivariate"
"""The ``feature`` value of a joint (multivariate) test over all features."""


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """A test statistic and its p-value (``nan`` p-value when the test could not run)."""

    statistic: float
    p_value: float


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One test of one feature (or ``"multivariate"``) over one window against the reference.

    The verdict rule (``plugins.drift.verdict``) is one for every test, the joint one included:

    - ``significant``: the corrected p-value is below ``level`` (α) and, when a joint test ran
      over the window, that joint test rejected too (it is the gate that keeps "anything
      drifted" at level α without splitting α between the joint test and the features);
    - ``corrected_effect``: ``sqrt(max(effect² - null_effect², 0))`` where ``null_effect`` is
      the effect's root mean square from sampling noise alone at these sizes (read off the
      window's relabelings), so the same threshold means the same at n = 50 and 50,000; 0
      when the result is not significant;
    - ``drifted``: significant and ``corrected_effect >= threshold``;
    - ``verdict``: ``drift``, or the condition that failed (``not_significant``,
      ``joint_not_significant``, ``below_threshold``), or ``skipped``.

    ``skipped`` holds the reason when the test could not run (then statistic and p-values are nan).
    ``effects`` carries every effect size computed for the feature (the headline one is ``effect_size``).
    """

    model: str
    feature: str
    test: str
    statistic: float
    p_value: float
    corrected_p_value: float
    effect_size: float
    effect_name: str
    threshold: float
    drifted: bool
    skipped: str | None
    window_start: float
    window_end: float
    n_reference: int
    n_window: int
    significant: bool = False
    effects: Mapping[str, float] = field(default_factory=dict)
    corrected_effect: float = math.nan
    null_effect: float = math.nan
    level: float = math.nan
    verdict: str = ""
