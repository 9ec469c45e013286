"""The feedback store: group commit from threads, durability across kill -9, dedup, retention, marks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from agent.plugin import FeedbackEvent
from plugins.feedback.store import FeedbackStore, PredictionRow

REPO = Path(__file__).resolve().parents[3]


def _event(pid: str = "p1", kind: str = "click", **kw: object) -> FeedbackEvent:
    return FeedbackEvent(event_id=uuid.uuid4().hex, prediction_id=pid, kind=kind, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["group", "direct"])
def test_concurrent_appends_are_all_stored(tmp_path: Path, mode: str) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite", commit_mode=mode, max_wait_s=0.001)  # type: ignore[arg-type]
    ids: list[list[str]] = [[] for _ in range(4)]

    def work(k: int) -> None:
        for _ in range(300):
            ids[k].append(store.append(_event()).event_id)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = {r.event.event_id for r in store.after(0, 10_000)}
    assert stored == {i for part in ids for i in part}
    if mode == "group":
        assert store.commits < 1200  # threads shared transactions
    store.close()


@pytest.mark.parametrize("mode", ["group", "direct"])
def test_duplicate_event_id_is_ignored_and_counted(tmp_path: Path, mode: str) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite", commit_mode=mode)  # type: ignore[arg-type]
    ev = _event(value=1)
    store.append(ev)
    store.append(ev)
    assert store.counts()["feedback"] == 1
    assert store.duplicates == 1
    store.close()


@pytest.mark.parametrize("mode", ["group", "direct"])
def test_append_fills_model_from_stored_prediction(tmp_path: Path, mode: str) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite", commit_mode=mode)  # type: ignore[arg-type]
    store.add_predictions([PredictionRow("p9", 0, 1.0, "fraud", "3", 0.7)])
    assert store.append(_event("p9")).model == "fraud"
    assert store.append(_event("unknown")).model is None
    store.close()


def test_events_round_trip_with_values_and_attributes(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    ev = _event("p1", "label", value=[1, "a"], item_id="i3", position=2, timestamp=12.5,
                attributes={"pscore": 0.1, "exploration": True})
    store.append(ev)
    back = store.after(0)[0].event
    assert back == ev
    store.close()


def test_retention_prunes_by_age_and_by_row_count(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.add_predictions([PredictionRow(f"p{i}", 0, float(i), "m", "1") for i in range(100)])
    res = store.prune(now=100.0, max_age_s=80.0, max_rows=50)
    assert res.predictions_by_age == 20  # ts 0..19 are older than 100 - 80
    assert res.predictions_by_count == 30  # then only the newest 50 stay
    left = store.predictions_for(f"p{i}" for i in range(100))
    assert sorted(left) == sorted(f"p{i}" for i in range(50, 100))
    store.close()


def test_feedback_is_pruned_only_behind_export_and_join_marks(tmp_path: Path) -> None:
    clock_now = [0.0]
    store = FeedbackStore(tmp_path / "fb.sqlite", clock=lambda: clock_now[0])
    for _ in range(10):
        store.append(_event())
    store.mark_exported(6)
    store.set_mark("join", 4)
    res = store.prune(now=1000.0, max_age_s=1e9, max_rows=10, feedback_max_age_s=10.0)
    assert res.feedback == 4
    assert [r.seq for r in store.after(0)] == list(range(5, 11))
    store.close()


@pytest.mark.parametrize(("policy", "second_used"), [("first", False), ("last", True)])
def test_second_label_follows_policy(tmp_path: Path, policy: str, second_used: bool) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    assert store.claim_label("p", 0, "e1", policy) == (True, False)  # type: ignore[arg-type]
    assert store.claim_label("p", 0, "e2", policy) == (second_used, True)  # type: ignore[arg-type]
    assert store.claim_label("p", 0, "e2" if second_used else "e1", policy) == (False, False)  # type: ignore[arg-type]
    store.close()


_CHILD = textwrap.dedent(
    """
    import sys, threading, uuid
    from agent.plugin import FeedbackEvent
    from plugins.feedback.store import FeedbackStore
    store = FeedbackStore(sys.argv[1], commit_mode=sys.argv[2] if len(sys.argv) > 2 else "auto")
    lock = threading.Lock()
    def work():
        while True:
            ev = store.append(FeedbackEvent(uuid.uuid4().hex, "p", "click"))
            with lock:  # printed only after append returned: the event is acknowledged
                sys.stdout.write(ev.event_id + "\\n")
                sys.stdout.flush()
    for _ in range(4):
        threading.Thread(target=work, daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.parametrize("mode", ["group", "direct"])
def test_acknowledged_events_survive_sigkill(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "fb.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), mode], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    acked = [child.stdout.readline().strip() for _ in range(2000)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    acked += [line.strip() for line in child.stdout if line.strip()]
    store = FeedbackStore(db)
    stored = {r.event.event_id for r in store.after(0, 10_000_000)}
    assert set(acked) <= stored
    assert len(acked) >= 2000
    store.close()


def test_auto_commit_mode_groups_only_when_commits_fsync(tmp_path: Path) -> None:
    assert FeedbackStore(tmp_path / "a.sqlite").commit_mode == "direct"
    assert FeedbackStore(tmp_path / "b.sqlite", synchronous="FULL").commit_mode == "group"


def test_threads_beyond_the_connection_cap_fall_back_to_group_commit(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite", commit_mode="direct", max_direct_connections=2)
    threads = [threading.Thread(target=lambda: [store.append(_event()) for _ in range(20)]) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts()["feedback"] == 120
    assert len(store._conns) <= 3  # the writer, one direct caller, and the counting connection
    store.close()


# -- permissions ----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def test_store_files_are_owner_only_by_default(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: SQLite alone would create 0644 files
    try:
        store = FeedbackStore(tmp_path / "fb.sqlite")
        store.append(_event())
        for suffix in ("", "-wal", "-shm"):
            assert _mode(tmp_path / f"fb.sqlite{suffix}") == 0o600, suffix
        store.close()
    finally:
        os.umask(old)


def test_directories_the_store_creates_are_owner_only(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "a" / "b" / "fb.sqlite")
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    store.close()


def test_a_configured_file_mode_applies_to_files_and_directories(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "shared" / "fb.sqlite", file_mode=0o640, dir_mode=0o750)
    store.append(_event())
    assert _mode(tmp_path / "shared") == 0o750
    assert {_mode(tmp_path / "shared" / f"fb.sqlite{s}") for s in ("", "-wal", "-shm")} == {0o640}
    store.close()


def test_an_existing_world_readable_store_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite"
    FeedbackStore(db).close()
    os.chmod(db, 0o644)
    store = FeedbackStore(db)
    assert _mode(db) == 0o600 and store.mode_problems == []
    store.close()
