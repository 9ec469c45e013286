"""Every name the drift plugin emits: metrics, attribute keys, log events, signals, and their values.

Metric and log attributes are namespaced: the core's shared keys (``ml.model.name``,
``ml.model.version``, ``ml.feature.name``) and ``ml.drift.*``. Signal labels keep the
short alert-rule names (``model``, ``version``, ``feature``, ``test``) that the alert
engine's matchers, templates and grouping use (Alertmanager label names cannot hold
dots). Attribute *values* (streams, skip and drop reasons) are listed too, so tests and
dashboards name them from one place.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_FEATURE_NAME, ATTR_MODEL_NAME, ATTR_MODEL_VERSION

# -- metrics ---------------------------------------------------------------------------------
STATISTIC: Final = "ml.drift.statistic"  # gauge 1 per closed window: model, version, feature, test
P_VALUE: Final = "ml.drift.p_value"  # gauge 1 per closed window (corrected p-value): model, version, feature, test
EFFECT_SIZE: Final = "ml.drift.effect_size"  # gauge 1 per closed window (raw effect): model, version, feature, test
CORRECTED_EFFECT: Final = "ml.drift.corrected_effect"  # gauge 1 per closed window: effect beyond sampling noise
DETECTED: Final = "ml.drift.detected"  # gauge 1 (0/1) per closed window: model, version, feature, test
SUMMARY: Final = "ml.drift.summary"  # gauge 1: model, version, feature, stat, sample
SKIPPED: Final = "ml.drift.skipped"  # counter {test}: model, version, feature, test, reason
BAD_VALUES: Final = "ml.drift.bad_values"  # counter {value}: model, version, feature, reason
WINDOWS: Final = "ml.drift.windows"  # counter {window}: model, version, stream
ROWS_RECEIVED: Final = "ml.drift.rows.received"  # counter {row}: model, version, stream
ROWS_TESTED: Final = "ml.drift.rows.tested"  # counter {row}: model, version, stream
ROWS_DROPPED: Final = "ml.drift.rows.dropped"  # counter {row}: model, version, stream, reason (rows not tested)

# -- metric and log attributes ---------------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_FEATURE: Final = ATTR_FEATURE_NAME
ATTR_TEST: Final = "ml.drift.test"  # ks, ks_tiebreak, cvm, chi2, fisher, mmd, lsdd, mmd_vector, none
ATTR_STAT: Final = "ml.drift.stat"  # count, missing_rate, min, ..., kurtosis, or freq:<category>
ATTR_SAMPLE: Final = "ml.drift.sample"  # window | reference
ATTR_REASON: Final = "ml.drift.reason"  # a skip, bad-value or drop reason (below)
ATTR_STREAM: Final = "ml.drift.stream"  # inputs | outputs | labels
# log attributes of one result (ml.drift.detected)
ATTR_STATISTIC: Final = "ml.drift.statistic"
ATTR_P_VALUE: Final = "ml.drift.p_value"  # raw p-value
ATTR_CORRECTED_P_VALUE: Final = "ml.drift.corrected_p_value"
ATTR_EFFECT_SIZE: Final = "ml.drift.effect_size"
ATTR_EFFECT_NAME: Final = "ml.drift.effect_name"  # wasserstein_norm, tvd, mmd_shift
ATTR_THRESHOLD: Final = "ml.drift.threshold"
ATTR_NULL_EFFECT: Final = "ml.drift.null_effect"  # the effect's root mean square with no drift at these sizes
ATTR_CORRECTED_EFFECT: Final = "ml.drift.corrected_effect"  # sqrt(max(effect² - null², 0)) if significant, else 0
ATTR_LEVEL: Final = "ml.drift.level"  # the α the corrected p-value was compared with
ATTR_VERDICT: Final = "ml.drift.verdict"  # drift | not_significant | joint_not_significant | below_threshold
ATTR_REFERENCE_ROWS: Final = "ml.drift.reference_rows"
# log attributes of one window (ml.drift.window; also on ml.drift.detected and ml.drift.schema_change)
ATTR_WINDOW_NUMBER: Final = "ml.drift.window.number"  # 1, 2, ... per model and stream; outputs share inputs'
ATTR_WINDOW_START: Final = "ml.drift.window.start"  # agent clock (s since the epoch) at the first row
ATTR_WINDOW_END: Final = "ml.drift.window.end"  # agent clock when the window closed
ATTR_WINDOW_ROWS: Final = "ml.drift.window.rows"  # rows tested
ATTR_WINDOW_ROWS_SEEN: Final = "ml.drift.window.rows_seen"  # rows that arrived (> rows when a time window sampled)
ATTR_DRIFTED: Final = "ml.drift.drifted"  # bool: any result drifted
ATTR_DRIFTED_FEATURES: Final = "ml.drift.drifted_features"  # string array
ATTR_RESULTS: Final = "ml.drift.results"  # JSON array, one object per test (README: per-window event)
ATTR_SCHEMA_CHANGES: Final = "ml.drift.schema_changes"  # JSON array of {kind, feature, count, examples}
# log attributes of a schema change and of a reference
ATTR_CHANGE: Final = "ml.drift.change"  # feature_added | feature_missing | new_category | vanished_category
ATTR_COUNT: Final = "ml.drift.count"  # rows with unseen values (new_category); rows expected in vanished categories
ATTR_EXAMPLES: Final = "ml.drift.examples"  # string array, at most 10 unseen values
ATTR_REFERENCE_SOURCE: Final = "ml.drift.reference_source"  # set_reference | live
ATTR_FEATURES: Final = "ml.drift.features"  # string array: features tested
ATTR_VECTOR_FEATURES: Final = "ml.drift.vector_features"  # string array: list/array-valued (embedding) features
ATTR_SUMMARIES: Final = "ml.drift.summaries"  # JSON object {feature: summary statistics}

# -- values of ml.drift.test and ml.drift.effect_name for vector (embedding) features --------------
TEST_VECTOR: Final = "mmd_vector"  # permutation test: max of MMD² (σ, σ/2) and a domain classifier's held-out AUC
TEST_VECTOR_MMD: Final = "mmd_vector_kernel"  # vector_test = "mmd": the MMD² components only
TEST_VECTOR_CLASSIFIER: Final = "classifier_vector"  # vector_test = "classifier": the held-out AUC only
EFFECT_AUC_ABOVE_CHANCE: Final = "auc_above_chance"  # held-out AUC - 0.5 of the domain classifier (0 to 0.5)

# -- log events (all info: findings about the data go to the exported log, not stderr) --------
EVENT_DETECTED: Final = "ml.drift.detected"  # one per drifted result
EVENT_SCHEMA: Final = "ml.drift.schema_change"  # one per schema change per window
EVENT_REFERENCE: Final = "ml.drift.reference_set"  # a reference was summarised (given or from live rows)
EVENT_WINDOW: Final = "ml.drift.window"  # one per closed window per stream: every result of it

# -- signals ---------------------------------------------------------------------------------
SIGNAL_DETECTED: Final = "ml.drift.detected"  # 0/1; labels model, version, feature, test
SIGNAL_EFFECT_SIZE: Final = "ml.drift.effect_size"  # labels model, version, feature, test
SIGNAL_FEATURE_ADDED: Final = "ml.drift.feature_added"  # 1; labels model, version, feature
SIGNAL_FEATURE_MISSING: Final = "ml.drift.feature_missing"  # 1; labels model, version, feature
SIGNAL_NEW_CATEGORY: Final = "ml.drift.new_category"  # rows with unseen values; labels model, version, feature
SIGNAL_VANISHED_CATEGORY: Final = "ml.drift.vanished_category"  # rows the absent reference categories would hold
SIGNAL_NEW_OUTPUT_CLASS: Final = "ml.drift.new_output_class"  # rows with an unseen output class
SIGNAL_OUTPUT_OUT_OF_RANGE: Final = "ml.drift.output_out_of_range"  # share of outputs outside the reference range

# -- signal labels (alert-rule label names) ----------------------------------------------------
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_FEATURE: Final = "feature"
LABEL_TEST: Final = "test"

# -- attribute values ---------------------------------------------------------------------------
STREAM_INPUTS: Final = "inputs"
STREAM_OUTPUTS: Final = "outputs"
STREAM_LABELS: Final = "labels"
SAMPLE_WINDOW: Final = "window"
SAMPLE_REFERENCE: Final = "reference"
SOURCE_SET: Final = "set_reference"
SOURCE_LIVE: Final = "live"

# ml.drift.skipped reasons: why a test of one feature did not run in a window
SKIP_WINDOW_TOO_SMALL: Final = "window_too_small"
SKIP_TOO_FEW_FINITE: Final = "too_few_finite_values"
SKIP_REFERENCE_TOO_SMALL: Final = "reference_too_small"
SKIP_CONSTANT: Final = "constant_feature"
SKIP_NON_FINITE: Final = "non_finite_values"
SKIP_TEST_FAILED: Final = "test_failed"
SKIP_VECTOR: Final = "vector_feature"  # list/array-valued (embedding) feature with vector_test = "off"
SKIP_REASONS: Final = (
    SKIP_WINDOW_TOO_SMALL, SKIP_TOO_FEW_FINITE, SKIP_REFERENCE_TOO_SMALL, SKIP_CONSTANT, SKIP_NON_FINITE,
    SKIP_TEST_FAILED, SKIP_VECTOR,
)

# ml.drift.bad_values reasons: values of one feature that a test could not use as they were
BAD_NON_NUMERIC: Final = "non_numeric"  # not a number in a numeric feature (tested as missing)
BAD_NON_FINITE: Final = "non_finite"  # ±inf in a numeric feature
BAD_CONSTANT_WINDOW: Final = "constant_window"  # every value of the window equal
BAD_UNHASHABLE: Final = "unhashable"  # a list/dict in a categorical feature (tested as missing)
BAD_UNCONVERTIBLE: Final = "unconvertible"  # a value whose conversion raised (its row was dropped)
BAD_VECTOR_DIMENSION: Final = "vector_dimension"  # a vector value of another length (or a scalar): row left out
BAD_VECTOR_NON_FINITE: Final = "vector_non_finite"  # a vector holding NaN or ±inf: that row left out of the vector test
BAD_VECTOR_NON_NUMERIC: Final = "vector_non_numeric"  # a vector holding a non-number: that row left out
BAD_VALUE_REASONS: Final = (BAD_NON_NUMERIC, BAD_NON_FINITE, BAD_CONSTANT_WINDOW, BAD_UNHASHABLE, BAD_UNCONVERTIBLE,
                            BAD_VECTOR_DIMENSION, BAD_VECTOR_NON_FINITE, BAD_VECTOR_NON_NUMERIC)

# ml.drift.rows.dropped reasons: rows received but not tested
DROP_UNCONVERTIBLE: Final = "unconvertible_value"  # an int beyond float range, an object whose hash/str/float raised
DROP_UNHASHABLE: Final = "unhashable_value"  # a dict or set value (not a list/array: those are vector features)
DROP_MALFORMED: Final = "malformed_batch"  # columns of different lengths: rows cannot be aligned
DROP_SAMPLED_OUT: Final = "sampled_out"  # a time window over its size keeps a uniform sample of `size` rows
DROP_REFERENCE: Final = "used_as_reference"  # the first live rows became the reference (no reference was set)
DROP_NO_REFERENCE: Final = "no_reference"  # a window closed before any reference existed
DROP_BACKLOG: Final = "test_backlog"  # a closed window found the agent's jobs queue full (tests running behind)
DROP_REASONS: Final = (
    DROP_UNCONVERTIBLE, DROP_UNHASHABLE, DROP_MALFORMED, DROP_SAMPLED_OUT, DROP_REFERENCE, DROP_NO_REFERENCE,
    DROP_BACKLOG,
)
