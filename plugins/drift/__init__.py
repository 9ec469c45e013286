"""Drift detection: two-sample tests, a joint permutation test, noise-corrected effects, live windows, offline reports.

Pure scoring lives in ``stats``, ``effects``, ``correction``, ``permutation``, ``multivariate``,
``joint``, ``reduction``, ``summary``, ``values``, ``verdict`` and ``detector``; the stateful
live-window plugin in ``plugin``; the offline comparison behind ``infersight drift`` in
``offline`` and ``commands``; every emitted name in ``names``; the ``[drift]`` table in ``config``.
"""

from __future__ import annotations

from plugins.drift.config import DriftConfig, Multivariate, parse_config
from plugins.drift.correction import Correction, correct
from plugins.drift.detector import SchemaChange
from plugins.drift.effects import category_effects, js_distance, psi, tvd
from plugins.drift.joint import JointOutcome, JointProfile, fit_joint, run_joint
from plugins.drift.multivariate import median_bandwidth, mmd_test
from plugins.drift.offline import OfflineReport, compare, format_table, report_to_json, rule_text
from plugins.drift.plugin import DriftPlugin, make_plugin
from plugins.drift.results import MULTIVARIATE, DriftResult, TestOutcome
from plugins.drift.stats import categorical_test, chi2_test, fisher_test, ks_tiebreak, needs_fisher, pool_rare
from plugins.drift.summary import FeatureSummary
from plugins.drift.verdict import NOISE_QUANTILE, Verdict, decide, label, noise_corrected

__all__ = [
    "MULTIVARIATE",
    "NOISE_QUANTILE",
    "Correction",
    "DriftConfig",
    "DriftPlugin",
    "DriftResult",
    "FeatureSummary",
    "JointOutcome",
    "JointProfile",
    "Multivariate",
    "OfflineReport",
    "SchemaChange",
    "TestOutcome",
    "Verdict",
    "categorical_test",
    "category_effects",
    "chi2_test",
    "compare",
    "correct",
    "decide",
    "fisher_test",
    "fit_joint",
    "format_table",
    "js_distance",
    "ks_tiebreak",
    "label",
    "make_plugin",
    "median_bandwidth",
    "mmd_test",
    "needs_fisher",
    "noise_corrected",
    "parse_config",
    "pool_rare",
    "psi",
    "report_to_json",
    "rule_text",
    "run_joint",
    "tvd",
]
