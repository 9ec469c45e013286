"""Performance before the labels arrive: CBPE and BBSE for classifiers, DLE for regressors, retraining from evidence.

Pure estimators live in ``isotonic``, ``metrics``, ``cbpe``, ``bbse`` and ``dle``; fitting
them on a model's reference columns in ``reference``; a window's estimates and their later
check against labels in ``estimate``; windows and the label join in ``windows``; the decay
history and retraining recommendation in ``retrain``; the live plugin in ``plugin`` (what
it publishes in ``emit``); ``infersight retrain`` in ``commands``; ``record_training`` in
``inbox``; the report's data in ``report``; every emitted name in ``names``; the
``[performance]`` table in ``config``.
"""

from __future__ import annotations

from agent.plugin import TrainingRecord
from plugins.performance.bbse import BBSEReference, BBSEResult, estimate_bbse, fit_bbse
from plugins.performance.cbpe import CBPEReference, estimate_cbpe, fit_cbpe, realized_classification
from plugins.performance.config import PerformanceConfig, parse_config
from plugins.performance.dle import DLEReference, estimate_dle, fit_dle, predict_losses, realized_regression
from plugins.performance.inbox import record_training
from plugins.performance.isotonic import Isotonic, fit_calibration
from plugins.performance.metrics import Estimate, classification_metrics
from plugins.performance.plugin import PerformancePlugin, make_plugin
from plugins.performance.report import ModelSection, performance_report
from plugins.performance.retrain import DecayFit, History, Recommendation, fit_decay, recommend

__all__ = [
    "BBSEReference",
    "BBSEResult",
    "CBPEReference",
    "DLEReference",
    "DecayFit",
    "Estimate",
    "History",
    "Isotonic",
    "ModelSection",
    "PerformanceConfig",
    "PerformancePlugin",
    "Recommendation",
    "TrainingRecord",
    "classification_metrics",
    "estimate_bbse",
    "estimate_cbpe",
    "estimate_dle",
    "fit_bbse",
    "fit_calibration",
    "fit_cbpe",
    "fit_decay",
    "fit_dle",
    "make_plugin",
    "parse_config",
    "performance_report",
    "predict_losses",
    "realized_classification",
    "realized_regression",
    "recommend",
    "record_training",
]
