"""Every name the validation plugin emits: metrics, attribute keys, log events, signals and their labels.

Metric and log attributes are namespaced: the core's shared keys (``ml.model.name``,
``ml.model.version``, ``ml.feature.name``) and ``ml.validation.*``. Signal labels keep
the short alert-rule names (``model``, ``feature``, ``kind``, ``slice``) that the alert
engine's templates and grouping use (Alertmanager label names cannot hold dots).
Attribute *values* (violation kinds, drop reasons, label outcomes) are listed too, so
dashboards and tests name them from one place.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_ERROR_TYPE, ATTR_MODEL_NAME, ATTR_MODEL_VERSION

# -- metrics ----------------------------------------------------------------------------
VIOLATIONS: Final = "ml.validation.violations"  # counter {violation}: model, version, feature, kind
ROWS: Final = "ml.validation.rows"  # counter {row}: model, version; rows validated
UNPROCESSABLE: Final = "ml.validation.unprocessable"  # counter {row}: model, version, reason; rows not validated
OUTLIER_RATE: Final = "ml.validation.outlier_rate"  # gauge 1: model, version, feature (per closed window)
LABELS: Final = "ml.validation.labels"  # counter {label}: model, version, label_outcome (edge-case joins)

# -- metric and log attributes ----------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_FEATURE: Final = "ml.feature.name"  # the core's shared key (agent.semconv has no constant for it yet)
ATTR_ERROR: Final = ATTR_ERROR_TYPE
ATTR_KIND: Final = "ml.validation.kind"
ATTR_REASON: Final = "ml.validation.reason"
ATTR_OUTCOME: Final = "ml.validation.label_outcome"
ATTR_COUNT: Final = "ml.validation.count"
ATTR_WINDOW_ROWS: Final = "ml.validation.window_rows"
ATTR_RATE: Final = "ml.validation.rate"
ATTR_EXAMPLES: Final = "ml.validation.examples"
ATTR_RANGE_LOW: Final = "ml.validation.range_low"
ATTR_RANGE_HIGH: Final = "ml.validation.range_high"
ATTR_LABELLED: Final = "ml.validation.labelled"
ATTR_OVERALL_ERROR: Final = "ml.validation.overall_error"
ATTR_OUTLIER_ROWS: Final = "ml.validation.outlier_rows"
ATTR_OUTLIER_ERROR: Final = "ml.validation.outlier_error"
ATTR_INLIER_ERROR: Final = "ml.validation.inlier_error"
ATTR_SLICES: Final = "ml.validation.slices"
ATTR_SLICE: Final = "ml.validation.slice"
ATTR_SLICE_SIZE: Final = "ml.validation.slice_size"
ATTR_SLICE_ERROR: Final = "ml.validation.slice_error"
ATTR_ERROR_RATIO: Final = "ml.validation.error_ratio"

# -- log events (all info: findings about the data go to the exported log, not stderr) ---
EVENT_VIOLATION: Final = "ml.validation.violation"  # one per (feature, kind) per closed window
EVENT_EDGE_CASE: Final = "ml.validation.edge_case"  # one per edge-case slice
EVENT_EDGE_CASES: Final = "ml.validation.edge_cases"  # summary of the labelled rows
EVENT_ROWS_SKIPPED: Final = "ml.validation.rows_skipped"  # rows whose values made a check raise

# -- signals ----------------------------------------------------------------------------
SIGNAL_VIOLATION_RATE: Final = "ml.validation.violation_rate"  # labels model, version, feature, kind
SIGNAL_OUTLIER_RATE: Final = "ml.validation.outlier_rate"  # labels model, version, feature
SIGNAL_EDGE_CASE: Final = "ml.validation.edge_case"  # labels model, version, feature, slice; value = error ratio

# -- signal labels (alert-rule label names) ---------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_FEATURE: Final = "feature"
LABEL_KIND: Final = "kind"
LABEL_SLICE: Final = "slice"

# -- values of ATTR_REASON: why rows received were not validated --------------------------
REASON_NO_SCHEMA: Final = "no_schema"  # no schema yet: no reference, schema file or typed features
REASON_BAD_VALUE: Final = "bad_value"  # a value whose own methods raise (hash, eq, len): that row alone
REASON_MALFORMED_COLUMN: Final = "malformed_column"  # a column that is not an array of one entry per row
REASON_LENGTH_MISMATCH: Final = "length_mismatch"  # columns of different lengths in one batch

# -- values of ATTR_OUTCOME: what became of a label event -------------------------------
OUTCOME_JOINED: Final = "joined"
OUTCOME_UNKNOWN_PREDICTION: Final = "unknown_prediction"
OUTCOME_INCOMPARABLE: Final = "incomparable"
OUTCOME_INVALID: Final = "invalid"
