"""Tumbling windows of scored rows, and the bounded memory that joins late labels to their window.

A window keeps, per row, what the estimators need later: the class scores (classifiers)
or the prediction and its two predicted losses (regressors), as one (rows, d) matrix.
Closed windows stay (the newest ``label_windows`` of them) so labels arriving days later
can be scored against the same rows; ``RowIndex`` maps (prediction id, row index) to
(window, position), at most ``max_tracked_rows`` entries, oldest forgotten first.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plugins.performance.bbse import BBSEResult
from plugins.performance.metrics import Estimate

RowKey = tuple[str, int]


@dataclass(slots=True)
class OpenWindow:
    """Rows of a window still filling."""

    seq: int
    version: str
    opened_at: float
    parts: list[np.ndarray] = field(default_factory=list)
    keys: list[RowKey] = field(default_factory=list)
    first_ts: float = math.inf
    last_ts: float = -math.inf
    rows: int = 0
    early_labels: dict[int, float] = field(default_factory=dict)

    def add(self, payload: np.ndarray, keys: list[RowKey], timestamps: np.ndarray) -> None:
        """Append rows (their payload, join keys and capture times)."""
        self.parts.append(payload)
        self.keys.extend(keys)
        self.rows += len(payload)
        if len(timestamps):
            self.first_ts = min(self.first_ts, float(np.min(timestamps)))
            self.last_ts = max(self.last_ts, float(np.max(timestamps)))


@dataclass(slots=True)
class ClosedWindow:
    """A closed window: its rows' payload, the labels joined so far, and what was estimated at close."""

    seq: int
    version: str
    start: float
    end: float
    payload: np.ndarray
    keys: list[RowKey]
    labels: np.ndarray  # float per row; NaN until its label arrives (a class index for classifiers)
    estimates: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    bbse: BBSEResult | None = None
    dirty: bool = False  # labels arrived since the last realized evaluation
    realized: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows in the window."""
        return len(self.payload)

    @property
    def labelled(self) -> int:
        """Rows whose label has arrived."""
        return int(np.count_nonzero(~np.isnan(self.labels)))

    @property
    def window_id(self) -> str:
        """A stable id for the history file: version, start time and sequence number."""
        return f"{self.version}@{self.start:.3f}#{self.seq}"


def close(win: OpenWindow, now: float) -> ClosedWindow:
    """Freeze an open window; labels that arrived early are put in place."""
    payload = np.concatenate(win.parts) if win.parts else np.zeros((0, 1))
    labels = np.full(len(payload), np.nan)
    for idx, value in win.early_labels.items():
        labels[idx] = value
    start = win.first_ts if math.isfinite(win.first_ts) and win.first_ts > 0 else win.opened_at
    end = win.last_ts if math.isfinite(win.last_ts) and win.last_ts > 0 else now
    return ClosedWindow(win.seq, win.version, start, end, payload, win.keys, labels,
                        dirty=bool(win.early_labels))


class RowIndex:
    """(prediction id, row index) -> (window seq, position), bounded; the oldest entries go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[RowKey, tuple[int, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, keys: list[RowKey], seq: int, offset: int) -> list[tuple[int, int]]:
        """Remember rows at positions offset, offset+1, ... of window ``seq``; returns the (seq, pos) forgotten."""
        rows = self._rows
        for i, key in enumerate(keys):
            rows[key] = (seq, offset + i)
        evicted: list[tuple[int, int]] = []
        while len(rows) > self.capacity:
            evicted.append(rows.popitem(last=False)[1])
        return evicted

    def entries(self) -> list[tuple[int, int]]:
        """Every remembered (window seq, position)."""
        return list(self._rows.values())

    def get(self, key: RowKey) -> tuple[int, int] | None:
        """Where the row ``key`` is, or None when it is unknown or forgotten."""
        return self._rows.get(key)

    def forget(self, keys: list[RowKey], seq: int) -> list[int]:
        """Drop the rows of window ``seq`` still remembered (keys a later window reused are kept); their positions."""
        rows = self._rows
        gone = []
        for key in keys:
            got = rows.get(key)
            if got is not None and got[0] == seq:
                del rows[key]
                gone.append(got[1])
        return gone


class ClosedWindows:
    """The newest ``limit`` closed windows of one model, by sequence number."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: OrderedDict[int, ClosedWindow] = OrderedDict()

    def __iter__(self) -> Iterator[ClosedWindow]:
        return iter(list(self._windows.values()))

    def get(self, seq: int) -> ClosedWindow | None:
        """The window ``seq`` while it is kept."""
        return self._windows.get(seq)

    def add(self, win: ClosedWindow) -> list[ClosedWindow]:
        """Keep ``win``; returns the windows that fell out."""
        self._windows[win.seq] = win
        out = []
        while len(self._windows) > self.limit:
            out.append(self._windows.popitem(last=False)[1])
        return out


def label_json(values: dict[str, Any]) -> dict[str, Any]:
    """Floats as JSON-safe numbers (NaN and inf as None)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
