"""Drift detection: two-sample tests, a joint permutation test, noise-corrected effects, live windows, offline reports.

Pure scoring lives in ``stats``, ``effects``, ``correction``, ``permutation``, ``multivariate``,
``joint``, ``reduction``, ``summary``, ``values``, ``verdict`` and ``detector``; the stateful
live-window plugin in ``plugin``; the offline comparison behind ``infersight drift`` in
``offline`` and ``commands``; every emitted name in ``names``; the ``[drift]`` table in ``config``.
"""

from __future__ import annotations

from plugins.drift.config import DriftConfig, Multivariate, parse_config
from plugins.drift.correction import Correction, correct
from plugins.drift.offline import OfflineReport, compare, format_table, report_to_json, rule_text
from plugins.drift.plugin import DriftPlugin, make_plugin
from plugins.drift.results import MULTIVARIATE, DriftResult, TestOutcome
from plugins.drift.verdict import NOISE_QUANTILE, Verdict, decide, label, noise_corrected

__all__ = [
    "MULTIVARIATE",
    "NOISE_QUANTILE",
    "Correction",
    "DriftConfig",
    "DriftPlugin",
    "DriftResult",
    "Multivariate",
    "OfflineReport",
    "TestOutcome",
    "Verdict",
    "compare",
    "correct",
    "decide",
    "format_table",
    "label",
    "make_plugin",
    "noise_corrected",
    "parse_config",
    "report_to_json",
    "rule_text",
]
