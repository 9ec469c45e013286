"""Every name the attribution plugin emits, and the one it listens for.

Metric and log attributes are namespaced: the core's shared keys (``ml.model.name``,
``ml.model.version``, ``ml.feature.name``) and ``ml.attribution.*``. Signal labels keep the
short alert-rule names (``model``, ``version``, ``method``). Attribute *values* (methods,
samples, sources, reasons) are listed too, so tests and dashboards name them from one place.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_ERROR_TYPE, ATTR_FEATURE_NAME, ATTR_MODEL_NAME, ATTR_MODEL_VERSION

# -- metrics ---------------------------------------------------------------------------------
RANK_CORRELATION: Final = "ml.attribution.rank_correlation"  # gauge 1 per window: model, version, method
DISTANCE: Final = "ml.attribution.distance"  # gauge 1 per window: model, version, method
DETECTED: Final = "ml.attribution.detected"  # gauge 1 (0/1) per window: model, version, method
MEAN_ABS: Final = "ml.attribution.mean_abs"  # gauge 1: model, version, method, feature, sample
WINDOWS: Final = "ml.attribution.windows"  # counter {window}: model, version, method
ROWS: Final = "ml.attribution.rows"  # counter {row}: model, version, source (where rows' attributions came from)
FAILURES: Final = "ml.attribution.failures"  # counter {call}: model, version, reason, error.type

# -- metric and log attributes ---------------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_FEATURE: Final = ATTR_FEATURE_NAME
ATTR_ERROR: Final = ATTR_ERROR_TYPE
ATTR_METHOD: Final = "ml.attribution.method"  # attribution | permutation
ATTR_SAMPLE: Final = "ml.attribution.sample"  # window | reference
ATTR_SOURCE: Final = "ml.attribution.source"  # output | explainer | none (rows); explainer | explicit | ... (refs)
ATTR_REASON: Final = "ml.attribution.reason"  # a failure reason (below)
ATTR_MESSAGE: Final = "ml.attribution.message"  # what the failing call raised (first 300 characters)
# log attributes of a window (ml.attribution.window, ml.attribution.drift)
ATTR_WINDOW_ROWS: Final = "ml.attribution.window_rows"  # rows whose attributions the window averaged
ATTR_SPEARMAN: Final = "ml.attribution.spearman"  # rank correlation of mean |attribution| vs the reference
ATTR_L1_DISTANCE: Final = "ml.attribution.l1_distance"  # ½ L1 distance of the normalised vectors, in [0, 1]
ATTR_DRIFTED: Final = "ml.attribution.drifted"  # bool
ATTR_MAX_DISTANCE: Final = "ml.attribution.max_distance"  # the configured threshold
ATTR_TOP: Final = "ml.attribution.top"  # JSON [{feature, mean_abs, share}] of the window, largest first
ATTR_REFERENCE_TOP: Final = "ml.attribution.reference_top"  # the same for the reference
ATTR_REFERENCE_SOURCE: Final = "ml.attribution.reference_source"  # explainer | explicit | labels | first_window
ATTR_REFERENCE_ROWS: Final = "ml.attribution.reference_rows"
# log attributes of an edge-case slice (ml.attribution.edge_case)
ATTR_SLICE: Final = "ml.attribution.slice"  # the slice as the validation plugin names it, e.g. "[3.2, 4.1)"
ATTR_SLICE_ROWS: Final = "ml.attribution.slice_rows"
ATTR_SLICE_TOP: Final = "ml.attribution.slice_top"  # JSON [{feature, mean_abs, share, lift}] largest first

# -- log events --------------------------------------------------------------------------------
EVENT_WINDOW: Final = "ml.attribution.window"  # info, one per closed window and method
EVENT_DRIFT: Final = "ml.attribution.drift"  # warning, a window whose reliance moved beyond the thresholds
EVENT_REFERENCE: Final = "ml.attribution.reference_set"  # info, reference attributions in place
EVENT_EDGE_CASE: Final = "ml.attribution.edge_case"  # info, top attributions of a flagged edge-case slice
EVENT_FAILED: Final = "ml.attribution.failed"  # warning, a user explainer/predictor raised (rate-limited)

# -- signals ---------------------------------------------------------------------------------
SIGNAL_RANK_CORRELATION: Final = "ml.attribution.rank_correlation"  # labels model, version, method
SIGNAL_DISTANCE: Final = "ml.attribution.distance"  # labels model, version, method
SIGNAL_DETECTED: Final = "ml.attribution.detected"  # 0/1; labels model, version, method

# -- a signal this plugin reads (emitted by the validation plugin) ----------------------------
SIGNAL_VALIDATION_EDGE_CASE: Final = "ml.validation.edge_case"  # labels model, version, feature, slice

# -- signal labels (alert-rule label names) ---------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_METHOD: Final = "method"
LABEL_FEATURE: Final = "feature"
LABEL_SLICE: Final = "slice"

# -- attribute values ------------------------------------------------------------------------
METHOD_ATTRIBUTION: Final = "attribution"  # mean |per-row attribution| (supplied or explained)
METHOD_PERMUTATION: Final = "permutation"  # permutation importance on labelled rows
SAMPLE_WINDOW: Final = "window"
SAMPLE_REFERENCE: Final = "reference"
SOURCE_OUTPUT: Final = "output"  # the model's output mapping carried the row's attributions
SOURCE_EXPLAINER: Final = "explainer"  # a registered explainer computed them in the worker
SOURCE_NONE: Final = "none"  # the row got no attributions
SOURCE_EXPLICIT: Final = "explicit"  # set_reference_attributions
SOURCE_LABELS: Final = "labels"  # permutation importance on reference rows with a label column
SOURCE_FIRST_WINDOW: Final = "first_window"  # no reference: the first window became it
REASON_EXPLAINER: Final = "explainer"  # the registered explainer raised or returned a wrong shape
REASON_PREDICTOR: Final = "predictor"  # the registered predictor or loss raised
REASON_BAD_ATTRIBUTIONS: Final = "bad_attributions"  # an output's attributions were not {feature: number}
REASON_OVER_BUDGET: Final = "over_budget"  # rows past explain_max_rows in a window (not explained)
REASON_BACKLOG: Final = "backlog"  # rows not attributed: this plugin's share of the agent's jobs queue was full
