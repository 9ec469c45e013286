"""Every name the drift plugin emits: metrics, metric attributes, log events and signals.

Metric attributes live under ``ml.`` like the core's; Signal labels use the short
alert-rule names (``model``, ``version``, ``feature``, ``test``).
"""

from __future__ import annotations

from typing import Final

# -- metrics (all per closed window) ------------------------------------------------------
STATISTIC: Final = "ml.drift.statistic"  # gauge 1: model, version, feature, test
P_VALUE: Final = "ml.drift.p_value"  # gauge 1: model, version, feature, test (corrected p-value)
EFFECT_SIZE: Final = "ml.drift.effect_size"  # gauge 1: model, version, feature, test
DETECTED: Final = "ml.drift.detected"  # gauge 1 (0/1): model, version, feature, test
SUMMARY: Final = "ml.drift.summary"  # gauge 1: model, version, feature, stat, sample
SKIPPED: Final = "ml.drift.skipped"  # counter {test}: model, version, feature, reason
BAD_VALUES: Final = "ml.drift.bad_values"  # counter {value}: model, version, feature, reason
WINDOWS: Final = "ml.drift.windows"  # counter {window}: model, version, stream

# -- metric attributes ----------------------------------------------------------------------
ATTR_MODEL: Final = "ml.model.name"
ATTR_VERSION: Final = "ml.model.version"
ATTR_FEATURE: Final = "ml.feature.name"
ATTR_TEST: Final = "ml.drift.test"
ATTR_STAT: Final = "ml.drift.stat"  # count, missing_rate, min, ..., kurtosis, or freq:<category>
ATTR_SAMPLE: Final = "ml.drift.sample"  # window | reference
ATTR_REASON: Final = "ml.drift.reason"
ATTR_STREAM: Final = "ml.drift.stream"  # inputs | outputs | labels

# -- log events -----------------------------------------------------------------------------
EVENT_DETECTED: Final = "ml.drift.detected"  # warning, one per drifted result
EVENT_SCHEMA: Final = "ml.drift.schema_change"  # warning, one per schema change
EVENT_REFERENCE: Final = "ml.drift.reference_set"  # info, reference summarised
EVENT_ERROR: Final = "ml.drift.error"  # error, unexpected failure inside a hook (never raised)

# -- signals ---------------------------------------------------------------------------------
SIGNAL_DETECTED: Final = "ml.drift.detected"  # 0/1; labels model, version, feature, test
SIGNAL_EFFECT_SIZE: Final = "ml.drift.effect_size"  # labels model, version, feature, test
SIGNAL_FEATURE_ADDED: Final = "ml.drift.feature_added"  # 1; labels model, version, feature
SIGNAL_FEATURE_MISSING: Final = "ml.drift.feature_missing"  # 1; labels model, version, feature
SIGNAL_NEW_CATEGORY: Final = "ml.drift.new_category"  # rows with unseen values; labels + feature
SIGNAL_NEW_OUTPUT_CLASS: Final = "ml.drift.new_output_class"  # rows with an unseen output class
SIGNAL_OUTPUT_OUT_OF_RANGE: Final = "ml.drift.output_out_of_range"  # share of outputs outside ref range

# -- skip / bad-value reasons ----------------------------------------------------------------
SKIP_REASONS: Final = (
    "window_too_small", "too_few_finite_values", "reference_too_small", "constant_feature",
    "non_finite_values", "test_failed",
)
BAD_VALUE_REASONS: Final = ("non_numeric", "non_finite", "constant_window", "malformed_batch")
