"""The ``log`` channel: each notification becomes one structured log event (``ml.alerts.notification``)."""

from __future__ import annotations

from typing import Any

from agent._types import Channel, Notification
from agent.hookspecs import hookimpl
from plugins.notifiers.payloads import headline

EVENT_NOTIFICATION = "ml.alerts.notification"


class LogNotifier:
    """Writes notifications to the agent's logger: warning while firing, info when resolved."""

    def __init__(self) -> None:
        self.log: Any = None

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: Any) -> None:
        """Keep the agent's logger."""
        self.log = agent.log

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Log the notification when ``channel.type == "log"``; None for other types."""
        if channel.type != "log":
            return None
        if self.log is None:
            raise RuntimeError("log notifier used before infersight_configure")
        emit = self.log.warning if notification.status == "firing" else self.log.info
        emit(
            EVENT_NOTIFICATION,
            channel=channel.name,
            headline=headline(notification),
            status=notification.status,
            group_key=notification.group_key,
            alerts=[
                {
                    "status": a.status, "rule": a.rule, "severity": a.severity, "labels": dict(a.labels),
                    "summary": a.annotations.get("summary", ""),
                    "description": a.annotations.get("description", ""),
                    "value": a.value, "threshold": a.threshold, "fingerprint": a.fingerprint,
                }
                for a in notification.alerts
            ],
        )
        return True
