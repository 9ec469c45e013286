"""What the alerts plugin writes in the data directory is owner-only: the directory 0700, its files 0600."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from plugins.alerts.state import OUTBOX_FILE, STATE_FILE
from tests.plugins.alerts.support import PSI, delivered, run_alerts, sig
from tests.support.webhook import WebhookReceiver


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return os.stat(path).st_mode & 0o777


def test_outbox_state_and_their_directory_are_owner_only(tmp_path: Path) -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()  # down: the notification stays in the outbox
    cfg = {"no_data_after": 0, "group_interval": 0, "retries": 0,
           "channels": {"hook": {"type": "webhook", "url": rx.url + "/hook", "timeout": 0.5}},
           "rules": [{"name": "r", "signal": PSI, "threshold": 0.2, "channels": ["hook"]}]}
    old = os.umask(0o022)  # the usual umask: files 0644 unless created otherwise
    try:
        with run_alerts(cfg, data_dir=tmp_path) as (h, src):
            src.publish(sig(0.5))
            h.tick()
            delivered(h)
            directory = tmp_path / OUTBOX_FILE.parent
            files = sorted(p.name for p in directory.iterdir())
            assert files == ["outbox.sqlite3", "outbox.sqlite3-shm", "outbox.sqlite3-wal", "state.json"]
            assert mode(directory) == 0o700
            assert {name: mode(directory / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        os.umask(old)
    with sqlite3.connect(tmp_path / OUTBOX_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (1,)


def test_files_an_older_version_left_world_readable_are_tightened(tmp_path: Path) -> None:
    directory = tmp_path / OUTBOX_FILE.parent
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    with sqlite3.connect(tmp_path / OUTBOX_FILE) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    for path in directory.iterdir():
        os.chmod(path, 0o644)
    with run_alerts({"no_data_after": 0, "rules": [{"name": "r", "signal": PSI, "threshold": 0.2}]},
                    data_dir=tmp_path) as (h, _):
        h.tick()
    assert mode(directory) == 0o700
    assert {p.name: mode(p) for p in directory.iterdir()} == {p.name: 0o600 for p in directory.iterdir()}
    assert (tmp_path / STATE_FILE).exists()
