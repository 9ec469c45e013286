"""The ``otlp`` channel: one log event per alert (``ml.alerts.alert``), its level taken from the alert's severity.

Events go through the agent's logger, which the core exports over OTLP; the level maps to
the OpenTelemetry severity number, so a log backend can filter alerts by severity.
Attributes are ``ml.alerts.*``, one ``ml.alerts.label.<name>`` per alert label.
"""

from __future__ import annotations

from typing import Any

from agent.plugin import Alert, Channel, Notification, hookimpl
from plugins.notifiers._base import LoggingNotifier
from plugins.notifiers.names import (
    ATTR_CHANNEL,
    ATTR_DESCRIPTION,
    ATTR_ENDS_AT,
    ATTR_FINGERPRINT,
    ATTR_RULE,
    ATTR_SEVERITY,
    ATTR_STARTS_AT,
    ATTR_STATUS,
    ATTR_SUMMARY,
    ATTR_THRESHOLD,
    ATTR_VALUE,
    EVENT_ALERT,
    label_attribute,
)
from plugins.notifiers.timefmt import rfc3339

LEVELS = {
    "critical": "critical", "page": "critical", "fatal": "critical", "error": "error", "high": "error",
    "warning": "warning", "warn": "warning", "medium": "warning", "info": "info", "low": "info",
    "none": "info", "debug": "debug",
}


def severity_level(severity: str, status: str) -> str:
    """Logger method for an alert: by severity while firing, ``info`` once resolved."""
    if status == "resolved":
        return "info"
    return LEVELS.get(severity.lower(), "warning")


def alert_attributes(a: Alert, channel: str) -> dict[str, Any]:
    """The event's attributes, under ``ml.alerts.*``."""
    attrs: dict[str, Any] = {
        ATTR_CHANNEL: channel,
        ATTR_RULE: a.rule,
        ATTR_STATUS: a.status,
        ATTR_SEVERITY: a.severity,
        ATTR_FINGERPRINT: a.fingerprint,
        ATTR_VALUE: a.value,
        ATTR_THRESHOLD: a.threshold,
        ATTR_STARTS_AT: rfc3339(a.starts_at),
        ATTR_SUMMARY: a.annotations.get("summary", ""),
        ATTR_DESCRIPTION: a.annotations.get("description", ""),
    }
    if a.ends_at is not None:
        attrs[ATTR_ENDS_AT] = rfc3339(a.ends_at)
    for k, v in a.labels.items():
        attrs[label_attribute(k)] = v
    return attrs


class OtlpNotifier(LoggingNotifier):
    """Emits alerts as log events through the agent's logger (exported over OTLP by the core)."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Emit one event per alert when ``channel.type == "otlp"``; None for other types."""
        if channel.type != "otlp":
            return None
        log = self.logger(channel)
        for a in notification.alerts:
            emit = getattr(log, severity_level(a.severity, a.status), None) or log.warning
            emit(EVENT_ALERT, **alert_attributes(a, channel.name))
        return True
