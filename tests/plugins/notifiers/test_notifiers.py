"""Notifier plugins against real loopback receivers: webhook (Alertmanager v4 and Slack), email, log, otlp."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent._types import Alert, Channel, Notification, Signal
from plugins.alerts.config import parse_channel
from plugins.alerts.delivery import DeliveryError
from plugins.notifiers import make_plugins
from plugins.notifiers.alertmanager import AlertmanagerNotifier, alerts_endpoint
from plugins.notifiers.email import EmailNotifier
from plugins.notifiers.otlp import severity_level
from plugins.notifiers.payloads import alertmanager_webhook_payload, headline
from plugins.notifiers.webhook import WebhookNotifier
from tests.plugins.alerts.helpers import start
from tests.support.smtp import SMTPReceiver
from tests.support.webhook import WebhookReceiver

PSI = "ml.drift.psi"


def alert(feature: str, status: str = "firing", severity: str = "warning") -> Alert:
    """An alert for one feature of model fraud."""
    labels = {"alertname": "drift-high", "rule": "drift-high", "severity": severity, "model": "fraud",
              "feature": feature}
    return Alert(rule="drift-high", status=status, labels=labels,  # type: ignore[arg-type]
                 annotations={"summary": f"psi high on {feature}", "description": "d"}, severity=severity,
                 value=0.5, threshold=0.2, starts_at=0.0, ends_at=60.0 if status == "resolved" else None,
                 fingerprint=f"fp-{feature}")


def note(*alerts: Alert, receiver: str = "hook") -> Notification:
    """A notification of ``alerts`` grouped by rule and model."""
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    return Notification(group_key=f'{receiver}:{{model="fraud",rule="drift-high"}}',
                        group_labels={"rule": "drift-high", "model": "fraud"}, status=status,  # type: ignore[arg-type]
                        alerts=alerts, receiver=receiver)


def test_webhook_v4_payload_has_common_labels_and_zero_end_time() -> None:
    body = alertmanager_webhook_payload(note(alert("amount"), alert("age", "resolved")), external_url="http://x")
    assert body["commonLabels"] == {"alertname": "drift-high", "rule": "drift-high", "severity": "warning",
                                    "model": "fraud"}
    assert body["commonAnnotations"] == {"description": "d"}
    assert [a["endsAt"] for a in body["alerts"]] == ["0001-01-01T00:00:00Z", "1970-01-01T00:01:00.000Z"]
    assert [a["status"] for a in body["alerts"]] == ["firing", "resolved"]
    assert (body["version"], body["status"], body["truncatedAlerts"]) == ("4", "firing", 0)


def test_webhook_max_alerts_truncates_and_says_how_many() -> None:
    body = alertmanager_webhook_payload(note(alert("a"), alert("b"), alert("c")), max_alerts=1)
    assert (len(body["alerts"]), body["truncatedAlerts"]) == (1, 2)


def test_slack_format_posts_text(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        channel = parse_channel("slack", {"type": "webhook", "url": rx.url + "/services/x", "format": "slack"})
        assert WebhookNotifier().infersight_notify(note(alert("amount")), channel) is True
        (req,) = rx.wait_for(1)
        assert req.json == {"text": "*[FIRING:1] model=fraud rule=drift-high*\n"
                                    ":red_circle: *psi high on amount*\n> d"}


def test_userinfo_becomes_basic_auth_not_part_of_host() -> None:
    with WebhookReceiver() as rx:
        url = rx.url.replace("http://", "http://bot:pa%40ss@") + "/h"
        WebhookNotifier().infersight_notify(note(alert("a")), parse_channel("h", {"type": "webhook", "url": url}))
        (req,) = rx.wait_for(1)
        assert req.header("Authorization") == "Basic Ym90OnBhQHNz"  # bot:pa@ss


def test_alertmanager_endpoint_and_http_error_reason() -> None:
    assert alerts_endpoint("http://am:9093/") == "http://am:9093/api/v2/alerts"
    assert alerts_endpoint("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts"
    with WebhookReceiver(default_status=503) as rx:
        channel = parse_channel("am", {"type": "alertmanager", "url": rx.url})
        with pytest.raises(DeliveryError) as info:
            AlertmanagerNotifier().infersight_notify(note(alert("a"), receiver="am"), channel)
        assert (info.value.reason, info.value.retryable) == ("http_503", True)
        assert rx.requests[0].path == "/api/v2/alerts"


def test_notifiers_decline_channel_types_they_do_not_own() -> None:
    other = Channel("pd", "pagerduty", {})
    assert all(p.infersight_notify(note(alert("a")), other) is None for p in make_plugins())  # type: ignore[attr-defined]


def test_email_over_smtp_with_login(tmp_path: Path) -> None:
    with SMTPReceiver(credentials=("alerts", "smtp-pass-123")) as smtp:
        h = start(tmp_path, {
            "group_interval": 0, "no_data_after": 0,
            "channels": {"mail": {"type": "email", "host": smtp.host, "port": smtp.port, "starttls": False,
                                  "username": "alerts", "password": "smtp-pass-123",
                                  "from": "infersight@example.com", "to": ["oncall@example.com"]}},
            "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["mail"]}],
        })
        h.tick([Signal(PSI, 0.5, {"model": "fraud", "feature": "amount"})], now=0.0)
        assert h.plugin.flush(10.0)
        (msg,) = smtp.wait_for(1)
        assert msg.login == "alerts"
        assert (msg.mail_from, msg.rcpt_tos) == ("infersight@example.com", ("oncall@example.com",))
        assert msg.message["Subject"] == "InferSight [FIRING:1] model=fraud rule=drift-high"
        body = msg.message.get_content()
        assert "FIRING [warning] drift-high: ml.drift.psi = 0.5 > 0.2 (model=fraud feature=amount)" in body
        assert "infersight drift" in body
        h.shutdown()
        assert "smtp-pass-123" not in h.log.text()


def test_email_wrong_password_is_a_permanent_counted_failure(tmp_path: Path) -> None:
    with SMTPReceiver(credentials=("alerts", "right")) as smtp:
        channel = parse_channel("mail", {"type": "email", "host": smtp.host, "port": smtp.port, "starttls": False,
                                         "username": "alerts", "password": "wrong-secret", "from": "a@x",
                                         "to": "b@x", "timeout": 5})
        with pytest.raises(DeliveryError) as info:
            EmailNotifier().infersight_notify(note(alert("a"), receiver="mail"), channel)
        assert (info.value.reason, info.value.retryable) == ("smtp_auth", False)
        assert "wrong-secret" not in str(info.value)


def test_log_and_otlp_channels_emit_events_with_levels(tmp_path: Path) -> None:
    h = start(tmp_path, {
        "group_interval": 0, "no_data_after": 0, "channels": {"otel": {"type": "otlp"}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["log", "otel"],
                   "severity": "critical"}],
    })
    h.tick([Signal(PSI, 0.5, {"model": "fraud", "feature": "amount"})], now=0.0)
    h.tick([Signal(PSI, 0.1, {"model": "fraud", "feature": "amount"})], now=10.0)
    assert h.plugin.flush(5.0)
    assert [lvl for lvl, _ in h.log.named("ml.alerts.notification")] == ["warning", "info"]
    otlp = h.log.named("ml.alert")
    assert [(lvl, kw["ml.alert.status"]) for lvl, kw in otlp] == [("critical", "firing"), ("info", "resolved")]
    assert otlp[0][1]["ml.alert.label.feature"] == "amount"
    assert otlp[0][1]["ml.alert.severity"] == "critical"
    h.shutdown()


@pytest.mark.parametrize(("severity", "status", "level"), [
    ("critical", "firing", "critical"), ("warning", "firing", "warning"), ("info", "firing", "info"),
    ("custom", "firing", "warning"), ("critical", "resolved", "info"),
])
def test_severity_maps_to_log_level(severity: str, status: str, level: str) -> None:
    assert severity_level(severity, status) == level


def test_headline_counts_firing_alerts() -> None:
    assert headline(note(alert("a"), alert("b", "resolved"))) == "[FIRING:1] model=fraud rule=drift-high"
    assert headline(note(alert("b", "resolved"))) == "[RESOLVED:1] model=fraud rule=drift-high"
