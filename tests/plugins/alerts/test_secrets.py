"""No secret in any log line, error, file or CLI output: URL tokens and credentials, header values, SMTP passwords.

Every channel fails in its own way (HTTP 500, HTTP 400, refused connection, refused login),
with every log level on and printed to stderr, so the retry and give-up paths all run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.cli import main
from agent.plugin import ConfigError
from plugins.alerts.state import OUTBOX_FILE
from tests.plugins.alerts.support import PSI, delivered, events_text, metric, run_alerts, sig
from tests.support.smtp import SMTPReceiver
from tests.support.webhook import WebhookReceiver

QUERY_TOKEN = "qT0ken-9f8e7d6c"
PATH_TOKEN = "B0000XYZ1abcdefghijklmnop"
USER_PASSWORD = "us3rPassw0rd"
HEADER_VALUE = "Bearer hdr-S3cret-value"
SMTP_PASSWORD = "smtp-Pa55-word"
AM_TOKEN = "amT0kenZZZ111222"
SECRETS = (QUERY_TOKEN, PATH_TOKEN, USER_PASSWORD, "hdr-S3cret-value", SMTP_PASSWORD, AM_TOKEN)


def assert_clean(text: str) -> None:
    """None of the planted secrets appears in ``text``."""
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"secrets leaked: {leaked}"


def test_failing_channels_never_show_a_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    down = WebhookReceiver()
    down.start()
    down.stop()
    with WebhookReceiver(default_status=500) as hook, WebhookReceiver(default_status=400) as slack, \
            SMTPReceiver(credentials=("alerts", "the-right-one")) as smtp:
        channels = {
            "hook": {"type": "webhook", "url": hook.url.replace("http://", f"http://bot:{USER_PASSWORD}@")
                     + f"/in?token={QUERY_TOKEN}", "headers": {"Authorization": HEADER_VALUE}, "timeout": 2},
            "slack": {"type": "webhook", "format": "slack", "url": f"{slack.url}/services/T000/{PATH_TOKEN}",
                      "timeout": 2},
            "am": {"type": "alertmanager", "url": f"{down.url}/{AM_TOKEN}", "headers": {"X-Token": HEADER_VALUE},
                   "timeout": 2},
            "mail": {"type": "email", "host": smtp.host, "port": smtp.port, "starttls": False, "timeout": 5,
                     "username": "alerts", "password": SMTP_PASSWORD, "from": "a@example.com", "to": "b@example.com"},
        }
        cfg = {"no_data_after": 0, "group_interval": 0, "retries": 1, "backoff": 0.01, "backoff_max": 0.02,
               "channels": channels,
               "rules": [{"name": "r", "signal": PSI, "threshold": 0.2, "channels": [*channels, "log"]}]}
        with run_alerts(cfg, data_dir=tmp_path, agent={"log_level": "debug", "stderr_level": "debug"}) as (h, src):
            src.publish(sig(0.5))
            h.tick()
            delivered(h)
            reasons = {dict(k)["ml.alerts.channel"]: dict(k)["ml.alerts.reason"]
                       for k in metric(h, "ml.alerts.notification_failures")}
            assert reasons == {"hook": "http_500", "slack": "http_400", "am": "connection", "mail": "smtp_auth"}
            logged = events_text(h)
        assert len(hook.requests) == 2 and len(slack.requests) == 1
    assert "ml.alerts.notification_failed" in logged and "ml.alerts.started" in logged
    assert_clean(logged)
    assert_clean(capsys.readouterr().err)
    with sqlite3.connect(tmp_path / OUTBOX_FILE) as db:
        errors = [row[0] for row in db.execute("SELECT last_error FROM outbox")]
    assert len(errors) == 2 and all(errors)  # hook and am kept for a later start, with why
    assert_clean("\n".join(errors))
    assert main(["alerts", str(tmp_path)]) == 0
    assert_clean(capsys.readouterr().out)


@pytest.mark.parametrize("channel", [
    {"type": "webhook", "url": f"ftp://bot:{USER_PASSWORD}@h/x?token={QUERY_TOKEN}"},
    {"type": "webhook", "url": f"http://h:port{PATH_TOKEN}/x"},
    {"type": "alertmanager", "url": f"http://[::1/{AM_TOKEN}"},
    {"type": "webhook", "url": "http://h/x", "headers": {"Authorization": f"{HEADER_VALUE}\r\nX: y"}},
    {"type": "webhook", "url": "http://h/x", "headers": {"Authorization": 5, "X": HEADER_VALUE}},
    {"type": "email", "host": "h", "from": "a@x", "to": "b@x", "password": 12, "username": SMTP_PASSWORD},
])
def test_config_errors_never_echo_a_secret(channel: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info, run_alerts({"channels": {"c": channel}}):
        pass
    assert info.value.key.startswith("alerts.channels.c")
    assert_clean(str(info.value))
