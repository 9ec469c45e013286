"""Notifiers that raise, block or cannot even be printed: the other channels still deliver, failures are counted.

Every notifier call goes through the host's guard (``PluginContext.notify``), and each
channel has its own delivery lane, so a bad notifier costs only its own channel.
"""

from __future__ import annotations

from typing import Any

from tests.plugins.alerts.support import (
    PSI,
    BlockingNotifier,
    HostileNotifier,
    RaisingNotifier,
    UnprintableNotifier,
    delivered,
    metric,
    run_alerts,
    sig,
)
from tests.support.webhook import WebhookReceiver


def config(url: str, channels: list[str], **extra: Any) -> dict[str, Any]:
    """A rule sent to a healthy webhook, the log channel and the third-party channel types named."""
    return {
        "no_data_after": 0, "group_interval": 0, "retries": 1, "backoff": 0.01, "backoff_max": 0.02,
        "channels": {"hook": {"type": "webhook", "url": url + "/hook", "timeout": 2},
                     **{c: {"type": c} for c in channels}},
        "rules": [{"name": "drift-high", "signal": PSI, "threshold": 0.2, "channels": [*channels, "hook", "log"]}],
        **extra,
    }


def failures(h: Any) -> dict[str, str]:
    """Given-up notifications: channel -> reason."""
    return {dict(k)["ml.alerts.channel"]: dict(k)["ml.alerts.reason"]
            for k, v in metric(h, "ml.alerts.notification_failures").items() if v}


def sent(h: Any) -> dict[str, float]:
    """Delivered notifications by channel."""
    return {dict(k)["ml.alerts.channel"]: v for k, v in metric(h, "ml.alerts.notifications").items()}


def test_a_blocked_notifier_holds_up_only_its_own_channel() -> None:
    blocking = BlockingNotifier()
    with WebhookReceiver() as rx, run_alerts(config(rx.url, ["blocking"]), extra=[("blocking", blocking)]) as (h, src):
        src.publish(sig(0.5))
        h.tick()
        (req,) = rx.wait_for(1)  # while the blocking notifier still holds its call (notify_timeout is 60 s)
        assert req.json["status"] == "firing"
        assert blocking.calls == 1 and not h.events("ml.agent.plugin_timeout")
        blocking.release.set()
        delivered(h)
        assert sent(h) == {"hook": 1, "log": 1, "blocking": 1}


def test_raising_overrunning_and_unprintable_notifiers_are_counted_and_given_up() -> None:
    blocking = BlockingNotifier()
    bad = [("raising", RaisingNotifier()), ("blocking", blocking), ("unprintable", UnprintableNotifier())]
    try:
        with WebhookReceiver() as rx, run_alerts(config(rx.url, [name for name, _ in bad]),
                                                 agent={"notify_timeout": 0.5}, extra=bad) as (h, src):
            src.publish(sig(0.5))
            h.tick()
            (req,) = rx.wait_for(1)
            assert req.json["alerts"][0]["labels"]["feature"] == "amount"
            delivered(h)
            assert sent(h) == {"hook": 1, "log": 1}
            # One retry each (retries = 1), then given up: never retried for ever.
            assert failures(h) == {"raising": "notifier_error", "unprintable": "notifier_error",
                                   "blocking": "no_notifier"}
            retries = {(e["ml.alerts.channel"], e["ml.alerts.reason"])
                       for e in h.events("ml.alerts.notification_retry")}
            assert retries == {("raising", "notifier_error"), ("unprintable", "notifier_error"),
                               ("blocking", "notifier_timeout")}
            # The host counted each failure, disabled the notifier that overran, kept the others.
            assert h.plugin_errors == 5
            assert h.plugin("blocking") is None and h.plugin("raising") is not None
            (failed,) = [e for e in h.events("ml.alerts.notification_failed")
                         if e["ml.alerts.channel"] == "unprintable"]
            assert "unprintable" in failed["ml.alerts.error"]
            assert failed["ml.alerts.kept_in_outbox"] is True  # a later start tries again
    finally:
        blocking.release.set()


def test_a_notifier_failing_on_every_channel_is_disabled_and_delivery_resumes() -> None:
    cfg = config("http://127.0.0.1:1", [], retries=3)
    with WebhookReceiver() as rx:
        cfg["channels"]["hook"]["url"] = rx.url + "/hook"
        with run_alerts(cfg, agent={"plugin_max_failures": 2}, extra=[("hostile", HostileNotifier())]) as (h, src):
            src.publish(sig(0.5))
            h.tick()
            delivered(h)
            assert len(rx.wait_for(1)) == 1
            assert sent(h) == {"hook": 1, "log": 1}
            assert failures(h) == {}
            assert h.plugin("hostile") is None
            assert h.plugin_errors == 2
            # The host asked the next notifier after each failure: nothing had to be retried.
            assert h.events("ml.alerts.notification_retry") == []
