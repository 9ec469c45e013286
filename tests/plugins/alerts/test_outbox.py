"""The SQLite outbox: persistence across instances, replacement of superseded re-posts, expiry."""

from __future__ import annotations

from pathlib import Path

from agent.plugin import Alert, Notification
from plugins.alerts.outbox import Outbox, notification_from_dict, notification_to_dict


def make(group: str = "g") -> Notification:
    """A one-alert notification."""
    a = Alert(rule="r", status="firing", labels={"model": "m"}, annotations={"summary": "s"}, severity="warning",
              value=1.5, threshold=1.0, starts_at=10.0, ends_at=None, fingerprint="abc")
    return Notification(group_key=group, group_labels={"rule": "r"}, status="firing", alerts=(a,), receiver="hook")


def test_round_trip_is_exact() -> None:
    n = make()
    assert notification_from_dict(notification_to_dict(n)) == n


def test_rows_survive_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    row = box.add("hook", make(), now=100.0)
    box.record_failure(row, "connection: refused")
    box.close()
    (entry,) = Outbox(tmp_path / "o.sqlite3").pending()
    assert (entry.id, entry.channel, entry.attempts, entry.notification) == (row, "hook", 1, make())


def test_replace_key_supersedes_older_row(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    first = box.add("am", make("am:{}"), now=1.0, replace_key="am:{}")
    second = box.add("am", make("am:{}"), now=2.0, replace_key="am:{}")
    assert not box.exists(first) and box.exists(second) and len(box) == 1


def test_expire_drops_old_rows(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.add("hook", make(), now=1.0)
    box.add("hook", make(), now=100.0)
    assert box.expire(older_than=50.0) == 1 and len(box) == 1
