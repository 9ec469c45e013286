"""The ``alertmanager`` channel: POST to a Prometheus Alertmanager's ``/api/v2/alerts``."""

from __future__ import annotations

from agent.plugin import Channel, Notification, hookimpl, post_json
from plugins.notifiers.payloads import alertmanager_api_alerts

API_PATH = "/api/v2/alerts"


def alerts_endpoint(base_url: str) -> str:
    """``{url}/api/v2/alerts`` (a URL already ending in the API path is used as is)."""
    base = base_url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


class AlertmanagerNotifier:
    """Posts the alerts of a notification to Alertmanager, which groups and routes them itself."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Deliver when ``channel.type == "alertmanager"``; None for other types; raise DeliveryError on failure."""
        if channel.type != "alertmanager":
            return None
        opts = channel.options
        post_json(alerts_endpoint(opts["url"]), alertmanager_api_alerts(notification),
                  headers=opts.get("headers", {}), timeout=float(opts.get("timeout", 10.0)),
                  verify_tls=bool(opts.get("verify_tls", True)))
        return True
