"""Every telemetry name the report reads, taken from the module of whoever emits it.

The report emits nothing of its own (it has no ``names.py``): it reads the core's names
(``agent.semconv``) and the plugins' (``plugins.<name>.names``), so a rename there
reaches the report without a second edit.
"""

from __future__ import annotations

from typing import Final

from agent import semconv
from plugins.alerts import names as alerts
from plugins.attribution import names as attribution
from plugins.drift import names as drift
from plugins.feedback import names as feedback
from plugins.notifiers import names as notifiers
from plugins.performance import names as performance
from plugins.recsys import names as recsys
from plugins.validation import names as validation

__all__ = ["alerts", "attribution", "drift", "feedback", "notifiers", "performance", "recsys", "semconv", "validation"]

# -- core -------------------------------------------------------------------------------------
MODEL: Final = semconv.ATTR_MODEL_NAME
VERSION: Final = semconv.ATTR_MODEL_VERSION
FEATURE: Final = semconv.ATTR_FEATURE_NAME
BATCH_SIZE: Final = semconv.ATTR_BATCH_SIZE
ERROR_TYPE: Final = semconv.ATTR_ERROR_TYPE
INSTANCE: Final = semconv.ATTR_SERVICE_INSTANCE
CALLS: Final = semconv.INFERENCE_CALLS
ERRORS: Final = semconv.INFERENCE_ERRORS
ROWS: Final = semconv.INFERENCE_ROWS
DURATION: Final = semconv.INFERENCE_DURATION
DROPPED: Final = semconv.AGENT_DROPPED
OWN_NAMESPACE: Final = MODEL.split(".", 1)[0] + "."  # "ml.": the agent's own metrics (not process/system)

# -- alerts and notifiers ---------------------------------------------------------------------
FIRING: Final = alerts.FIRING
EVENT_NOTIFICATION: Final = notifiers.EVENT_NOTIFICATION  # log channel: one per notification, alerts as JSON
EVENT_ALERT: Final = notifiers.EVENT_ALERT  # otlp channel: one per alert, one attribute per field and label
ALERT_LABEL_PREFIX: Final = notifiers.label_attribute("")

# -- performance (published by the feedback plugin) ---------------------------------------------
PERFORMANCE_PREFIX: Final = feedback.performance("")

# -- performance estimation (read by plugins.performance.performance_report, in emission order) --
PERFORMANCE_EVENTS: Final = frozenset({
    performance.EVENT_REFERENCE, performance.EVENT_WINDOW, performance.EVENT_REALIZED,
    performance.EVENT_DECAY, performance.EVENT_RETRAIN, performance.EVENT_TRAINING,
})

# -- edge cases (validation) and their attributions, attribution drift per window ----------------
EDGE_CASE_EVENTS: Final = frozenset({
    validation.EVENT_EDGE_CASE, attribution.EVENT_EDGE_CASE, attribution.EVENT_WINDOW,
})
