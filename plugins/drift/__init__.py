"""Drift detection: two-sample tests, effect sizes, multivariate MMD/LSDD, live windows and offline reports.

Pure scoring lives in ``stats``, ``effects``, ``correction``, ``multivariate``,
``reduction``, ``summary``, ``values`` and ``detector``; the stateful live-window plugin
in ``plugin``; the offline comparison behind ``infersight drift`` in ``offline`` and
``commands``; every emitted name in ``names``; the ``[drift]`` table in ``config``.
"""

from __future__ import annotations

from plugins.drift.config import DriftConfig, parse_config
from plugins.drift.offline import OfflineReport, compare, format_table, report_to_json
from plugins.drift.plugin import DriftPlugin, make_plugin
from plugins.drift.results import MULTIVARIATE, DriftResult

__all__ = [
    "MULTIVARIATE",
    "DriftConfig",
    "DriftPlugin",
    "DriftResult",
    "OfflineReport",
    "compare",
    "format_table",
    "make_plugin",
    "parse_config",
    "report_to_json",
]
