"""The alerts plugin on the real host: built-in notifiers, loopback receivers, the SQLite outbox, restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.plugin import ConfigError, Signal
from agent.testing import ManualClock
from plugins.alerts.state import OUTBOX_FILE
from tests.plugins.alerts.support import PSI, T0, delivered, evaluate, events_text, metric, run_alerts, sig
from tests.support.webhook import WebhookReceiver

TOKEN = "s3cr3tT0kenXYZ"
PATH_TOKEN = "T0kenInThePath12345"
PASSWORD = "hunter2pass"
HEADER_SECRET = "Bearer hdrSecretABC123"
SECRETS = (TOKEN, PATH_TOKEN, PASSWORD, "hdrSecretABC123")
HOOK = "ml.alerts.channel", "hook"
LOG = "ml.alerts.channel", "log"
DRIFT_HIGH = ("ml.alerts.rule", "drift-high"), ("ml.alerts.severity", "warning")


def alerts_config(url: str, **extra: Any) -> dict[str, Any]:
    """One rule sent to a webhook channel (and the log channel) whose URL and headers carry planted secrets."""
    secret_url = url.replace("http://", f"http://alertbot:{PASSWORD}@") + f"/hook/{PATH_TOKEN}?token={TOKEN}&team=ml"
    return {
        "group_interval": 0, "no_data_after": 0, "retries": 2, "backoff": 0.01, "backoff_max": 0.04,
        "channels": {"hook": {"type": "webhook", "url": secret_url, "timeout": 0.5,
                              "headers": {"Authorization": HEADER_SECRET}}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["hook", "log"]}],
        **extra,
    }


def assert_no_secret(*texts: str) -> None:
    """None of the planted secrets appears in any of ``texts``."""
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def outbox_rows(data_dir: Path) -> list[tuple[str, int, str]]:
    """(channel, attempts, last_error) of every undelivered row in the outbox file."""
    with sqlite3.connect(data_dir / OUTBOX_FILE) as db:
        return list(db.execute("SELECT channel, attempts, last_error FROM outbox ORDER BY id"))


def test_firing_alert_reaches_webhook_and_log_with_exact_payload() -> None:
    with WebhookReceiver() as rx, run_alerts(alerts_config(rx.url, external_url="http://infersight.local")) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        (req,) = rx.wait_for(1)
        assert (req.path, req.query) == (f"/hook/{PATH_TOKEN}", f"token={TOKEN}&team=ml")
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
        assert alert["annotations"]["summary"] == (
            "ml.drift.psi is 0.5 (threshold: > 0.2) for model=fraud version=3 feature=amount")
        (note,) = h.events("ml.alerts.notification")
        assert (note["ml.alerts.status"], note["ml.alerts.channel"]) == ("firing", "log")
        assert note["ml.alerts.headline"] == "[FIRING:1] model=fraud rule=drift-high"
        records = [getattr(r, "log_record", r) for r in h.log_records()]
        assert [r.severity_text for r in records if r.body == "ml.alerts.notification"] == ["WARNING"]
        assert metric(h, "ml.alerts.notifications") == {
            (HOOK, ("ml.alerts.status", "firing")): 1, (LOG, ("ml.alerts.status", "firing")): 1,
        }
        assert metric(h, "ml.alerts.firing") == {DRIFT_HIGH: 1}

        evaluate(h, src, sig(0.1), advance=60)
        delivered(h)
        second = rx.wait_for(2)[1].json
        assert second["status"] == "resolved"
        assert second["alerts"][0]["endsAt"] == "2023-11-14T22:14:20.000Z"
        assert metric(h, "ml.alerts.firing") == {DRIFT_HIGH: 0}
        assert_no_secret(events_text(h))


def test_receiver_answering_500_is_retried_then_given_up_and_kept_without_leaking_secrets(tmp_path: Path) -> None:
    with WebhookReceiver(default_status=500) as rx, run_alerts(alerts_config(rx.url), data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert len(rx.wait_for(3)) == 3  # first attempt + 2 retries
        assert metric(h, "ml.alerts.notification_failures") == {(HOOK, ("ml.alerts.reason", "http_500")): 1}
        assert [e["ml.alerts.attempts"] for e in h.events("ml.alerts.notification_retry")] == [1, 2]
        (failed,) = h.events("ml.alerts.notification_failed")
        assert failed["ml.alerts.url"] == f"http://***@127.0.0.1:{rx.port}/hook/***?token=***&team=***"
        assert failed["ml.alerts.kept_in_outbox"] is True
        assert_no_secret(events_text(h))
    ((channel, attempts, last_error),) = outbox_rows(tmp_path)
    assert (channel, attempts) == ("hook", 3) and last_error.startswith("http_500: HTTP 500 from http://***@")
    assert_no_secret(last_error)


def test_receiver_that_is_down_counts_a_connection_failure() -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()  # a port nobody listens on
    with run_alerts(alerts_config(rx.url)) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert metric(h, "ml.alerts.notification_failures") == {(HOOK, ("ml.alerts.reason", "connection")): 1}
        assert_no_secret(events_text(h))


def test_slow_receiver_times_out_and_is_retried() -> None:
    with WebhookReceiver(delay=[1.0, 1.0]) as rx, run_alerts(alerts_config(rx.url, retries=3)) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert len(rx.wait_for(3)) == 3
        assert [e["ml.alerts.reason"] for e in h.events("ml.alerts.notification_retry")] == ["timeout", "timeout"]
        assert metric(h, "ml.alerts.notifications")[(HOOK, ("ml.alerts.status", "firing"))] == 1
        assert metric(h, "ml.alerts.notification_failures") == {}


def test_client_error_is_given_up_at_once_and_dropped(tmp_path: Path) -> None:
    with WebhookReceiver(default_status=400) as rx, run_alerts(alerts_config(rx.url), data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
        assert len(rx.requests) == 1
        assert metric(h, "ml.alerts.notification_failures") == {(HOOK, ("ml.alerts.reason", "http_400")): 1}
    assert outbox_rows(tmp_path) == []


def test_notification_queued_while_receiver_down_is_delivered_after_restart(tmp_path: Path) -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()  # keeps its port; down for the first agent
    with run_alerts(alerts_config(rx.url, retries=0), data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        delivered(h)
    assert [row[0] for row in outbox_rows(tmp_path)] == ["hook"]  # the log channel delivered
    with rx, run_alerts(alerts_config(rx.url), data_dir=tmp_path) as (h2, _):
        delivered(h2)
        (req,) = rx.wait_for(1)
        assert req.json["status"] == "firing"
        assert req.json["alerts"][0]["labels"]["feature"] == "amount"
        assert metric(h2, "ml.alerts.notifications") == {(HOOK, ("ml.alerts.status", "firing")): 1}
        (started,) = h2.events("ml.alerts.started")
        assert started["ml.alerts.redelivering"] == 1
    assert outbox_rows(tmp_path) == []


def test_full_queue_drops_and_counts() -> None:
    with WebhookReceiver(delay=[0.5]) as rx:
        cfg = alerts_config(rx.url, queue_size=1, group_by=["..."])
        cfg["rules"][0]["channels"] = ["hook"]
        with run_alerts(cfg) as (h, src):
            src.publish(sig(0.5, "a"), sig(0.5, "b"), sig(0.5, "c"))
            h.tick()
            delivered(h)
            assert metric(h, "ml.alerts.notification_failures") == {(HOOK, ("ml.alerts.reason", "queue_full")): 2}
            assert metric(h, "ml.alerts.notifications") == {(HOOK, ("ml.alerts.status", "firing")): 1}
            assert len(h.events("ml.alerts.queue_full")) == 2


def test_alertmanager_channel_posts_v2_alerts_every_evaluation() -> None:
    with WebhookReceiver() as rx, run_alerts({
        "no_data_after": 0, "evaluation_interval": "15s", "resolved_resend_for": "20s",
        "external_url": "http://infersight.local",
        "channels": {"am": {"type": "alertmanager", "url": rx.alertmanager_url}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["am"], "severity": "critical"}],
    }) as (h, src):
        for advance, value in [(0.0, 0.5), (15.0, 0.5), (15.0, 0.1), (15.0, None), (15.0, None)]:
            evaluate(h, src, *([sig(value)] if value is not None else []), advance=advance)
            delivered(h)
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


def test_outbox_left_over_a_restart_is_resent_with_fresh_ends_at_and_resolved_stays_resolved(tmp_path: Path) -> None:
    am, hook = WebhookReceiver(), WebhookReceiver()
    for rx in (am, hook):
        rx.start()
        rx.stop()  # down for the first agent; the same ports come back for the second
    cfg = {
        "no_data_after": 0, "group_interval": 0, "evaluation_interval": "15s", "resolved_resend_for": "1h",
        "retries": 0,
        "channels": {"am": {"type": "alertmanager", "url": am.url, "timeout": 0.5},
                     "hook": {"type": "webhook", "url": hook.url + "/hook", "timeout": 0.5}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": ["am", "hook"]}],
    }
    with run_alerts(cfg, data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5, "amount", model="fraud"), sig(0.5, "age", model="churn"))
        h.tick()
        delivered(h)
        evaluate(h, src, sig(0.1, "amount", model="fraud"), sig(0.5, "age", model="churn"), advance=15)
        delivered(h)
    # Left in the outbox: the latest Alertmanager post (superseding the first) and three webhook notifications.
    assert [row[0] for row in outbox_rows(tmp_path)] == ["hook", "hook", "am", "hook"]

    restart = ManualClock(T0 + 3600)  # an hour later
    with am, hook, run_alerts(cfg, data_dir=tmp_path, clock=restart) as (h2, _):
        delivered(h2)
        (post,) = am.wait_for(1, path="/api/v2/alerts")
        by_feature = {a["labels"]["feature"]: a for a in post.json}
        # Still firing: endsAt moved on by the hour it waited (T0 + 15 s + 4 x 15 s + 3585 s), not expired.
        assert by_feature["age"]["endsAt"] == "2023-11-14T23:14:20.000Z"
        assert by_feature["age"]["startsAt"] == "2023-11-14T22:13:20.000Z"
        # Resolved: keeps its endsAt in the past, so Alertmanager does not take it as firing again.
        assert by_feature["amount"]["endsAt"] == "2023-11-14T22:13:35.000Z"
        posts = [r.json for r in hook.wait_for(3)]
        assert [(p["groupLabels"]["model"], p["status"]) for p in posts] == [
            ("churn", "firing"), ("fraud", "firing"), ("fraud", "resolved")]
        assert posts[2]["alerts"][0]["status"] == "resolved"
    assert outbox_rows(tmp_path) == []


def test_state_file_feeds_infersight_alerts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = [{"name": "drift-high", "signal": PSI, "threshold": 0.2}]
    with run_alerts({"group_interval": 0, "no_data_after": 0, "rules": rules}, data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5, "amount"), sig(0.1, "age"))
        h.tick()
        delivered(h)
    assert main(["alerts", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "1 firing, 0 no_data, 0 pending, 0 resolved" in text
    assert "drift-high" in text and "feature=amount" in text and "> 0.2" in text
    assert "- ml.drift.psi is 0.5 (threshold: > 0.2) for model=fraud version=3 feature=amount" in text


def test_missing_state_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", str(tmp_path)]) == 0
    assert "No alert state" in capsys.readouterr().out


def test_missing_directory_or_unreadable_state_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"error: no data directory at {tmp_path / 'nope'}\n"
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "state.json").write_bytes(b"\xff\x00 not json")
    assert main(["alerts", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the alert state ") and err.count("\n") == 1


def test_config_error_fails_the_agent_start() -> None:
    with pytest.raises(ConfigError) as info, run_alerts({"rules": [{"name": "r", "signal": PSI, "threshold": 1,
                                                                    "op": "~"}]}):
        pass
    assert info.value.key == "alerts.rules['r'].op"


def test_renamed_key_names_its_new_name() -> None:
    with pytest.raises(ConfigError) as info, run_alerts({"resolve_timeout": "5m"}):
        pass
    assert info.value.key == "alerts.resolve_timeout" and "no_data_after" in str(info.value)


def test_no_rules_and_empty_outbox_keeps_plugin_inert(tmp_path: Path) -> None:
    with run_alerts({}, data_dir=tmp_path) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        assert h.plugin("alerts").delivery is None
    assert not (tmp_path / OUTBOX_FILE).exists()


def test_malformed_signals_are_skipped_alone_and_counted() -> None:
    with run_alerts({"group_interval": 0, "no_data_after": 0,
                     "rules": [{"name": "r", "signal": PSI, "threshold": 0.2}]}) as (h, src):
        src.publish(
            Signal(PSI, "high", {"model": "fraud"}),  # type: ignore[arg-type]
            Signal(PSI, 0.5, {"model": ["fraud"]}),  # type: ignore[dict-item]
            Signal(PSI, 0.5, ["model", "fraud"]),  # type: ignore[arg-type]
            sig(0.5),
        )
        h.tick()
        delivered(h)
        assert metric(h, "ml.alerts.skipped_signals") == {
            (("ml.alerts.reason", "not_a_number"),): 1, (("ml.alerts.reason", "malformed_signal"),): 2,
        }
        assert h.plugin_errors == 0
        (note,) = h.events("ml.alerts.notification")
        assert note["ml.alerts.status"] == "firing"


def test_delivery_thread_counts_what_it_catches_and_gives_up(tmp_path: Path) -> None:
    with WebhookReceiver(delay=[0.5]) as rx:
        cfg = alerts_config(rx.url, retries=1)
        cfg["rules"][0]["channels"] = ["hook"]
        with run_alerts(cfg, data_dir=tmp_path) as (h, src):
            src.publish(sig(0.5))
            h.tick()
            rx.wait_for(1)  # the answer is delayed: the outbox goes away while the attempt is in flight
            h.plugin("alerts").outbox.close()
            delivered(h)
            assert metric(h, "ml.alerts.delivery_errors") == {(HOOK,): 2}
            assert metric(h, "ml.alerts.notification_failures") == {(HOOK, ("ml.alerts.reason", "internal_error")): 1}
            assert [e["ml.alerts.channel"] for e in h.events("ml.alerts.delivery_error")] == ["hook", "hook"]
            assert len(rx.requests) == 1  # delivered once, never re-sent
            assert h.plugin_errors == 0
