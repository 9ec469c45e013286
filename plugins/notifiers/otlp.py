"""The ``otlp`` channel: one log event per alert (``ml.alert``), its level taken from the alert's severity.

Events go through the agent's logger, which the core exports over OTLP; the level maps to
the OpenTelemetry severity number, so a log backend can filter alerts by severity.
"""

from __future__ import annotations

from typing import Any

from agent._types import Alert, Channel, Notification
from agent.hookspecs import hookimpl
from plugins.alerts.timefmt import rfc3339
from plugins.notifiers._base import LoggingNotifier

EVENT_ALERT = "ml.alert"
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
    """The event's attributes, under ``ml.alert.*``."""
    attrs: dict[str, Any] = {
        "ml.alert.channel": channel,
        "ml.alert.rule": a.rule,
        "ml.alert.status": a.status,
        "ml.alert.severity": a.severity,
        "ml.alert.fingerprint": a.fingerprint,
        "ml.alert.value": a.value,
        "ml.alert.threshold": a.threshold,
        "ml.alert.starts_at": rfc3339(a.starts_at),
        "ml.alert.summary": a.annotations.get("summary", ""),
        "ml.alert.description": a.annotations.get("description", ""),
    }
    if a.ends_at is not None:
        attrs["ml.alert.ends_at"] = rfc3339(a.ends_at)
    for k, v in a.labels.items():
        attrs[f"ml.alert.label.{k}"] = v
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
            level = severity_level(a.severity, a.status)
            emit = getattr(log, level, None) or log.warning
            emit(EVENT_ALERT, **alert_attributes(a, channel.name))
        return True
