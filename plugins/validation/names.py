"""Every name the validation plugin emits: metrics, their attributes, log events and signals.

Metric attributes live under ``ml.`` like the core's (``ml.model.name``); Signal labels
use the short alert-rule names (``model``, ``feature``, ``kind``, ``slice``) that the
alert engine's templates and grouping know.
"""

from __future__ import annotations

from typing import Final

# -- metrics ----------------------------------------------------------------------------
VIOLATIONS: Final = "ml.validation.violations"  # counter {violation}: model, feature, kind
ROWS: Final = "ml.validation.rows"  # counter {row}: model
UNPROCESSABLE: Final = "ml.validation.unprocessable"  # counter {row}: model, reason
OUTLIER_RATE: Final = "ml.validation.outlier_rate"  # gauge 1: model, feature (per closed window)
LABELS: Final = "ml.validation.labels"  # counter {label}: model, outcome (edge-case joins)

# -- metric attributes ------------------------------------------------------------------
ATTR_MODEL: Final = "ml.model.name"
ATTR_VERSION: Final = "ml.model.version"
ATTR_FEATURE: Final = "ml.feature.name"
ATTR_KIND: Final = "ml.validation.kind"
ATTR_REASON: Final = "ml.validation.reason"
ATTR_OUTCOME: Final = "ml.validation.label_outcome"

# -- log events -------------------------------------------------------------------------
EVENT_VIOLATION: Final = "ml.validation.violation"  # warning, one per (feature, kind) per window
EVENT_EDGE_CASE: Final = "ml.validation.edge_case"  # warning, one per edge-case slice
EVENT_EDGE_CASES: Final = "ml.validation.edge_cases"  # info, summary of the labelled window
EVENT_ERROR: Final = "ml.validation.error"  # error, an unexpected failure inside a hook

# -- signals ----------------------------------------------------------------------------
SIGNAL_VIOLATION_RATE: Final = "ml.validation.violation_rate"  # labels model, feature, kind
SIGNAL_OUTLIER_RATE: Final = "ml.validation.outlier_rate"  # labels model, feature
SIGNAL_EDGE_CASE: Final = "ml.validation.edge_case"  # labels model, feature, slice; value = error ratio

# -- unprocessable reasons --------------------------------------------------------------
REASON_NO_SCHEMA: Final = "no_schema"
REASON_MALFORMED_COLUMN: Final = "malformed_column"
REASON_LENGTH_MISMATCH: Final = "length_mismatch"
REASON_MALFORMED_BATCH: Final = "malformed_batch"
REASON_INTERNAL_ERROR: Final = "internal_error"
