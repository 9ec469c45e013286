"""Every name the fleet plugin emits: the profile log event, its attributes, fleet Signals and their labels.

A closed window's profile leaves the process as one OTLP log record ``ml.drift.profile``
(the body is the event name, as every agent event; the profile bytes are base64 in
``ml.drift.profile.data``). ``service.instance.id`` is on the record's resource, set by the
core. Fleet-level Signals (published by ``infersight fleet --follow``) keep the short
alert-rule label names the drift Signals use (``model``, ``version``, ``feature``,
``test``), so the same rule templates work on fleet results.
"""

from __future__ import annotations

from typing import Final

from agent.semconv import ATTR_MODEL_NAME, ATTR_MODEL_VERSION

# -- log event ------------------------------------------------------------------------------
PROFILE_EVENT: Final = "ml.drift.profile"  # one per closed window (and one per reference) per model version

# -- log attributes of ml.drift.profile ------------------------------------------------------
ATTR_MODEL: Final = ATTR_MODEL_NAME
ATTR_VERSION: Final = ATTR_MODEL_VERSION
ATTR_WINDOW_START: Final = "ml.drift.window.start"  # s since the epoch; aligned to window.seconds when align
ATTR_WINDOW_END: Final = "ml.drift.window.end"  # s since the epoch (exclusive)
ATTR_PROFILE_DATA: Final = "ml.drift.profile.data"  # base64 of the versioned profile bytes
ATTR_PROFILE_FORMAT: Final = "ml.drift.profile.format"  # int, the byte format's version (1)
ATTR_PROFILE_KIND: Final = "ml.drift.profile.kind"  # window | reference
ATTR_PROFILE_ROWS: Final = "ml.drift.profile.rows"  # int, rows summarised
# Resource attribute every record carries (OpenTelemetry semantic convention, set by the core).
RESOURCE_INSTANCE: Final = "service.instance.id"

KIND_WINDOW: Final = "window"
KIND_REFERENCE: Final = "reference"

# -- metrics ----------------------------------------------------------------------------------
PROFILES_EXPORTED: Final = "ml.fleet.profiles"  # counter {profile}: model, version, kind
PROFILE_BYTES: Final = "ml.fleet.profile.size"  # histogram By: model, version
ATTR_KIND: Final = "ml.fleet.profile.kind"  # window | reference (metric attribute)

# -- fleet Signals (infersight fleet --follow) --------------------------------------------------
SIGNAL_DETECTED: Final = "ml.fleet.drift.detected"  # 0/1 per feature and fleet window; labels below
SIGNAL_EFFECT_SIZE: Final = "ml.fleet.drift.effect_size"  # headline effect size per feature and fleet window
SIGNAL_REPLICAS: Final = "ml.fleet.replicas"  # replicas (service.instance.id) whose profiles were merged
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_FEATURE: Final = "feature"
LABEL_TEST: Final = "test"
LABEL_SCOPE: Final = "scope"
SCOPE_FLEET: Final = "fleet"

# -- skip reasons (the drift plugin's values, so tables and rules read the same) ----------------
SKIP_WINDOW_TOO_SMALL: Final = "window_too_small"
SKIP_REFERENCE_TOO_SMALL: Final = "reference_too_small"
SKIP_CONSTANT: Final = "constant_feature"
SKIP_NON_FINITE: Final = "non_finite_values"
SKIP_TEST_FAILED: Final = "test_failed"

# -- log events of the fleet command ------------------------------------------------------------
FLEET_WINDOW_EVENT: Final = "ml.fleet.window"  # one per evaluated fleet window (--follow)
ATTR_REPLICAS: Final = "ml.fleet.window.replicas"  # int
ATTR_DRIFTED_FEATURES: Final = "ml.fleet.drifted_features"  # string array
QUIET_LOG_EVENT: Final = "ml.fleet.profiles_not_logged"  # warning: agent.log_level drops info profiles
ATTR_LOG_LEVEL: Final = "ml.fleet.log_level"
LATE_PROFILE_EVENT: Final = "ml.fleet.late_profile"  # a profile that arrived after its window was evaluated
