"""The prediction side of the feedback store: recent predictions for the join, labels, retention."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

LabelPolicy = Literal["first", "last"]


@dataclass(frozen=True, slots=True)
class PredictionRow:
    """One remembered prediction row: what the join needs to score feedback against it."""

    prediction_id: str
    row_index: int
    timestamp: float
    model: str
    version: str
    output: Any = None
    item_id: str | None = None
    position: int | None = None
    trace_id: str | None = None
    span_id: str | None = None


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Rows removed by one retention pass."""

    predictions_by_age: int
    predictions_by_count: int
    feedback: int


class PredictionsMixin:
    """Prediction memory, label claims and retention; mixed into ``FeedbackStore``."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def claim_label(self, prediction_id: str, row_index: int, event_id: str, policy: LabelPolicy) -> tuple[bool, bool]:
        """Record ``event_id`` as the label of a prediction row; returns (use_it, was_duplicate).

        ``first``: the first label stored wins, later ones are ignored. ``last``: a
        later label replaces the earlier one (a correction).
        """
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            prev = conn.execute(
                "SELECT event_id FROM labels WHERE prediction_id = ? AND row_index = ?", (prediction_id, row_index)
            ).fetchone()
            if prev is not None and prev[0] == event_id:
                conn.execute("COMMIT")
                return (False, False)
            if prev is None or policy == "last":
                conn.execute(
                    "INSERT OR REPLACE INTO labels (prediction_id, row_index, event_id) VALUES (?, ?, ?)",
                    (prediction_id, row_index, event_id),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return (prev is None or policy == "last", prev is not None)

    # -- predictions ----------------------------------------------------------------

    def add_predictions(self, rows: Sequence[PredictionRow]) -> int:
        """Remember prediction rows for the join; a row already stored is kept as it was."""
        if not rows:
            return 0
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO predictions (prediction_id, row_index, ts, model, version, output,"
                " item_id, position, trace_id, span_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.prediction_id,
                        r.row_index,
                        r.timestamp,
                        r.model,
                        r.version,
                        None if r.output is None else json.dumps(r.output),
                        r.item_id,
                        r.position,
                        r.trace_id,
                        r.span_id,
                    )
                    for r in rows
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cur.rowcount

    def predictions_for(self, prediction_ids: Iterable[str]) -> dict[str, list[PredictionRow]]:
        """Stored rows of each known prediction id, in row order."""
        ids = sorted(set(prediction_ids))
        out: dict[str, list[PredictionRow]] = {}
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                "SELECT prediction_id, row_index, ts, model, version, output, item_id, position, trace_id,"
                f" span_id FROM predictions WHERE prediction_id IN ({marks}) ORDER BY prediction_id, row_index",
                chunk,
            ):
                out.setdefault(r[0], []).append(
                    PredictionRow(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else json.loads(r[5]), *r[6:])
                )
        return out

    def prune(
        self, now: float, *, max_age_s: float, max_rows: int, feedback_max_age_s: float | None = None
    ) -> PruneResult:
        """Apply retention: predictions older than ``max_age_s`` or beyond the newest ``max_rows``.

        Feedback rows are deleted only once behind both the export and the join marks and older
        than ``feedback_max_age_s``; after that a re-sent duplicate is no longer recognised.
        """
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            by_age = conn.execute("DELETE FROM predictions WHERE ts < ?", (now - max_age_s,)).rowcount
            top = conn.execute("SELECT MAX(seq) FROM predictions").fetchone()[0]
            by_count = 0
            if top is not None:
                by_count = conn.execute("DELETE FROM predictions WHERE seq <= ?", (top - max_rows,)).rowcount
            fb = 0
            if feedback_max_age_s is not None:
                done = conn.execute(
                    "SELECT MIN(COALESCE((SELECT seq FROM marks WHERE name = 'export'), 0),"
                    " COALESCE((SELECT seq FROM marks WHERE name = 'join'), 0))"
                ).fetchone()[0]
                fb = conn.execute(
                    "DELETE FROM feedback WHERE seq <= ? AND received < ?", (done, now - feedback_max_age_s)
                ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return PruneResult(by_age, by_count, fb)
