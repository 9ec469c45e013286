"""Every name the feedback plugin emits: metrics, their attributes, log events and signals.

Metric and log attributes live under ``ml.feedback.`` (the core's ``ml.model.name``,
``ml.model.version`` and ``ml.prediction.id`` come from ``agent.semconv``); Signal labels
use the short alert-rule names (``model``, ``version``, ``metric``). Realized performance
is published under ``ml.performance.<metric>`` (``performance(metric)``).

Accounting: ``ml.feedback.received`` = ``ml.feedback.count`` (stored) + ``ml.feedback.dropped``
(by ``ml.feedback.reason``); ``ml.feedback.prediction_rows`` = ``ml.feedback.prediction_rows_stored``
+ ``ml.feedback.prediction_rows_dropped`` (by ``ml.feedback.reason``).
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_MODEL_NAME, ATTR_MODEL_VERSION, ATTR_PREDICTION_ID

# -- metrics: feedback events ---------------------------------------------------------------
RECEIVED: Final = "ml.feedback.received"  # counter {event}: events handed to agent.log_feedback
COUNT: Final = "ml.feedback.count"  # counter {event}: events made durable; kind
DROPPED: Final = "ml.feedback.dropped"  # counter {event}: events not stored; reason
JOINED: Final = "ml.feedback.joined"  # counter {event}: kind, model, version
ORPHANS: Final = "ml.feedback.orphans"  # counter {event}: kind, reason
DUPLICATES: Final = "ml.feedback.duplicates"  # counter {event}: duplicate (event | label)
LATE: Final = "ml.feedback.late"  # counter {event}: model, version
PENDING: Final = "ml.feedback.pending"  # gauge {event}
LABEL_DELAY: Final = "ml.feedback.label_delay"  # histogram s: kind, model, version
LABELLED_RATIO: Final = "ml.feedback.labelled_ratio"  # gauge 1: model, version
EXPORTED: Final = "ml.feedback.exported"  # counter {event}
EXPORT_FAILURES: Final = "ml.feedback.export_failures"  # counter {export}: reason

# -- metrics: Phoenix span annotations ([feedback.phoenix]) ------------------------------------
# Accounting: every stored event ends delivered, skipped (by reason) or still pending.
ANNOTATIONS_DELIVERED: Final = "ml.feedback.annotations.delivered"  # counter {annotation}: accepted by Phoenix
ANNOTATIONS_FAILURES: Final = "ml.feedback.annotations.failures"  # counter {request}: reason (retried later)
ANNOTATIONS_SKIPPED: Final = "ml.feedback.annotations.skipped"  # counter {event}: reason (never sent)
ANNOTATIONS_PENDING: Final = "ml.feedback.annotations.pending"  # gauge {event}: stored, not yet delivered or skipped

# -- metrics: prediction rows remembered for the join -----------------------------------------
PREDICTION_ROWS: Final = "ml.feedback.prediction_rows"  # counter {row}: model, version (received)
PREDICTION_ROWS_STORED: Final = "ml.feedback.prediction_rows_stored"  # counter {row}: model, version
PREDICTION_ROWS_DROPPED: Final = "ml.feedback.prediction_rows_dropped"  # counter {row}: model, version, reason

# -- metrics: realized performance (gauges 1 per closed window: model, version) ----------------
ACCURACY: Final = "ml.performance.accuracy"
PRECISION: Final = "ml.performance.precision"
RECALL: Final = "ml.performance.recall"
F1: Final = "ml.performance.f1"
AUC_ROC: Final = "ml.performance.auc_roc"
LOG_LOSS: Final = "ml.performance.log_loss"
MAE: Final = "ml.performance.mae"
RMSE: Final = "ml.performance.rmse"
MAPE: Final = "ml.performance.mape"
CTR: Final = "ml.performance.ctr"


def performance(metric: str) -> str:
    """The metric and signal name of one realized-performance metric (``precision_at_10`` -> ...)."""
    return "ml.performance." + metric


# -- attributes -------------------------------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_KIND: Final = "ml.feedback.kind"
ATTR_REASON: Final = "ml.feedback.reason"
ATTR_DUPLICATE: Final = "ml.feedback.duplicate"  # event | label
# on each exported ml.feedback log record
ATTR_EVENT_ID: Final = "ml.feedback.event_id"
ATTR_VALUE: Final = "ml.feedback.value"
ATTR_ITEM_ID: Final = "ml.feedback.item_id"
ATTR_POSITION: Final = "ml.feedback.position"
ATTR_PREDICTION: Final = ATTR_PREDICTION_ID
# on ml.performance.degraded log events
ATTR_METRIC: Final = "ml.performance.metric"  # accuracy, mae, ctr, ...
ATTR_DROP: Final = "ml.performance.drop"  # relative drop from the baseline (0.2 = 20% worse)
ATTR_BASELINE: Final = "ml.performance.baseline"
ATTR_CURRENT: Final = "ml.performance.current"
ATTR_THRESHOLD: Final = "ml.performance.threshold"
ATTR_WINDOW_ROWS: Final = "ml.performance.window_rows"
# on ml.feedback.store_error log events (with the semconv exception.type, exception.message)
ATTR_OPERATION: Final = "ml.feedback.operation"  # add_predictions | export | annotations | permissions
# on ml.feedback.annotations.failed log events (with ml.feedback.reason and exception.message)
ATTR_ENDPOINT: Final = "ml.feedback.endpoint"  # the receiver's URL, credentials redacted
ATTR_EXCEPTION_TYPE: Final = "exception.type"
ATTR_EXCEPTION_MESSAGE: Final = "exception.message"


def custom_attribute(key: str) -> str:
    """The log attribute of a user attribute: kept as given when dotted, else under ``ml.feedback.``."""
    return key if "." in key else "ml.feedback." + key


# -- log events -------------------------------------------------------------------------------
EVENT_FEEDBACK: Final = "ml.feedback"  # info, one OTLP log record per stored event (exporter)
EVENT_DEGRADED: Final = "ml.performance.degraded"  # info, one per degraded metric per window
EVENT_STORE_ERROR: Final = "ml.feedback.store_error"  # warning, the store failed (plugin health)
EVENT_ANNOTATIONS_FAILED: Final = "ml.feedback.annotations.failed"  # warning, once per outage
EVENT_ANNOTATIONS_RESUMED: Final = "ml.feedback.annotations.resumed"  # info, delivery works again after an outage

# -- signals ----------------------------------------------------------------------------------
SIGNAL_DEGRADED: Final = "ml.performance.degraded"  # relative drop; labels model, version, metric

# -- Signal labels (alert-rule names) ---------------------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_METRIC: Final = "metric"

# -- reasons (values of ml.feedback.reason) -----------------------------------------------------
DROP_INVALID: Final = "invalid"  # the sink raised ValueError naming the field
DROP_DUPLICATE: Final = "duplicate"  # an event_id already stored
DROP_STORE_ERROR: Final = "store_error"  # the commit failed; log_feedback raised
ROW_MALFORMED: Final = "malformed_row"  # a captured row the store cannot hold (bad position, ...)
ROW_DUPLICATE: Final = "duplicate"  # (prediction id, row) already remembered
ROW_STORE_ERROR: Final = "store_error"  # the batch's write failed (database locked, disk full)
ORPHAN_TIMEOUT: Final = "timeout"
ORPHAN_OVERFLOW: Final = "overflow"
EXPORT_REJECTED: Final = "exporter"  # the exporter returned FAILURE or raised
EXPORT_STORE: Final = "store"  # reading the store for an export pass failed
SKIP_NO_SPAN: Final = "no_span"  # the prediction was never captured, was pruned, or has no span id
SKIP_KIND: Final = "kind"  # a kind left out by feedback.phoenix.kinds
SKIP_REJECTED: Final = "rejected"  # Phoenix refused this annotation alone (HTTP 4xx other than auth/429)
PHOENIX_MARK: Final = "phoenix"  # the store's high-water mark of the annotation delivery (not emitted)
OP_ADD_PREDICTIONS: Final = "add_predictions"
OP_EXPORT: Final = "export"
OP_ANNOTATIONS: Final = "annotations"
OP_PERMISSIONS: Final = "permissions"
DUPLICATE_EVENT: Final = "event"
DUPLICATE_LABEL: Final = "label"
