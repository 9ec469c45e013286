"""Alert policies: rules over Signals, Prometheus-style state, grouped and de-duplicated notifications.

The plugin evaluates ``[[alerts.rules]]`` on each worker tick and delivers notifications on
its own threads (one per channel) through the host's ``infersight_notify`` guard (see
``plugins.notifiers``). Every name it emits is in ``plugins.alerts.names``.
"""

from __future__ import annotations

from plugins.alerts import names
from plugins.alerts.config import KEYS, MOVED, AlertsConfig, parse_alerts_config, parse_channel
from plugins.alerts.engine import AlertEngine, AlertRow
from plugins.alerts.plugin import METRIC_FAILURES, METRIC_FIRING, METRIC_NOTIFICATIONS, AlertsPlugin, make_plugin
from plugins.alerts.redact import redacted_channel_config
from plugins.alerts.rules import Matcher, Rule, parse_rule
from plugins.alerts.state import format_alert_state, state_path

__all__ = [
    "KEYS",
    "METRIC_FAILURES",
    "METRIC_FIRING",
    "METRIC_NOTIFICATIONS",
    "MOVED",
    "AlertEngine",
    "AlertRow",
    "AlertsConfig",
    "AlertsPlugin",
    "Matcher",
    "Rule",
    "format_alert_state",
    "make_plugin",
    "names",
    "parse_alerts_config",
    "parse_channel",
    "parse_rule",
    "redacted_channel_config",
    "state_path",
]
