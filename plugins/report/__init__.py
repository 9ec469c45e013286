"""Self-contained HTML reports: ``infersight report`` over a data directory and ``infersight drift --html``.

The report streams the agent's OTLP/JSON files (``<data_dir>/telemetry``) once,
keeps aggregates only, and draws them with plotly, whose JavaScript is embedded once
so the file opens from disk with no network. plotly is an optional extra
(``pip install 'infersight[report]'``).
"""

from __future__ import annotations

from plugins.report.build import ReportInputError, ReportStats, build_report
from plugins.report.commands import run_report_cli
from plugins.report.drift_report import build_drift_report, drift_report_html
from plugins.report.otlp import TelemetryShapeError
from plugins.report.page import INSTALL_HINT, PlotlyMissingError
from plugins.report.plugin import ReportPlugin, make_plugin

__all__ = [
    "INSTALL_HINT",
    "PlotlyMissingError",
    "ReportInputError",
    "ReportPlugin",
    "ReportStats",
    "TelemetryShapeError",
    "build_drift_report",
    "build_report",
    "drift_report_html",
    "make_plugin",
    "run_report_cli",
]
