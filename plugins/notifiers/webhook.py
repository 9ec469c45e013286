"""The ``webhook`` channel: Alertmanager webhook payload (v4) by default, Slack-compatible text as an option."""

from __future__ import annotations

from typing import Any

from agent.plugin import Channel, Notification, hookimpl, post_json
from plugins.notifiers.payloads import alertmanager_webhook_payload, slack_payload


class WebhookNotifier:
    """POSTs each notification as JSON to ``url`` with the configured headers."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Deliver when ``channel.type == "webhook"``; None for other types; raise DeliveryError on failure."""
        if channel.type != "webhook":
            return None
        opts = channel.options
        if opts.get("format", "alertmanager") == "slack":
            body: Any = slack_payload(notification)
        else:
            body = alertmanager_webhook_payload(
                notification, external_url=str(opts.get("external_url", "")),
                max_alerts=int(opts.get("max_alerts", 0)),
            )
        post_json(opts["url"], body, headers=opts.get("headers", {}), timeout=float(opts.get("timeout", 10.0)),
                  verify_tls=bool(opts.get("verify_tls", True)))
        return True
