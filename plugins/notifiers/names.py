"""Every name the notifier plugins emit: the ``log`` and ``otlp`` channels' events and their attributes.

The alerts namespace is one, ``ml.alerts.*``: keys the alerts plugin also emits
(``ml.alerts.channel``, ``ml.alerts.status``, ``ml.alerts.rule``, ...) have the same values
in ``plugins/alerts/names.py`` (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Final

# -- log events ----------------------------------------------------------------------------
EVENT_NOTIFICATION: Final = "ml.alerts.notification"  # log channel: one per notification (warning/info)
EVENT_ALERT: Final = "ml.alerts.alert"  # otlp channel: one per alert, level from its severity

# -- attributes ----------------------------------------------------------------------------
ATTR_CHANNEL: Final = "ml.alerts.channel"
ATTR_STATUS: Final = "ml.alerts.status"  # firing | resolved (the notification's, or the alert's)
ATTR_GROUP_KEY: Final = "ml.alerts.group_key"
ATTR_HEADLINE: Final = "ml.alerts.headline"  # "[FIRING:2] model=fraud rule=drift-high"
ATTR_ALERTS: Final = "ml.alerts.alerts"  # JSON list: status, rule, severity, labels, summary, description, ...
ATTR_RULE: Final = "ml.alerts.rule"
ATTR_SEVERITY: Final = "ml.alerts.severity"
ATTR_FINGERPRINT: Final = "ml.alerts.fingerprint"
ATTR_VALUE: Final = "ml.alerts.value"
ATTR_THRESHOLD: Final = "ml.alerts.threshold"
ATTR_STARTS_AT: Final = "ml.alerts.starts_at"  # RFC 3339
ATTR_ENDS_AT: Final = "ml.alerts.ends_at"  # RFC 3339, once resolved
ATTR_SUMMARY: Final = "ml.alerts.summary"
ATTR_DESCRIPTION: Final = "ml.alerts.description"
ATTR_LABEL: Final = "ml.alerts.label.<name>"  # one attribute per alert label


def label_attribute(name: str) -> str:
    """The attribute key of the alert label ``name``: ``ml.alerts.label.feature``."""
    return ATTR_LABEL.replace("<name>", name)
