"""Alert policies: rules over Signals, Prometheus-style state, grouped and de-duplicated notifications.

The plugin evaluates ``[[alerts.rules]]`` on each worker tick and delivers notifications on
its own thread through the ``infersight_notify`` hook (see ``plugins.notifiers``).
"""

from __future__ import annotations

from plugins.alerts.config import AlertsConfig, parse_alerts_config, parse_channel
from plugins.alerts.delivery import DeliveryError
from plugins.alerts.engine import AlertEngine, AlertRow
from plugins.alerts.plugin import METRIC_FAILURES, METRIC_FIRING, METRIC_NOTIFICATIONS, AlertsPlugin
from plugins.alerts.redact import redact_url, redacted_channel_config
from plugins.alerts.rules import Matcher, Rule, parse_rule
from plugins.alerts.state import format_alert_state, state_path

__all__ = [
    "METRIC_FAILURES",
    "METRIC_FIRING",
    "METRIC_NOTIFICATIONS",
    "AlertEngine",
    "AlertRow",
    "AlertsConfig",
    "AlertsPlugin",
    "DeliveryError",
    "Matcher",
    "Rule",
    "format_alert_state",
    "make_plugin",
    "parse_alerts_config",
    "parse_channel",
    "parse_rule",
    "redact_url",
    "redacted_channel_config",
    "state_path",
]


def make_plugin() -> AlertsPlugin:
    """The alerts plugin instance the agent registers."""
    return AlertsPlugin()
