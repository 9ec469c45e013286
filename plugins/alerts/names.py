"""Every name the alerts plugin emits: metrics, their attributes, log events and log attributes.

One namespace, ``ml.alerts.*``, shared with the notifiers (``plugins/notifiers/names.py``
repeats the keys both emit, with the same values; a test keeps the two in step). Alert
*labels* (``alertname``, ``rule``, ``severity``, ``model``, ...) are data inside a
notification, in Alertmanager's shape, not telemetry attribute keys.
"""

from __future__ import annotations

from typing import Final

# -- metrics -------------------------------------------------------------------------------
FIRING: Final = "ml.alerts.firing"  # observable gauge {alert}: rule, severity
NOTIFICATIONS: Final = "ml.alerts.notifications"  # counter {notification}: channel, status
NOTIFICATION_FAILURES: Final = "ml.alerts.notification_failures"  # counter {notification}: channel, reason
SKIPPED_SIGNALS: Final = "ml.alerts.skipped_signals"  # counter {signal}: reason
OUTBOX_ERRORS: Final = "ml.alerts.outbox_errors"  # counter {error}: reason
DELIVERY_ERRORS: Final = "ml.alerts.delivery_errors"  # counter {error}: channel (unexpected, on a lane)

# -- attributes (metrics and log events) ---------------------------------------------------
ATTR_RULE: Final = "ml.alerts.rule"
ATTR_SEVERITY: Final = "ml.alerts.severity"
ATTR_CHANNEL: Final = "ml.alerts.channel"
ATTR_CHANNEL_TYPE: Final = "ml.alerts.channel_type"
ATTR_STATUS: Final = "ml.alerts.status"  # firing | resolved
ATTR_REASON: Final = "ml.alerts.reason"  # why a delivery failed or a signal was skipped
ATTR_ERROR: Final = "ml.alerts.error"  # secret-free error text
ATTR_URL: Final = "ml.alerts.url"  # the channel's URL with credentials and tokens masked
ATTR_GROUP_KEY: Final = "ml.alerts.group_key"
ATTR_ALERT_COUNT: Final = "ml.alerts.alert_count"
ATTR_ATTEMPTS: Final = "ml.alerts.attempts"
ATTR_RETRY_DELAY: Final = "ml.alerts.retry_delay"  # seconds
ATTR_KEPT_IN_OUTBOX: Final = "ml.alerts.kept_in_outbox"
ATTR_QUEUE_SIZE: Final = "ml.alerts.queue_size"
ATTR_RULE_COUNT: Final = "ml.alerts.rule_count"
ATTR_CHANNELS: Final = "ml.alerts.channels"  # channel config with secrets masked
ATTR_REDELIVERING: Final = "ml.alerts.redelivering"
ATTR_EXPIRED: Final = "ml.alerts.expired"
ATTR_OUTBOX_MAX_AGE: Final = "ml.alerts.outbox_max_age"  # seconds

# -- log events ----------------------------------------------------------------------------
EVENT_STARTED: Final = "ml.alerts.started"  # info: rules, channels (masked), leftovers re-queued
EVENT_NOTIFICATION_RETRY: Final = "ml.alerts.notification_retry"  # warning: will retry after a delay
EVENT_NOTIFICATION_SENT: Final = "ml.alerts.notification_sent"  # debug
EVENT_NOTIFICATION_FAILED: Final = "ml.alerts.notification_failed"  # error: given up
EVENT_QUEUE_FULL: Final = "ml.alerts.queue_full"  # warning: the row stays in the outbox
EVENT_DELIVERY_ERROR: Final = "ml.alerts.delivery_error"  # error: unexpected failure on a delivery thread
EVENT_OUTBOX_ERROR: Final = "ml.alerts.outbox_error"  # error: outbox or state file not written
EVENT_OUTBOX_EXPIRED: Final = "ml.alerts.outbox_expired"  # warning: rows older than outbox_max_age dropped

# -- reasons (values of ml.alerts.reason) --------------------------------------------------
REASON_QUEUE_FULL: Final = "queue_full"
REASON_NO_NOTIFIER: Final = "no_notifier"
REASON_UNKNOWN_CHANNEL: Final = "unknown_channel"
REASON_INTERNAL: Final = "internal_error"
REASON_NOT_A_NUMBER: Final = "not_a_number"
REASON_MALFORMED: Final = "malformed_signal"
REASON_SERIES_LIMIT: Final = "series_limit"
REASON_OUTBOX_WRITE: Final = "outbox_write"
REASON_STATE_WRITE: Final = "state_write"
REASON_OUTBOX_UNREADABLE: Final = "outbox_unreadable"
