"""Channel secrets never shown: URL credentials and tokens, header values, passwords (URL masking is the core's)."""

from __future__ import annotations

from agent.plugin import Channel
from plugins.alerts.config import parse_alerts_config
from plugins.alerts.redact import redacted_channel_config, scrub


def test_redacted_channel_config_masks_every_secret() -> None:
    cfg = parse_alerts_config({"channels": {
        "hook": {"type": "webhook", "url": "https://u:p4ss@h/x?token=t0k3n", "headers": {"X-Api-Key": "k3y-value"}},
        "mail": {"type": "email", "host": "smtp", "from": "a@x", "to": "b@x", "username": "me",
                 "password": "smtp-secret"},
    }})
    shown = redacted_channel_config(cfg.channels)
    text = repr(shown)
    for secret in ("p4ss", "t0k3n", "k3y-value", "smtp-secret"):
        assert secret not in text
    assert shown["hook"]["headers"] == {"X-Api-Key": "***"}
    assert shown["mail"]["password"] == "***" and shown["mail"]["username"] == "me"
    assert shown["hook"]["type"] == "webhook"


def test_redacted_channel_config_accepts_raw_tables() -> None:
    shown = redacted_channel_config({"h": {"type": "webhook", "url": "http://h/?sig=abc", "token": "zzz"}})
    assert shown == {"h": {"type": "webhook", "url": "http://h/?sig=***", "token": "***"}}


def test_scrub_removes_secrets_from_foreign_error_text() -> None:
    ch = Channel("h", "webhook", {"url": "https://u:pw12@h/x?token=tok999", "headers": {"A": "hdr-secret"}})
    text = scrub("failed https://u:pw12@h/x?token=tok999 with hdr-secret and tok999 and pw12", ch)
    assert "tok999" not in text and "hdr-secret" not in text and "pw12" not in text
