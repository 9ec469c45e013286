"""Notifiers on the real host (driven by the alerts plugin) against loopback receivers; payloads as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from agent.plugin import Alert, Notification, Signal
from plugins.notifiers.alertmanager import alerts_endpoint
from plugins.notifiers.otlp import severity_level
from plugins.notifiers.payloads import (
    alertmanager_webhook_payload,
    headline,
    mail_subject,
    slack_escape,
    slack_payload,
)
from tests.plugins.alerts.support import PSI, delivered, evaluate, metric, run_alerts, sig
from tests.support.smtp import SMTPReceiver
from tests.support.webhook import WebhookReceiver


def alert(feature: str, status: str = "firing", severity: str = "warning") -> Alert:
    """An alert for one feature of model fraud."""
    labels = {"alertname": "drift-high", "rule": "drift-high", "severity": severity, "model": "fraud",
              "feature": feature}
    return Alert(rule="drift-high", status=status, labels=labels,  # type: ignore[arg-type]
                 annotations={"summary": f"psi high on {feature}", "description": "d"}, severity=severity,
                 value=0.5, threshold=0.2, starts_at=0.0, ends_at=60.0 if status == "resolved" else None,
                 fingerprint=f"fp-{feature}")


def note(*alerts: Alert, receiver: str = "hook", group: dict[str, str] | None = None) -> Notification:
    """A notification of ``alerts`` grouped by rule and model."""
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    return Notification(group_key=f'{receiver}:{{model="fraud",rule="drift-high"}}',
                        group_labels=group or {"rule": "drift-high", "model": "fraud"},
                        status=status, alerts=alerts, receiver=receiver)  # type: ignore[arg-type]


def one_rule(channels: dict[str, Any], section: dict[str, Any] | None = None, **rule: Any) -> dict[str, Any]:
    """An [alerts] section (plus ``section``): ``channels`` and one rule on PSI > 0.2 sent to all of them."""
    return {"no_data_after": 0, "group_interval": 0, "retries": 1, "backoff": 0.01, "backoff_max": 0.02,
            "channels": channels, **(section or {}),
            "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": list(channels), **rule}]}


# -- payloads (pure) ------------------------------------------------------------------------


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


def test_headline_counts_firing_alerts() -> None:
    assert headline(note(alert("a"), alert("b", "resolved"))) == "[FIRING:1] model=fraud rule=drift-high"
    assert headline(note(alert("b", "resolved"))) == "[RESOLVED:1] model=fraud rule=drift-high"


def test_alertmanager_endpoint_appends_the_api_path_once() -> None:
    assert alerts_endpoint("http://am:9093/") == "http://am:9093/api/v2/alerts"
    assert alerts_endpoint("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts"


@pytest.mark.parametrize(("text", "escaped"), [
    ("<!channel> & <http://evil.example|click here>", "&lt;!channel&gt; &amp; &lt;http://evil.example|click here&gt;"),
    ("<@U123ABC> ping", "&lt;@U123ABC&gt; ping"),
    ("already &amp; escaped", "already &amp;amp; escaped"),
    ("hey @channel and @HERE", "hey @\u200bchannel and @\u200bHERE"),
    ("mail me at ops@example.com", "mail me at ops@example.com"),
])
def test_slack_escape_neutralises_markup_and_mentions(text: str, escaped: str) -> None:
    assert slack_escape(text) == escaped


def test_slack_payload_escapes_every_piece_of_data_and_keeps_its_own_markup() -> None:
    bad = "<!channel>"
    a = Alert(rule="r", status="firing", labels={"feature": bad}, severity="warning", value=1.0, threshold=0.5,
              annotations={"summary": f"drift on {bad}", "description": f"line one {bad}\n<http://x|y> line two"},
              starts_at=0.0, ends_at=None, fingerprint="f")
    text = slack_payload(note(a, group={"feature": bad}))["text"]
    assert "<" not in text and ">" not in text.replace("\n> ", "\n")
    assert text == ("*[FIRING:1] feature=&lt;!channel&gt;*\n:red_circle: *drift on &lt;!channel&gt;*\n"
                    "> line one &lt;!channel&gt;\n> &lt;http://x|y&gt; line two")


def test_mail_subject_stays_on_one_line() -> None:
    assert mail_subject(note(alert("a"), group={"feature": "x\r\nBcc: victim@example.com"})) == (
        "InferSight [FIRING:1] feature=x Bcc: victim@example.com")


@pytest.mark.parametrize(("severity", "status", "level"), [
    ("critical", "firing", "critical"), ("warning", "firing", "warning"), ("info", "firing", "info"),
    ("custom", "firing", "warning"), ("critical", "resolved", "info"),
])
def test_severity_maps_to_log_level(severity: str, status: str, level: str) -> None:
    assert severity_level(severity, status) == level


# -- on the host ------------------------------------------------------------------------------


def test_slack_format_posts_escaped_text_for_a_feature_named_by_request_data() -> None:
    hostile = "<!channel> <http://evil.example|reset your password> & co"
    with WebhookReceiver() as rx, run_alerts(one_rule(
        {"slack": {"type": "webhook", "url": rx.url + "/services/x", "format": "slack"}},
        section={"group_by": ["rule", "feature"]}, summary="Drift on {feature}",
    )) as (h, src):
        src.publish(sig(0.5, hostile))
        h.tick()
        delivered(h)
        (req,) = rx.wait_for(1)
    text = req.json["text"]
    assert "<!channel>" not in text and "<http" not in text
    assert text.startswith("*[FIRING:1] feature=&lt;!channel&gt; &lt;http://evil.example|reset your password&gt;"
                           " &amp; co rule=drift-high*\n:red_circle: *Drift on &lt;!channel&gt; ")
    assert "\n> ml.drift.psi for model=fraud version=3 feature=&lt;!channel&gt;" in text


def test_userinfo_becomes_basic_auth_not_part_of_host() -> None:
    with WebhookReceiver() as rx, run_alerts(one_rule(
        {"h": {"type": "webhook", "url": rx.url.replace("http://", "http://bot:pa%40ss@") + "/h"}},
    )) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        (req,) = rx.wait_for(1)
    assert req.header("Authorization") == "Basic Ym90OnBhQHNz"  # bot:pa@ss
    assert req.path == "/h"


def test_alertmanager_answering_503_is_retried_with_its_reason() -> None:
    with WebhookReceiver(statuses=[503]) as rx, run_alerts(one_rule({"am": {"type": "alertmanager", "url": rx.url}})
                                                           ) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert [r.path for r in rx.wait_for(2)] == ["/api/v2/alerts"] * 2
        assert [e["ml.alerts.reason"] for e in h.events("ml.alerts.notification_retry")] == ["http_503"]
        assert metric(h, "ml.alerts.notifications") == {
            (("ml.alerts.channel", "am"), ("ml.alerts.status", "firing")): 1}


def test_a_channel_type_no_notifier_owns_is_given_up_at_once() -> None:
    with run_alerts(one_rule({"pd": {"type": "pagerduty", "routing_key": "k"}})) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert metric(h, "ml.alerts.notification_failures") == {
            (("ml.alerts.channel", "pd"), ("ml.alerts.reason", "no_notifier")): 1}
        assert not h.events("ml.alerts.notification_retry")


def test_email_over_smtp_with_login() -> None:
    with SMTPReceiver(credentials=("alerts", "smtp-pass-123")) as smtp, run_alerts(one_rule({"mail": {
        "type": "email", "host": smtp.host, "port": smtp.port, "starttls": False, "username": "alerts",
        "password": "smtp-pass-123", "from": "infersight@example.com", "to": ["oncall@example.com"],
    }})) as (h, src):
        src.publish(Signal(PSI, 0.5, {"model": "fraud", "feature": "amount"}))
        h.tick()
        delivered(h)
        (msg,) = smtp.wait_for(1)
        assert "smtp-pass-123" not in repr(h.events())
    assert msg.login == "alerts"
    assert (msg.mail_from, msg.rcpt_tos) == ("infersight@example.com", ("oncall@example.com",))
    assert msg.message["Subject"] == "InferSight [FIRING:1] model=fraud rule=drift-high"
    body = msg.message.get_content()
    assert "FIRING [warning] ml.drift.psi is 0.5 (threshold: > 0.2) for model=fraud feature=amount" in body
    assert "infersight drift" in body


def test_email_wrong_password_is_a_permanent_failure_not_retried() -> None:
    with SMTPReceiver(credentials=("alerts", "right")) as smtp, run_alerts(one_rule({"mail": {
        "type": "email", "host": smtp.host, "port": smtp.port, "starttls": False, "timeout": 5,
        "username": "alerts", "password": "wrong-secret", "from": "a@x", "to": "b@x",
    }})) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert metric(h, "ml.alerts.notification_failures") == {
            (("ml.alerts.channel", "mail"), ("ml.alerts.reason", "smtp_auth")): 1}
        (failed,) = h.events("ml.alerts.notification_failed")
        assert failed["ml.alerts.kept_in_outbox"] is False
        assert "wrong-secret" not in repr(h.events())
        assert not smtp.messages


def test_log_and_otlp_channels_emit_events_with_levels() -> None:
    with run_alerts(one_rule({"log": {"type": "log"}, "otel": {"type": "otlp"}}, severity="critical")) as (h, src):
        src.publish(Signal(PSI, 0.5, {"model": "fraud", "feature": "amount"}))
        h.tick()
        evaluate(h, src, Signal(PSI, 0.1, {"model": "fraud", "feature": "amount"}), advance=10)
        delivered(h)
        records = [getattr(r, "log_record", r) for r in h.log_records()]
        levels = [(r.body, r.severity_text) for r in records if str(r.body).startswith(("ml.alerts.notification",
                                                                                         "ml.alerts.alert"))]
        otlp = h.events("ml.alerts.alert")
        notes = h.events("ml.alerts.notification")
    # One lane per channel: each channel's events keep their order, the two channels interleave freely.
    assert [lvl for body, lvl in levels if body == "ml.alerts.notification"] == ["WARNING", "INFO"]
    assert [lvl for body, lvl in levels if body == "ml.alerts.alert"] == ["CRITICAL", "INFO"]
    assert [e["ml.alerts.status"] for e in otlp] == ["firing", "resolved"]
    assert otlp[0]["ml.alerts.label.feature"] == "amount"
    assert (otlp[0]["ml.alerts.severity"], otlp[0]["ml.alerts.rule"], otlp[0]["ml.alerts.channel"]) == (
        "critical", "drift-high", "otel")
    assert otlp[1]["ml.alerts.ends_at"] == "2023-11-14T22:13:30.000Z"
    assert [n["ml.alerts.status"] for n in notes] == ["firing", "resolved"]
    assert '"feature": "amount"' in notes[0]["ml.alerts.alerts"]
