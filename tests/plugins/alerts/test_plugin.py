"""The alerts plugin end to end: real pluggy manager, real notifiers, loopback receivers, SQLite outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent._errors import ConfigError
from agent._types import Signal
from plugins.alerts import format_alert_state
from plugins.alerts.outbox import Outbox
from plugins.alerts.state import OUTBOX_FILE
from tests.plugins.alerts.helpers import start
from tests.support.webhook import WebhookReceiver

PSI = "ml.drift.psi"
TOKEN = "s3cr3tT0kenXYZ"
PASSWORD = "hunter2pass"
HEADER_SECRET = "Bearer hdrSecretABC123"


def sig(value: float, feature: str = "amount") -> Signal:
    """A drift signal."""
    return Signal(PSI, value, {"model": "fraud", "version": "3", "feature": feature}, {"psi": value})


def alerts_config(url: str, **extra: Any) -> dict[str, Any]:
    """One rule sent to a webhook channel whose URL and headers carry planted secrets."""
    secret_url = url.replace("http://", f"http://alertbot:{PASSWORD}@") + f"/hook?token={TOKEN}&team=ml"
    return {
        "group_interval": 0, "no_data_after": 0, "retries": 2,
        "channels": {"hook": {"type": "webhook", "url": secret_url, "timeout": 0.5,
                              "headers": {"Authorization": HEADER_SECRET}}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["hook", "log"]}],
        **extra,
    }


def assert_no_secret(*texts: str) -> None:
    """None of the planted secrets appears in any of ``texts``."""
    for text in texts:
        for secret in (TOKEN, PASSWORD, "hdrSecretABC123"):
            assert secret not in text


def test_firing_alert_reaches_webhook_and_log_with_exact_payload(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        h = start(tmp_path, alerts_config(rx.url, external_url="http://infersight.local"))
        h.tick([sig(0.5)], now=1_700_000_000.0)
        assert h.plugin.flush(5.0)
        (req,) = rx.wait_for(1)
        assert (req.path, req.query) == ("/hook", f"token={TOKEN}&team=ml")
        assert req.header("Authorization") == HEADER_SECRET
        assert req.header("Content-Type") == "application/json"
        body = req.json
        alert = body["alerts"][0]
        assert body == {
            "version": "4", "groupKey": 'hook:{model="fraud",rule="drift-high"}', "truncatedAlerts": 0,
            "status": "firing", "receiver": "hook", "groupLabels": {"model": "fraud", "rule": "drift-high"},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://infersight.local",
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "drift-high", "rule": "drift-high", "severity": "warning",
                           "model": "fraud", "version": "3", "feature": "amount"},
                "annotations": alert["annotations"],
                "startsAt": "2023-11-14T22:13:20.000Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://infersight.local", "fingerprint": alert["fingerprint"],
            }],
        }
        assert set(alert["annotations"]) == {"summary", "description"}
        (level, fields), = h.log.named("ml.alerts.notification")
        assert (level, fields["status"], fields["channel"]) == ("warning", "firing", "log")
        assert h.metric("ml.alerts.notifications") == {
            (("channel", "hook"), ("status", "firing")): 1, (("channel", "log"), ("status", "firing")): 1,
        }
        assert h.metric("ml.alerts.firing") == {(("rule", "drift-high"), ("severity", "warning")): 1}
        h.tick([sig(0.1)], now=1_700_000_060.0)
        assert h.plugin.flush(5.0)
        second = rx.wait_for(2)[1].json
        assert second["status"] == "resolved"
        assert second["alerts"][0]["endsAt"] == "2023-11-14T22:14:20.000Z"
        assert h.metric("ml.alerts.firing") == {(("rule", "drift-high"), ("severity", "warning")): 0}
        h.shutdown()
        assert_no_secret(h.log.text())


def test_receiver_answering_500_is_retried_then_counted_without_leaking_secrets(tmp_path: Path) -> None:
    with WebhookReceiver(default_status=500) as rx:
        h = start(tmp_path, alerts_config(rx.url))
        h.tick([sig(0.5)], now=1000.0)
        assert h.plugin.flush(5.0)
        assert len(rx.wait_for(3)) == 3  # first attempt + 2 retries
        assert h.metric("ml.alerts.notification_failures") == {(("channel", "hook"), ("reason", "http_500")): 1}
        retries = h.log.named("ml.alerts.notification_retry")
        assert [kw["attempt"] for _, kw in retries] == [1, 2]
        (_, failed), = h.log.named("ml.alerts.notification_failed")
        assert failed["url"] == f"http://***@127.0.0.1:{rx.port}/hook?token=***&team=***"
        assert failed["kept_in_outbox"] is True
        h.shutdown()
        assert_no_secret(h.log.text(), format_alert_state(tmp_path))


def test_receiver_that_is_down_counts_a_connection_failure(tmp_path: Path) -> None:
    rx = WebhookReceiver()
    rx.start()
    url = rx.url
    rx.stop()
    h = start(tmp_path, alerts_config(url))
    h.tick([sig(0.5)], now=1000.0)
    assert h.plugin.flush(5.0)
    assert h.metric("ml.alerts.notification_failures") == {(("channel", "hook"), ("reason", "connection")): 1}
    h.shutdown()
    assert_no_secret(h.log.text())


def test_slow_receiver_times_out_and_is_retried(tmp_path: Path) -> None:
    with WebhookReceiver(delay=[2.0, 2.0], default_status=200) as rx:
        h = start(tmp_path, alerts_config(rx.url, retries=3))
        h.tick([sig(0.5)], now=1000.0)
        assert h.plugin.flush(10.0)
        assert len(rx.wait_for(3)) == 3
        reasons = [kw["reason"] for _, kw in h.log.named("ml.alerts.notification_retry")]
        assert reasons == ["timeout", "timeout"]
        assert h.metric("ml.alerts.notifications")[(("channel", "hook"), ("status", "firing"))] == 1
        assert h.metric("ml.alerts.notification_failures") == {}
        h.shutdown()


def test_client_error_is_not_retried(tmp_path: Path) -> None:
    with WebhookReceiver(default_status=400) as rx:
        h = start(tmp_path, alerts_config(rx.url))
        h.tick([sig(0.5)], now=1000.0)
        assert h.plugin.flush(5.0)
        assert len(rx.requests) == 1
        assert h.metric("ml.alerts.notification_failures") == {(("channel", "hook"), ("reason", "http_400")): 1}
        h.shutdown()
        assert len(Outbox(tmp_path / OUTBOX_FILE)) == 0


def test_notification_queued_while_receiver_down_is_delivered_after_restart(tmp_path: Path) -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()  # keeps its port; down for the first agent
    h = start(tmp_path, alerts_config(rx.url, retries=0))
    h.tick([sig(0.5)], now=1000.0)
    assert h.plugin.flush(5.0)
    h.shutdown()
    assert len(Outbox(tmp_path / OUTBOX_FILE)) == 1
    with rx:
        h2 = start(tmp_path, alerts_config(rx.url))  # a new plugin instance over the same data dir
        assert h2.plugin.flush(5.0)
        (req,) = rx.wait_for(1)
        assert req.json["status"] == "firing"
        assert req.json["alerts"][0]["labels"]["feature"] == "amount"
        assert h2.metric("ml.alerts.notifications") == {(("channel", "hook"), ("status", "firing")): 1}
        h2.shutdown()
    assert len(Outbox(tmp_path / OUTBOX_FILE)) == 0


def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    with WebhookReceiver(delay=[1.0]) as rx:
        cfg = alerts_config(rx.url, queue_size=1, group_by=["..."])
        cfg["rules"][0]["channels"] = ["hook"]
        h = start(tmp_path, cfg)
        h.tick([sig(0.5, "a"), sig(0.5, "b"), sig(0.5, "c")], now=1000.0)
        assert h.plugin.flush(5.0)
        dropped = h.metric("ml.alerts.notification_failures")[(("channel", "hook"), ("reason", "queue_full"))]
        delivered = h.metric("ml.alerts.notifications")[(("channel", "hook"), ("status", "firing"))]
        assert dropped >= 1 and dropped + delivered == 3
        h.shutdown()


def test_alertmanager_channel_posts_v2_alerts_every_evaluation(tmp_path: Path) -> None:
    with WebhookReceiver() as rx:
        h = start(tmp_path, {
            "no_data_after": 0, "evaluation_interval": "15s", "resolved_resend_for": "20s",
            "external_url": "http://infersight.local",
            "channels": {"am": {"type": "alertmanager", "url": rx.alertmanager_url}},
            "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["am"],
                       "severity": "critical"}],
        })
        for t, v in [(0.0, 0.5), (15.0, 0.5), (30.0, 0.1), (45.0, None), (60.0, None)]:
            h.tick([sig(v)] if v is not None else [], now=1_700_000_000.0 + t)
            assert h.plugin.flush(5.0)
        reqs = rx.wait_for(4, path="/api/v2/alerts")
        assert len(rx.requests) == 4  # resolved re-sent at 30 and 45, dropped after 20 s
        first = reqs[0].json
        assert first == [{
            "labels": {"alertname": "drift-high", "rule": "drift-high", "severity": "critical",
                       "model": "fraud", "version": "3", "feature": "amount"},
            "annotations": first[0]["annotations"],
            "startsAt": "2023-11-14T22:13:20.000Z", "endsAt": "2023-11-14T22:14:20.000Z",
            "generatorURL": "http://infersight.local",
        }]
        assert reqs[1].json[0]["endsAt"] == "2023-11-14T22:14:35.000Z"
        assert [r.json[0]["endsAt"] for r in reqs[2:]] == ["2023-11-14T22:13:50.000Z"] * 2
        h.shutdown()


def test_state_file_feeds_infersight_alerts(tmp_path: Path) -> None:
    h = start(tmp_path, {"group_interval": 0, "no_data_after": 0,
                         "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2}]})
    h.tick([sig(0.5, "amount"), sig(0.1, "age")], now=1000.0)
    text = format_alert_state(tmp_path)
    assert "1 firing, 0 no_data, 0 pending, 0 resolved" in text
    assert "drift-high" in text and "feature=amount" in text and "> 0.2" in text
    h.shutdown()


def test_missing_state_says_so(tmp_path: Path) -> None:
    assert "No alert state" in format_alert_state(tmp_path)


def test_config_error_fails_configure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        start(tmp_path, {"rules": [{"name": "r", "signal": PSI, "threshold": 1, "op": "~"}]})
    assert info.value.key == "alerts.rules['r'].op"


def test_no_rules_and_empty_outbox_keeps_plugin_inert(tmp_path: Path) -> None:
    h = start(tmp_path, {})
    h.tick([sig(0.5)], now=0.0)
    assert h.plugin.delivery is None and not (tmp_path / OUTBOX_FILE).exists()
    h.shutdown()


def test_bad_runtime_signal_never_raises(tmp_path: Path) -> None:
    h = start(tmp_path, {"no_data_after": 0, "rules": [{"name": "r", "signal": PSI, "threshold": 1}]})
    weird = Signal(PSI, "not a number", {"model": "m"})  # type: ignore[arg-type]
    h.tick([weird, sig(0.5)], now=0.0)
    assert h.log.named("ml.alerts.evaluation_error")
    h.shutdown()
