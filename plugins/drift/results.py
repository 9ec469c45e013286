"""Frozen result types of the drift tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TestName = Literal["ks", "cvm", "chi2", "fisher", "mmd", "mmd_linear", "lsdd"]
EffectName = Literal["wasserstein_norm", "psi", "js", "none"]

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

    ``significant`` is ``corrected_p_value < alpha``. ``drifted`` is true only when the corrected
    p-value is below the verdict level (α, or α/2 when a joint test also runs, so that the
    union "anything drifted" stays at level α) AND ``effect_size >= threshold``.
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
