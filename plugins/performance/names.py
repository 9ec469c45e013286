"""Every name the performance plugin emits: metrics, attributes, log events and Signals.

Estimates are published next to the feedback plugin's realized ``ml.performance.<metric>``
as ``ml.performance.estimated.<metric>`` (gauges and Signals), with the sampling-error
band as the gauges ``ml.performance.estimated.<metric>.lower`` / ``.upper``. The method
that produced an estimate is the attribute ``ml.performance.method`` (``cbpe``, ``dle``, or
``bbse`` for the label-shift-corrected estimate). Metric attributes use the core's
``ml.model.name`` / ``ml.model.version``; Signal labels use the short alert-rule names
(``model``, ``version``, ``metric``, ``method``).

Accounting: ``ml.performance.rows`` = rows put in a window + ``ml.performance.rows.dropped``
(by ``ml.performance.reason``); every label event ends in ``ml.performance.labels`` under
one ``ml.performance.outcome``.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_MODEL_NAME, ATTR_MODEL_VERSION, ATTR_TASK

# -- the metric names the estimators know (values of ml.performance.metric) ------------------
CLASSIFICATION_METRICS: Final = ("accuracy", "precision", "recall", "f1", "auc_roc")
REGRESSION_METRICS: Final = ("mae", "rmse")
LOWER_IS_BETTER: Final = frozenset(REGRESSION_METRICS)

# -- metrics: estimates (gauges, unit 1, one point per closed window) ---------------------------
ESTIMATED_ACCURACY: Final = "ml.performance.estimated.accuracy"
ESTIMATED_PRECISION: Final = "ml.performance.estimated.precision"
ESTIMATED_RECALL: Final = "ml.performance.estimated.recall"
ESTIMATED_F1: Final = "ml.performance.estimated.f1"
ESTIMATED_AUC_ROC: Final = "ml.performance.estimated.auc_roc"
ESTIMATED_MAE: Final = "ml.performance.estimated.mae"
ESTIMATED_RMSE: Final = "ml.performance.estimated.rmse"
ESTIMATED_ACCURACY_LOWER: Final = "ml.performance.estimated.accuracy.lower"
ESTIMATED_PRECISION_LOWER: Final = "ml.performance.estimated.precision.lower"
ESTIMATED_RECALL_LOWER: Final = "ml.performance.estimated.recall.lower"
ESTIMATED_F1_LOWER: Final = "ml.performance.estimated.f1.lower"
ESTIMATED_AUC_ROC_LOWER: Final = "ml.performance.estimated.auc_roc.lower"
ESTIMATED_MAE_LOWER: Final = "ml.performance.estimated.mae.lower"
ESTIMATED_RMSE_LOWER: Final = "ml.performance.estimated.rmse.lower"
ESTIMATED_ACCURACY_UPPER: Final = "ml.performance.estimated.accuracy.upper"
ESTIMATED_PRECISION_UPPER: Final = "ml.performance.estimated.precision.upper"
ESTIMATED_RECALL_UPPER: Final = "ml.performance.estimated.recall.upper"
ESTIMATED_F1_UPPER: Final = "ml.performance.estimated.f1.upper"
ESTIMATED_AUC_ROC_UPPER: Final = "ml.performance.estimated.auc_roc.upper"
ESTIMATED_MAE_UPPER: Final = "ml.performance.estimated.mae.upper"
ESTIMATED_RMSE_UPPER: Final = "ml.performance.estimated.rmse.upper"

ESTIMATED: Final = {
    "accuracy": (ESTIMATED_ACCURACY, ESTIMATED_ACCURACY_LOWER, ESTIMATED_ACCURACY_UPPER),
    "precision": (ESTIMATED_PRECISION, ESTIMATED_PRECISION_LOWER, ESTIMATED_PRECISION_UPPER),
    "recall": (ESTIMATED_RECALL, ESTIMATED_RECALL_LOWER, ESTIMATED_RECALL_UPPER),
    "f1": (ESTIMATED_F1, ESTIMATED_F1_LOWER, ESTIMATED_F1_UPPER),
    "auc_roc": (ESTIMATED_AUC_ROC, ESTIMATED_AUC_ROC_LOWER, ESTIMATED_AUC_ROC_UPPER),
    "mae": (ESTIMATED_MAE, ESTIMATED_MAE_LOWER, ESTIMATED_MAE_UPPER),
    "rmse": (ESTIMATED_RMSE, ESTIMATED_RMSE_LOWER, ESTIMATED_RMSE_UPPER),
}
"""metric -> (estimate, lower bound, upper bound) gauge names."""

# -- metrics: the estimator checked against labels ----------------------------------------------
ESTIMATION_ERROR: Final = "ml.performance.estimation_error"  # gauge 1: estimate - realized; metric, method

# -- metrics: label shift (BBSE) ------------------------------------------------------------------
LABEL_DISTRIBUTION: Final = "ml.performance.label_distribution"  # gauge 1: estimated q(y); class
LABEL_WEIGHT: Final = "ml.performance.label_weight"  # gauge 1: w = q(y)/p(y); class
LABEL_SHIFT_P_VALUE: Final = "ml.performance.label_shift.p_value"  # gauge 1: test on predicted classes
CONDITION_NUMBER: Final = "ml.performance.bbse.condition_number"  # gauge 1: of the reference confusion matrix

# -- metrics: calibration quality (at set_reference) -----------------------------------------------
CALIBRATION_ECE: Final = "ml.performance.calibration.ece"  # gauge 1: stage raw | calibrated
CALIBRATION_BRIER: Final = "ml.performance.calibration.brier"  # gauge 1: stage raw | calibrated

# -- metrics: accounting ----------------------------------------------------------------------------
ROWS: Final = "ml.performance.rows"  # counter {row}: rows handed to the plugin
ROWS_DROPPED: Final = "ml.performance.rows.dropped"  # counter {row}: reason
WINDOWS: Final = "ml.performance.windows"  # counter {window}: windows estimated
WINDOWS_SKIPPED: Final = "ml.performance.windows.skipped"  # counter {window}: reason
LABELS: Final = "ml.performance.labels"  # counter {label}: outcome
JOIN_EVICTED: Final = "ml.performance.join.evicted"  # counter {row}: unlabelled rows forgotten; reason
JOIN_TRACKED: Final = "ml.performance.join.tracked"  # gauge {row}: rows waiting for a label

# -- metrics: retraining ------------------------------------------------------------------------------
MODEL_AGE: Final = "ml.model.age"  # gauge s: now - trained_at of the version in service

# -- signals ------------------------------------------------------------------------------------------
SIGNAL_ESTIMATED: Final = {m: names[0] for m, names in ESTIMATED.items()}
"""metric -> Signal name (the estimate; details carry the band)."""
SIGNAL_ESTIMATION_ERROR: Final = ESTIMATION_ERROR
SIGNAL_LABEL_SHIFT: Final = "ml.performance.label_shift"  # total variation between q(y) and p(y)
SIGNAL_BBSE_REFUSED: Final = "ml.performance.bbse.refused"  # value: condition number; details: reason
SIGNAL_RETRAIN: Final = "ml.model.retrain_recommended"  # 1 recommended, 0 not yet; details: projected date

# -- log events ------------------------------------------------------------------------------------------
EVENT_REFERENCE: Final = "ml.performance.reference_set"  # info: fitted estimators, calibration quality
EVENT_WINDOW: Final = "ml.performance.window"  # info: one per closed window: estimates, bands, label shift
EVENT_REALIZED: Final = "ml.performance.window.realized"  # info: labels joined to a window: realized, errors
EVENT_BBSE_REFUSED: Final = "ml.performance.bbse.refused"  # info: BBSE not applied to a window, with reason
EVENT_DECAY: Final = "ml.performance.decay"  # info: the decay fit across versions after a window
EVENT_RETRAIN: Final = "ml.model.retrain_recommended"  # info: the recommendation switched on
EVENT_TRAINING: Final = "ml.performance.training_recorded"  # info: a retrain was recorded
EVENT_HISTORY_ERROR: Final = "ml.performance.history_error"  # warning: the history file failed

# -- attributes ------------------------------------------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_TASK_KEY: Final = ATTR_TASK
ATTR_METHOD: Final = "ml.performance.method"  # cbpe | dle | bbse
ATTR_METRIC: Final = "ml.performance.metric"  # accuracy, precision, recall, f1, auc_roc, mae, rmse
ATTR_CLASS: Final = "ml.performance.class"  # a class label (label distribution gauges)
ATTR_STAGE: Final = "ml.performance.calibration.stage"  # raw | calibrated
ATTR_REASON: Final = "ml.performance.reason"  # a drop, skip, eviction or refusal reason (below)
ATTR_OUTCOME: Final = "ml.performance.outcome"  # a label's outcome (below)
ATTR_WINDOW_ID: Final = "ml.performance.window.id"  # 1, 2, ... per model
ATTR_WINDOW_START: Final = "ml.performance.window.start"  # s since the epoch, first row's capture time
ATTR_WINDOW_END: Final = "ml.performance.window.end"  # s since the epoch, last row's capture time
ATTR_WINDOW_ROWS: Final = "ml.performance.window.rows"
ATTR_LABELLED_ROWS: Final = "ml.performance.window.labelled_rows"
ATTR_ESTIMATES: Final = "ml.performance.estimates"  # JSON {method: {metric: {value, std, lower, upper}}}
ATTR_REALIZED: Final = "ml.performance.realized"  # JSON {metric: value} on the labelled rows
ATTR_ERRORS: Final = "ml.performance.errors"  # JSON {method: {metric: {error, within_band}}}
ATTR_BBSE: Final = "ml.performance.bbse"  # JSON: q, p, w, q_std, chi2, p_value, condition, refused
ATTR_CALIBRATION: Final = "ml.performance.calibration"  # JSON: method, ece/brier raw and calibrated
ATTR_DLE: Final = "ml.performance.dle"  # JSON: features, loss-model fit on the reference
ATTR_CLASSES: Final = "ml.performance.classes"  # string array
ATTR_REFERENCE_ROWS: Final = "ml.performance.reference.rows"
ATTR_CONDITION: Final = "ml.performance.bbse.condition"  # condition number of the reference confusion matrix
ATTR_PATH: Final = "ml.performance.path"  # the history file
ATTR_EXCEPTION_TYPE: Final = "exception.type"
ATTR_EXCEPTION_MESSAGE: Final = "exception.message"
ATTR_TRAINED_AT: Final = "ml.retrain.trained_at"  # ISO-8601 UTC
ATTR_DATA_UNTIL: Final = "ml.retrain.data_until"  # ISO-8601 UTC
ATTR_TRAINING_METRICS: Final = "ml.retrain.metrics"  # JSON {metric: value} recorded with the training
ATTR_DECAY: Final = "ml.retrain.decay"  # JSON: slope per day, intercepts per version, points
ATTR_FLOOR: Final = "ml.retrain.floor"
ATTR_INTERVAL_DAYS: Final = "ml.retrain.interval_days"  # recommended retraining interval
ATTR_PROJECTED_AT: Final = "ml.retrain.projected_at"  # ISO-8601 UTC: current version reaches the floor
ATTR_DAYS_LEFT: Final = "ml.retrain.days_left"
ATTR_DESCRIPTION: Final = "ml.retrain.description"

# -- Signal labels (alert-rule names) --------------------------------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_METRIC: Final = "metric"
LABEL_METHOD: Final = "method"

# -- values of ml.performance.method ----------------------------------------------------------------------
METHOD_CBPE: Final = "cbpe"
METHOD_DLE: Final = "dle"
METHOD_BBSE: Final = "bbse"

# -- values of ml.performance.calibration.stage -------------------------------------------------------------
STAGE_RAW: Final = "raw"
STAGE_CALIBRATED: Final = "calibrated"

# -- reasons (values of ml.performance.reason) -------------------------------------------------------------
DROP_NO_REFERENCE: Final = "no_reference"  # rows before the reference was set (or it could not be fitted)
DROP_BAD_OUTPUT: Final = "bad_output"  # no output, or not a probability / number
DROP_SHAPE: Final = "shape"  # a probability vector of another width than the reference's
DROP_MISSING_FEATURE: Final = "missing_feature"  # a loss-model feature absent or not numeric
SKIP_TOO_FEW_ROWS: Final = "too_few_rows"  # a time window with fewer than min_window_rows
EVICT_WINDOW: Final = "window_expired"  # the window left the label_windows most recent
EVICT_CAPACITY: Final = "capacity"  # more than max_tracked_rows waiting for labels
EVICT_REFERENCE: Final = "reference_changed"  # a new reference with other classes or task: old windows dropped
REFUSE_ILL_CONDITIONED: Final = "ill_conditioned"  # condition number above bbse_max_condition
REFUSE_CLASS_MISSING: Final = "class_missing"  # a class absent from the reference labels
REFUSE_TOO_FEW_ROWS: Final = "too_few_rows"

# -- outcomes (values of ml.performance.outcome) ----------------------------------------------------------
LABEL_JOINED: Final = "joined"
LABEL_UNKNOWN: Final = "unknown_prediction"  # never seen, evicted, or before the reference
LABEL_DUPLICATE: Final = "duplicate"  # a second label for the same row (the last one wins)
LABEL_INVALID: Final = "invalid"  # not a known class / not a number
