"""Durable feedback store: SQLite in WAL mode with group commit, plus recent predictions for the join.

Durability. ``append`` returns only after the transaction holding the event has
committed. In WAL mode with ``synchronous=NORMAL`` (the default) a committed
transaction survives a crash of the process (``kill -9``): the WAL is in the OS page
cache and is replayed on the next open. It may be lost on power loss or an OS crash
since the WAL is fsynced only at checkpoints; set ``[feedback] synchronous = "FULL"``
to fsync on every commit (each group commit then costs one fsync, shared by every
event in the group).

Commit modes. ``direct``: each calling thread commits its own event on its own
connection (one autocommit statement; SQLite serialises the writers). ``group``:
callers append their row to the open batch and wait for its completion. The first
caller that finds no commit in flight becomes the leader: it takes the whole open
batch, writes it in one transaction and wakes everyone. Rows arriving while a commit
runs form the next batch, so a caller waits at most for the commit in flight plus its
own; ``max_wait_s`` optionally lets a leader wait that much longer for a batch to
fill. ``auto`` (the default) picks ``group`` when every commit fsyncs (``synchronous``
FULL or EXTRA: one fsync then serves a whole group) and ``direct`` otherwise: with
NORMAL a commit costs about as much as waking a waiting thread, so handing rows to a
leader costs more than it saves (see benchmarks/feedback.py). Several processes may
share one store file: SQLite's locks serialise their writers (``busy_timeout_s``).

Permissions. The store holds user data: its file (and SQLite's ``-wal`` and ``-shm``
files, which SQLite creates with the database file's mode) is created ``file_mode``
(the agent's ``agent.file_mode``: 0600, owner-only, by default) and every directory the
store creates gets ``dir_mode`` (0700). An existing store file is brought to ``file_mode``
when it is opened by its owner.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.plugin import FeedbackEvent, ensure_dir
from plugins.feedback._predictions import LabelPolicy, PredictionRow, PredictionsMixin, PruneResult

__all__ = [
    "CommitMode", "FeedbackStore", "FeedbackStoreError", "LabelPolicy", "PredictionRow", "PruneResult",
    "StoredFeedback", "Synchronous",
]

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
CommitMode = Literal["auto", "group", "direct"]

JOIN_PENDING, JOIN_JOINED, JOIN_ORPHAN = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    prediction_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT,
    model TEXT,
    item_id TEXT,
    position INTEGER,
    ts REAL NOT NULL,
    attributes TEXT,
    received REAL NOT NULL,
    join_state INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS marks (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY,
    prediction_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    ts REAL NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    output TEXT,
    item_id TEXT,
    position INTEGER,
    trace_id TEXT,
    span_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS predictions_id ON predictions(prediction_id, row_index);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions(ts);
CREATE TABLE IF NOT EXISTS labels (
    prediction_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (prediction_id, row_index)
) WITHOUT ROWID;
"""

_ROW_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_BATCH = (
    "WITH v(event_id, prediction_id, kind, value, model, item_id, position, ts, attributes, received)"
    " AS (VALUES {values})"
    " INSERT OR IGNORE INTO feedback (event_id, prediction_id, kind, value, model, item_id, position, ts,"
    " attributes, received)"
    " SELECT event_id, prediction_id, kind, value,"
    " COALESCE(model, (SELECT p.model FROM predictions p WHERE p.prediction_id = v.prediction_id LIMIT 1)),"
    " item_id, position, ts, attributes, received FROM v WHERE true"
    " RETURNING event_id, model, kind"
)
_FEEDBACK_COLUMNS = (
    "seq, event_id, prediction_id, kind, value, model, item_id, position, ts, attributes, received, join_state"
)


class FeedbackStoreError(OSError):
    """The store could not make an event durable (disk full, database locked past the busy timeout)."""


@dataclass(frozen=True, slots=True)
class StoredFeedback:
    """A feedback event as read back from the store: its insertion sequence number and receipt time."""

    seq: int
    event: FeedbackEvent
    received: float
    join_state: int = JOIN_PENDING  # JOIN_PENDING until the worker's join pass finds its prediction (or gives up)


class _Batch:
    __slots__ = ("done", "error", "kinds", "models", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.done = False
        self.error: BaseException | None = None
        self.models: dict[str, str] = {}
        self.kinds: list[str] = []


class FeedbackStore(PredictionsMixin):
    """SQLite (WAL) store of feedback events and recent predictions; thread- and process-safe."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous = "NORMAL",
        commit_mode: CommitMode = "auto",
        max_batch: int = 2048,
        max_wait_s: float = 0.0,
        busy_timeout_s: float = 30.0,
        wal_autocheckpoint_pages: int = 20_000,
        lead_rounds: int = 1,
        max_direct_connections: int = 32,
        clock: Callable[[], float] = time.time,
        file_mode: int = 0o600,
        dir_mode: int = 0o700,
    ) -> None:
        self.path = Path(path)
        self.file_mode = file_mode
        self.mode_problems: list[str] = []
        ensure_dir(self.path.parent, dir_mode)
        self._create_file()
        self.synchronous = synchronous
        if commit_mode == "auto":
            commit_mode = "group" if synchronous in ("FULL", "EXTRA") else "direct"
        self.commit_mode = commit_mode
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.busy_timeout_s = busy_timeout_s
        self.clock = clock
        self.duplicates = 0
        self.committed = 0
        self.commits = 0
        self._cv = threading.Condition()
        self._open = _Batch()
        self._committing = False
        self._lingering = False
        self._last_size = 1
        self.lead_rounds = lead_rounds
        self.max_direct_connections = max_direct_connections
        self._direct_reserved = 0
        self._kind_counts: dict[str, int] = {}
        self._duplicates_taken = 0
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        # Checkpoints fsync; keep them off the callers' path (the worker calls
        # ``checkpoint`` each tick). The large limit bounds the WAL when no worker runs.
        self._autocheckpoint_pages = wal_autocheckpoint_pages
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._restrict(self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm"))

    # -- permissions ------------------------------------------------------------------

    def _create_file(self) -> None:
        # Created here with the configured mode rather than by SQLite (0644 under the usual
        # umask); SQLite gives its -wal and -shm files the database file's mode.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, self.file_mode)
        except OSError as exc:
            raise FeedbackStoreError(f"feedback store {self.path} cannot be created: {exc}") from exc
        os.close(fd)
        self._restrict(self.path)

    def _restrict(self, *paths: Path) -> None:
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if st.st_mode & 0o777 == self.file_mode:
                continue
            try:
                os.chmod(p, self.file_mode)
            except OSError as exc:  # not the owner (a store shared with another account)
                self.mode_problems.append(f"{p}: mode {st.st_mode & 0o777:o}, wanted {self.file_mode:o} ({exc})")

    # -- connections ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        # wal_autocheckpoint is per connection: without it each caller's connection would run
        # a checkpoint inside its own commit every 1,000 pages (the worker checkpoints instead).
        conn.execute(f"PRAGMA wal_autocheckpoint={self._autocheckpoint_pages}")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection (pending appends finish first)."""
        with self._cv:
            while self._committing:
                self._cv.wait()
            self._closed = True
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    # -- feedback: group commit ---------------------------------------------------

    def append(self, event: FeedbackEvent) -> FeedbackEvent:
        """Make ``event`` durable; return it with ``model`` filled in when its prediction is known.

        Raises ``FeedbackStoreError`` when the commit failed. A second event with an
        already stored ``event_id`` is ignored (counted in ``duplicates``).
        """
        row = _event_row(event, self.clock())
        # A caller thread gets its own connection only while fewer than
        # ``max_direct_connections`` exist: a thread-per-request server must not open
        # one per request. Other threads join the group commit.
        if self.commit_mode == "direct":
            conn = self._direct_conn()
            if conn is not None:
                return self._append_direct(conn, event, row)
        with self._cv:
            if self._closed:
                raise FeedbackStoreError("feedback store is closed")
            batch = self._open
            batch.rows.append(row)
            if self._lingering:
                self._cv.notify_all()
            while not batch.done:
                if self._committing:
                    self._cv.wait()
                    continue
                self._lead()
        if batch.error is not None:
            raise FeedbackStoreError(f"feedback event {event.event_id} not stored: {batch.error}")
        model = batch.models.get(event.event_id)
        if event.model is None and model is not None:
            return dataclasses.replace(event, model=model)
        return event

    def _direct_conn(self) -> sqlite3.Connection | None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._conns_lock:
            if len(self._conns) + self._direct_reserved >= self.max_direct_connections:
                return None
            self._direct_reserved += 1
        conn = self._conn()
        with self._conns_lock:
            self._direct_reserved -= 1
        return conn

    def _append_direct(self, conn: sqlite3.Connection, event: FeedbackEvent, row: tuple[Any, ...]) -> FeedbackEvent:
        if self._closed:
            raise FeedbackStoreError("feedback store is closed")
        try:
            returned = conn.execute(_insert_sql(1), row).fetchall()
        except Exception as exc:  # raised to this caller only, as "not durable"
            raise FeedbackStoreError(f"feedback event {event.event_id} not stored: {exc}") from exc
        with self._cv:
            self.commits += 1
            if returned:
                self.committed += 1
                self._kind_counts[event.kind] = self._kind_counts.get(event.kind, 0) + 1
            else:
                self.duplicates += 1
        model = returned[0][1] if returned else None
        if event.model is None and model is not None:
            return dataclasses.replace(event, model=model)
        return event

    def _lead(self) -> None:
        # Called with the lock held, no commit in flight: commit the open batch, then
        # (up to ``lead_rounds`` times) the batch that formed meanwhile. Committing it
        # now, instead of leaving it to a follower that first has to wake up, keeps the
        # disk busy; the leader's own caller waits at most those extra commits.
        self._committing = True
        self._linger()
        rounds = 0
        try:
            while True:
                todo, self._open = self._open, _Batch()
                self._last_size = len(todo.rows)
                self._cv.release()
                try:
                    self._commit(todo)
                finally:
                    self._cv.acquire()
                    for kind in todo.kinds:
                        self._kind_counts[kind] = self._kind_counts.get(kind, 0) + 1
                    if todo.error is None:
                        self.duplicates += len(todo.rows) - len(todo.kinds)
                        self.committed += len(todo.kinds)
                        self.commits += 1
                    todo.done = True
                    self._cv.notify_all()
                rounds += 1
                if rounds >= self.lead_rounds or not self._open.rows:
                    break
        finally:
            self._committing = False
            self._cv.notify_all()

    def take_kind_counts(self) -> dict[str, int]:
        """New events stored since the last call, by kind (duplicates excluded)."""
        with self._cv:
            out, self._kind_counts = self._kind_counts, {}
        return out

    def take_counts(self) -> tuple[dict[str, int], int]:
        """New events stored since the last call by kind, and duplicates ignored since then."""
        with self._cv:
            kinds, self._kind_counts = self._kind_counts, {}
            dups, self._duplicates_taken = self.duplicates - self._duplicates_taken, self.duplicates
        return kinds, dups

    def _linger(self) -> None:
        # Called by the leader with the lock held. Under steady load the previous batch
        # size is a good guess of how many callers are about to append; waiting (at most
        # max_wait_s) for them turns N one-row commits into one N-row commit.
        if self.max_wait_s <= 0:
            return
        deadline = time.monotonic() + self.max_wait_s
        self._lingering = True
        try:
            while len(self._open.rows) < min(self._last_size, self.max_batch):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
        finally:
            self._lingering = False

    def _commit(self, batch: _Batch) -> None:
        # One autocommit statement per batch: each sqlite3 call releases and retakes the
        # GIL, and under contention that hand-off, not the disk, is what costs. The
        # statement resolves each event's model from the stored predictions and
        # RETURNING tells which rows were new (OR IGNORE skips duplicates).
        n = len(batch.rows)
        sql = _insert_sql(n)
        params = [x for row in batch.rows for x in row]
        try:
            returned = self._writer.execute(sql, params).fetchall()
        except Exception as exc:  # reported to every caller of the batch: none of them is told "stored"
            batch.error = exc
            return
        batch.models = {event_id: model for event_id, model, _ in returned if model is not None}
        batch.kinds = [kind for _, _, kind in returned]

    # -- feedback: reading back -----------------------------------------------------
    # Export and join progress are high-water marks over ``seq`` (insertion order)
    # rather than per-row flags: an index on a flag would add a page write to every
    # append. One exporting process per store is assumed (a second one would export
    # the same rows; receivers dedupe by ml.feedback.event_id).

    def mark(self, name: str) -> int:
        """The stored high-water mark ``name`` (0 when never set)."""
        row = self._conn().execute("SELECT seq FROM marks WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set_mark(self, name: str, seq: int) -> None:
        """Store the high-water mark ``name`` (it only moves forward)."""
        self._conn().execute(
            "INSERT INTO marks (name, seq) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            (name, seq),
        )

    def after(self, seq: int, limit: int = 1000, *, pending_only: bool = False) -> list[StoredFeedback]:
        """Events stored after ``seq`` in insertion order (only not yet joined ones when asked)."""
        where = "seq > ? AND join_state = 0" if pending_only else "seq > ?"
        cur = self._conn().execute(
            f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE {where} ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [_stored(r) for r in cur]

    def unexported(self, limit: int = 1000, mark: str = "export") -> list[StoredFeedback]:
        """Events after the export mark (or another delivery's ``mark``), oldest first."""
        return self.after(self.mark(mark), limit)

    def mark_exported(self, up_to_seq: int, mark: str = "export") -> None:
        """Record that an exporter returned SUCCESS for every event up to ``up_to_seq``."""
        self.set_mark(mark, up_to_seq)

    def count_after(self, mark: str) -> int:
        """Events stored after the high-water mark ``mark`` (what a delivery still has to decide on)."""
        row = self._conn().execute(
            "SELECT COUNT(*) FROM feedback WHERE seq > COALESCE((SELECT seq FROM marks WHERE name = ?), 0)", (mark,)
        ).fetchone()
        return int(row[0])

    def set_join_state(self, seqs: Iterable[int], state: int) -> int:
        """Mark events joined or orphan; returns how many were still pending (claimed by this call)."""
        ids = [(state, s) for s in seqs]
        if not ids:
            return 0
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.executemany("UPDATE feedback SET join_state = ? WHERE seq = ? AND join_state = 0", ids)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cur.rowcount

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (called from the worker, off the append path)."""
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def counts(self) -> dict[str, int]:
        """Row counts: feedback, unexported, unjoined, predictions."""
        conn = self._conn()
        q = {
            "feedback": "SELECT COUNT(*) FROM feedback",
            "unexported": "SELECT COUNT(*) FROM feedback WHERE seq > COALESCE("
            "(SELECT seq FROM marks WHERE name = 'export'), 0)",
            "unjoined": "SELECT COUNT(*) FROM feedback WHERE join_state = 0",
            "predictions": "SELECT COUNT(*) FROM predictions",
        }
        return {k: int(conn.execute(sql).fetchone()[0]) for k, sql in q.items()}


@functools.lru_cache(maxsize=256)
def _insert_sql(n: int) -> str:
    return _INSERT_BATCH.format(values=",".join([_ROW_MARKS] * n))


def _event_row(event: FeedbackEvent, received: float) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.prediction_id,
        event.kind,
        None if event.value is None else json.dumps(event.value),
        event.model,
        event.item_id,
        event.position,
        float(event.timestamp),
        json.dumps(dict(event.attributes)) if event.attributes else None,
        received,
    )


def _stored(r: Sequence[Any]) -> StoredFeedback:
    event = FeedbackEvent(
        event_id=r[1],
        prediction_id=r[2],
        kind=r[3],
        value=None if r[4] is None else json.loads(r[4]),
        model=r[5],
        item_id=r[6],
        position=r[7],
        timestamp=r[8],
        attributes=json.loads(r[9]) if r[9] else {},
    )
    return StoredFeedback(int(r[0]), event, float(r[10]), int(r[11]))
