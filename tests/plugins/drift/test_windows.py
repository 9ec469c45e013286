"""Tumbling count and time windows with bounded memory."""

from __future__ import annotations

import numpy as np

from plugins.drift.windows import WindowBuffer


def _batch(start: int, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    return {"x": np.arange(start, start + n, dtype=float)}, np.arange(start, start + n, dtype=float)


def test_count_window_splits_an_overflowing_batch() -> None:
    buf = WindowBuffer(100)
    cols, ts = _batch(0, 250)
    closed = buf.add(cols, None, ts)
    assert [len(w.columns["x"]) for w in closed] == [100, 100]
    assert closed[1].columns["x"][0] == 100.0
    assert len(buf) == 50


def test_time_window_closes_when_due_and_keeps_a_bounded_reservoir() -> None:
    buf = WindowBuffer(100, seconds=10.0, seed=1)
    for i in range(50):
        cols, _ = _batch(i * 100, 100)
        assert buf.add(cols, None, np.full(100, 1000.0 + i * 0.1)) == []
        assert len(buf) <= 100
    assert buf.close_due(1005.0) is None
    w = buf.close_due(1010.5)
    assert w is not None
    assert len(w.columns["x"]) == 100 and w.rows_seen == 5000
    # A uniform sample over the whole window, not just the first rows.
    assert w.columns["x"].max() > 2500
    assert len(buf) == 0


def test_features_appearing_mid_window_are_padded_with_missing() -> None:
    buf = WindowBuffer(4)
    buf.add({"x": np.array([1.0, 2.0])}, None, np.zeros(2))
    closed = buf.add({"x": np.array([3.0, 4.0]), "y": np.array(["a", "b"], dtype=object)}, None, np.zeros(2))
    assert closed[0].columns["y"].tolist() == [None, None, "a", "b"]


def test_outputs_travel_with_their_rows() -> None:
    buf = WindowBuffer(3)
    closed = buf.add({"x": np.arange(3.0)}, np.array([[0.1, 0.9], [0.5, 0.5], [0.8, 0.2]]), np.zeros(3))
    assert closed[0].outputs is not None and closed[0].outputs.shape == (3, 2)
