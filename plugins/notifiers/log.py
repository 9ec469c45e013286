"""The ``log`` channel: each notification becomes one structured log event (``ml.alerts.notification``)."""

from __future__ import annotations

from agent.plugin import Channel, Notification, hookimpl
from plugins.notifiers._base import LoggingNotifier
from plugins.notifiers.names import (
    ATTR_ALERTS,
    ATTR_CHANNEL,
    ATTR_GROUP_KEY,
    ATTR_HEADLINE,
    ATTR_STATUS,
    EVENT_NOTIFICATION,
)
from plugins.notifiers.payloads import headline


class LogNotifier(LoggingNotifier):
    """Writes notifications to the agent's logger: warning while firing, info when resolved."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Log the notification when ``channel.type == "log"``; None for other types."""
        if channel.type != "log":
            return None
        log = self.logger(channel)
        emit = log.warning if notification.status == "firing" else log.info
        emit(EVENT_NOTIFICATION, **{
            ATTR_CHANNEL: channel.name,
            ATTR_HEADLINE: headline(notification),
            ATTR_STATUS: notification.status,
            ATTR_GROUP_KEY: notification.group_key,
            ATTR_ALERTS: [
                {
                    "status": a.status, "rule": a.rule, "severity": a.severity, "labels": dict(a.labels),
                    "summary": a.annotations.get("summary", ""),
                    "description": a.annotations.get("description", ""),
                    "value": a.value, "threshold": a.threshold, "fingerprint": a.fingerprint,
                }
                for a in notification.alerts
            ],
        })
        return True
