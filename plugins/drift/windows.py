"""Tumbling windows over captured rows, bounded in memory by the window size.

Count windows close when ``size`` rows have arrived (a batch that overflows is split).
Time windows close when ``now`` passes ``start + seconds``; if more than ``size`` rows
arrive in one, a uniform reservoir sample of ``size`` rows is kept (Vitter's algorithm R),
so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """The rows of a closed window: columns (and outputs), time bounds, rows seen and rows kept.

    ``rows`` is the number of rows the window holds; ``rows_seen`` counts every row that
    arrived in it (more than ``rows`` when a time window kept a sample).
    """

    columns: Mapping[str, np.ndarray]
    outputs: np.ndarray | None
    start: float
    end: float
    rows_seen: int
    rows: int = 0


def _missing_like(n: int, like: np.ndarray | None) -> np.ndarray:
    if like is not None and like.dtype.kind == "f":
        return np.full((n, *like.shape[1:]), np.nan)
    return np.full(n, None, dtype=object)


def _concat(chunks: list[np.ndarray]) -> np.ndarray:
    if len(chunks) == 1:
        return chunks[0]
    if all(c.ndim == chunks[0].ndim for c in chunks) and len({c.shape[1:] for c in chunks}) == 1:
        return np.concatenate(chunks)
    out = np.empty(sum(len(c) for c in chunks), dtype=object)
    i = 0
    for c in chunks:
        for row in c:
            out[i] = row
            i += 1
    return out


class WindowBuffer:
    """Accumulates rows (columns + optional outputs) for one tumbling window."""

    def __init__(self, size: int, seconds: float | None = None, seed: int = 0) -> None:
        self.size = size
        self.seconds = seconds
        self._rng = np.random.default_rng(seed)
        self._reset()

    def _reset(self) -> None:
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._outputs: list[np.ndarray] = []
        self._has_outputs = False
        self._n = 0
        self._seen = 0
        self._start = math.nan
        self._end = math.nan

    def __len__(self) -> int:
        return self._n

    @property
    def start(self) -> float:
        """Timestamp of the window's first row (nan when empty)."""
        return self._start

    def add(self, columns: Mapping[str, np.ndarray], outputs: np.ndarray | None,
            timestamps: np.ndarray) -> list[ClosedWindow]:
        """Add a batch; returns the count windows it closed (time windows close in ``close_due``)."""
        n = len(timestamps)
        closed: list[ClosedWindow] = []
        offset = 0
        while offset < n:
            take = n - offset if self.seconds is not None else min(n - offset, self.size - self._n)
            sl = slice(offset, offset + take)
            self._append({k: v[sl] for k, v in columns.items()},
                         None if outputs is None else outputs[sl], timestamps[sl])
            offset += take
            if self.seconds is None and self._n >= self.size:
                closed.append(self._close(self._end))
        return closed

    def _append(self, columns: Mapping[str, np.ndarray], outputs: np.ndarray | None, ts: np.ndarray) -> None:
        n = len(ts)
        if n == 0:
            return
        if math.isnan(self._start):
            self._start = float(ts[0])
        self._end = float(ts[-1])
        fill = min(n, self.size - self._n)
        if fill:
            self._push({k: v[:fill] for k, v in columns.items()}, None if outputs is None else outputs[:fill], fill)
            self._seen += fill
        if fill < n:
            self._reservoir({k: v[fill:] for k, v in columns.items()}, None if outputs is None else outputs[fill:])

    def _push(self, columns: Mapping[str, np.ndarray], outputs: np.ndarray | None, n: int) -> None:
        for name, col in columns.items():
            if name not in self._chunks:
                self._chunks[name] = [_missing_like(self._n, col)] if self._n else []
            self._chunks[name].append(np.asarray(col))
        for name, chunks in self._chunks.items():
            if name not in columns:
                chunks.append(_missing_like(n, chunks[0] if chunks else None))
        if outputs is not None:
            self._has_outputs = True
        self._outputs.append(np.asarray(outputs) if outputs is not None else _missing_like(n, None))
        self._n += n

    def _reservoir(self, columns: Mapping[str, np.ndarray], outputs: np.ndarray | None) -> None:
        """Algorithm R over a batch: row t (1-based overall) replaces a random slot with probability size/t."""
        rest = len(next(iter(columns.values()))) if columns else (0 if outputs is None else len(outputs))
        self._compact()
        t = self._seen + 1 + np.arange(rest)
        self._seen += rest
        accept = self._rng.random(rest) < self.size / t
        rows = np.flatnonzero(accept)
        slots = self._rng.integers(0, self.size, size=rows.size)
        for name, chunks in self._chunks.items():
            target = chunks[0]
            if name in columns:
                src = np.asarray(columns[name])[rows]
                if target.dtype != src.dtype and target.dtype.kind != "O":
                    target = target.astype(object)
                target[slots] = src
            else:
                target[slots] = np.nan if target.dtype.kind == "f" else None
            chunks[0] = target
        if outputs is not None and self._outputs:
            out = self._outputs[0]
            src_out = np.asarray(outputs)[rows]
            if out.shape[1:] == src_out.shape[1:] and (out.dtype == src_out.dtype or out.dtype.kind == "O"):
                out[slots] = src_out

    def _compact(self) -> None:
        self._chunks = {k: [_concat(v).copy()] for k, v in self._chunks.items()}
        self._outputs = [_concat(self._outputs).copy()] if self._outputs else []

    def _close(self, end: float) -> ClosedWindow:
        cols = {k: _concat(v) for k, v in self._chunks.items()}
        outputs = _concat(self._outputs) if self._has_outputs and self._outputs else None
        w = ClosedWindow(cols, outputs, self._start, end, self._seen, self._n)
        self._reset()
        return w

    def drain(self) -> ClosedWindow | None:
        """Close the window now whatever its size (None when empty): its rows, to be moved elsewhere."""
        if self._n == 0:
            return None
        return self._close(self._end)

    def close_due(self, now: float) -> ClosedWindow | None:
        """Close a time window whose span has elapsed (None for count windows or when not due/empty)."""
        if self.seconds is None or math.isnan(self._start) or now < self._start + self.seconds:
            return None
        return self._close(self._start + self.seconds)
