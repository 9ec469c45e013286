"""Persisted outbox (SQLite in the data directory): a notification stays here until it is delivered.

Rows written before a restart are loaded by the next plugin start and delivered then. The
database (and SQLite's ``-wal``/``-shm`` files, which copy its mode) is owner-only by default. A
notification with a ``replace_key`` (the Alertmanager re-post of a group) supersedes the
older undelivered row with the same key, so an outage does not pile up stale re-posts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.plugin import Alert, Notification
from plugins.alerts.files import DIR_MODE, FILE_MODE, private_dir, private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    replace_key TEXT UNIQUE,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
)
"""


def notification_to_dict(n: Notification) -> dict[str, Any]:
    """Plain-data form of a notification (JSON-ready)."""
    return {
        "group_key": n.group_key, "group_labels": dict(n.group_labels), "status": n.status,
        "receiver": n.receiver,
        "alerts": [
            {
                "rule": a.rule, "status": a.status, "labels": dict(a.labels),
                "annotations": dict(a.annotations), "severity": a.severity, "value": a.value,
                "threshold": a.threshold, "starts_at": a.starts_at,
                "ends_at": a.ends_at, "fingerprint": a.fingerprint, "generator_url": a.generator_url,
            }
            for a in n.alerts
        ],
    }


def notification_from_dict(d: Mapping[str, Any]) -> Notification:
    """Inverse of ``notification_to_dict``."""
    return Notification(
        group_key=d["group_key"], group_labels=dict(d["group_labels"]), status=d["status"],
        receiver=d["receiver"], alerts=tuple(Alert(**a) for a in d["alerts"]),
    )


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One undelivered notification with its row id and delivery history."""

    id: int
    channel: str
    notification: Notification
    created: float
    attempts: int


class Outbox:
    """Thread-safe SQLite outbox: the worker adds rows, the delivery thread removes them."""

    def __init__(self, path: Path, file_mode: int = FILE_MODE, dir_mode: int = DIR_MODE) -> None:
        private_dir(path.parent, dir_mode)
        private_file(path, file_mode)
        for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if side.exists():
                private_file(side, file_mode)  # left 0644 by an older version
        self.path = path
        self._lock = threading.Lock()
        # One connection shared under a lock: the worker and the delivery thread both use it.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self.unreadable = 0  # rows ``pending`` could not read (and removed), for the plugin to count

    def add(
        self, channel: str, notification: Notification, now: float, replace_key: str | None = None
    ) -> int:
        """Persist a notification for ``channel``; returns its row id."""
        payload = json.dumps(notification_to_dict(notification))
        with self._lock:
            if replace_key is not None:
                self._db.execute("DELETE FROM outbox WHERE replace_key = ?", (replace_key,))
            cur = self._db.execute(
                "INSERT INTO outbox (channel, replace_key, payload, created) VALUES (?, ?, ?, ?)",
                (channel, replace_key, payload, now),
            )
            return int(cur.lastrowid or 0)

    def exists(self, row_id: int) -> bool:
        """Whether the row is still undelivered (not delivered, dropped or superseded)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM outbox WHERE id = ?", (row_id,)).fetchone() is not None

    def remove(self, row_id: int) -> None:
        """Forget a row (delivered, or given up for good)."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def record_failure(self, row_id: int, error: str) -> None:
        """Count a failed attempt; ``error`` must already be free of secrets."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], row_id),
            )

    def pending(self) -> list[OutboxEntry]:
        """Every undelivered row, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, channel, payload, created, attempts FROM outbox ORDER BY id"
            ).fetchall()
        out = []
        for row_id, channel, payload, created, attempts in rows:
            try:
                note = notification_from_dict(json.loads(payload))
            except (ValueError, KeyError, TypeError):
                self.remove(row_id)  # unreadable (written by an incompatible version): nothing to deliver
                self.unreadable += 1
                continue
            out.append(OutboxEntry(row_id, channel, note, created, attempts))
        return out

    def expire(self, older_than: float) -> int:
        """Delete rows created before ``older_than``; returns how many."""
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE created < ?", (older_than,))
            return cur.rowcount

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
