"""Edge cases: slices of inputs on which the model performs much worse than overall.

Outlier vs edge case: an *outlier* is a row whose values sit outside the reference's
robust range; it is known at capture time from the data alone. An *edge case* is an
input region where the model's error is much higher than its overall error; it can
only be known once ground truth arrives. An outlier may be handled perfectly well
(not an edge case), and an edge case may sit well inside the reference range (say, a
thin band of one feature the training data under-represented). So this module joins
labels to the predictions kept at capture time and compares errors on outlier rows
vs the rest and per reference-quantile bin of each numeric feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EdgeCaseReport",
    "EdgeCaseSlice",
    "LabelledWindow",
    "PredictionStore",
    "bin_edges",
    "bin_index",
    "find_edge_cases",
    "point_predictions",
    "row_error",
]

NO_BIN = 255  # bin code for a missing / non-numeric value; bins fit in uint8


@dataclass(frozen=True, slots=True)
class EdgeCaseSlice:
    """One slice where the model does much worse: which rows, how many, their error vs overall."""

    feature: str  # "*" for the slice of outlier rows on any feature
    slice: str  # "outliers" or a half-open value range such as "[3.2, 4.1)"
    size: int
    error: float
    overall_error: float

    @property
    def ratio(self) -> float:
        """Slice error divided by overall error (inf when the overall error is 0)."""
        return self.error / self.overall_error if self.overall_error > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class EdgeCaseReport:
    """Errors of labelled rows: overall, outlier vs non-outlier, and the slices that qualify."""

    labelled: int
    overall_error: float
    outlier_size: int
    outlier_error: float | None
    inlier_error: float | None
    slices: tuple[EdgeCaseSlice, ...]


def bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner quantile edges splitting the finite reference ``values`` into up to ``bins`` bins."""
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0 or bins < 2:
        return np.empty(0)
    qs = np.quantile(vals, np.linspace(0, 1, bins + 1)[1:-1])
    # Discrete features repeat quantiles; equal edges would make empty bins.
    return np.unique(qs)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each float value under ``edges`` (uint8), ``NO_BIN`` for NaN."""
    idx = np.searchsorted(edges, values, side="right").astype(np.uint8)
    idx[np.isnan(values)] = NO_BIN
    return idx


def _bin_label(edges: np.ndarray, b: int) -> str:
    low = f"{edges[b - 1]:.6g}" if b > 0 else "-inf"
    high = f"{edges[b]:.6g}" if b < len(edges) else "inf"
    return f"[{low}, {high})"


def point_predictions(outputs: np.ndarray | None, n: int) -> np.ndarray:
    """One comparable prediction per row: argmax for probability rows, the value itself otherwise."""
    out = np.empty(n, dtype=object)
    if outputs is None or len(outputs) != n:
        return out  # all None: no output captured for these rows
    arr = np.asarray(outputs)
    if arr.ndim == 2 and arr.dtype.kind in "iufb":
        out[:] = (arr.argmax(axis=1) if arr.shape[1] > 1 else arr[:, 0]).tolist()
        return out
    if arr.ndim == 1:
        values = arr.tolist()
        for i, v in enumerate(values):
            if isinstance(v, list | tuple | np.ndarray):
                try:
                    vec = np.asarray(v, dtype=np.float64).reshape(-1)
                    values[i] = int(vec.argmax()) if vec.size > 1 else float(vec[0])
                except (TypeError, ValueError):
                    values[i] = None
        out[:] = values
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)


def row_error(prediction: Any, label: Any, task: str) -> float:
    """Error of one labelled prediction: 0/1 misclassification or absolute error; NaN if incomparable."""
    try:
        err = _row_error(prediction, label, task)
        return err if math.isfinite(err) else float("nan")
    except Exception:  # labels are user data: huge ints, objects whose comparison raises, ...
        return float("nan")


def _row_error(prediction: Any, label: Any, task: str) -> float:
    if prediction is None or label is None:
        return float("nan")
    if task == "regression" or (
        task not in ("classification",)
        and _is_number(prediction)
        and _is_number(label)
        and float(prediction) != round(float(prediction))
        and not (0.0 <= float(prediction) <= 1.0 and float(label) in (0.0, 1.0))
    ):
        return abs(float(prediction) - float(label))
    # A probability of the positive class against a 0/1 label: threshold at 0.5.
    if _is_number(prediction) and isinstance(label, bool | int | float | np.number):
        p, y = float(prediction), float(label)
        if 0.0 < p < 1.0 and y in (0.0, 1.0):
            return float((p >= 0.5) != (y == 1.0))
        return float(p != y)
    return float(bool(prediction != label))


def find_edge_cases(
    errors: np.ndarray,
    outlier: np.ndarray,
    bins: np.ndarray,
    features: Sequence[str],
    edges: Mapping[str, np.ndarray],
    *,
    factor: float = 2.0,
    min_size: int = 30,
) -> EdgeCaseReport:
    """Compare error on outlier rows and on each feature bin with the overall error.

    A slice qualifies when it has at least ``min_size`` labelled rows and its mean error is
    positive and at least ``factor`` times the overall mean error.
    """
    ok = ~np.isnan(errors)
    errors, outlier, bins = errors[ok], outlier[ok], bins[ok]
    n = int(errors.size)
    if n == 0:
        return EdgeCaseReport(0, float("nan"), 0, None, None, ())
    overall = float(errors.mean())
    n_out = int(outlier.sum())
    out_err = float(errors[outlier].mean()) if n_out else None
    in_err = float(errors[~outlier].mean()) if n_out < n else None
    slices: list[EdgeCaseSlice] = []

    def consider(feature: str, label: str, mask: np.ndarray) -> None:
        size = int(mask.sum())
        if size < min_size:
            return
        err = float(errors[mask].mean())
        if err > 0 and err >= factor * overall:
            slices.append(EdgeCaseSlice(feature, label, size, err, overall))

    if n_out:
        consider("*", "outliers", outlier)
    for j, name in enumerate(features):
        col = bins[:, j]
        e = edges[name]
        for b in np.unique(col[col != NO_BIN]).tolist():
            consider(name, _bin_label(e, int(b)), col == b)
    slices.sort(key=lambda s: (-s.ratio, -s.size))
    return EdgeCaseReport(n, overall, n_out, out_err, in_err, tuple(slices))


class PredictionStore:
    """Bounded ring of recent captured rows: (prediction id, row) -> prediction, outlier flag, bins.

    Labels arrive later on the feedback path; this is what they are joined against.
    The oldest rows are overwritten once ``capacity`` is reached.
    """

    def __init__(self, capacity: int, n_features: int) -> None:
        self.capacity = max(1, capacity)
        self._keys: list[tuple[str, int] | None] = [None] * self.capacity
        self._pred = np.empty(self.capacity, dtype=object)
        self._outlier = np.zeros(self.capacity, dtype=bool)
        self._bins = np.full((self.capacity, n_features), NO_BIN, dtype=np.uint8)
        self._slot: dict[tuple[str, int], int] = {}
        self._next = 0

    def add(self, keys: list[tuple[str, int]], pred: np.ndarray, outlier: np.ndarray, bins: np.ndarray) -> None:
        """Remember rows (keeps only the last ``capacity`` of a large batch)."""
        if len(keys) > self.capacity:
            cut = len(keys) - self.capacity
            keys, pred, outlier, bins = keys[cut:], pred[cut:], outlier[cut:], bins[cut:]
        n = len(keys)
        slots = (self._next + np.arange(n)) % self.capacity
        self._pred[slots] = pred
        self._outlier[slots] = outlier
        self._bins[slots] = bins
        slot_list = slots.tolist()
        for s, k in zip(slot_list, keys, strict=True):
            self._keys[s] = k
        self._slot.update(zip(keys, slot_list, strict=True))
        self._next = (self._next + n) % self.capacity
        if len(self._slot) > 2 * self.capacity:
            # Overwritten keys linger in the index; rebuild it so memory stays bounded.
            self._slot = {k: i for i, k in enumerate(self._keys) if k is not None}

    def get(self, key: tuple[str, int]) -> tuple[Any, bool, np.ndarray] | None:
        """The stored (prediction, outlier flag, bins) of a row, or None if unknown or evicted."""
        s = self._slot.get(key)
        if s is None or self._keys[s] != key:
            return None
        return self._pred[s], bool(self._outlier[s]), self._bins[s]


class LabelledWindow:
    """Bounded ring of labelled rows (error, outlier flag, bins) the edge-case report is computed on."""

    def __init__(self, capacity: int, n_features: int) -> None:
        self.capacity = max(1, capacity)
        self._err = np.full(self.capacity, np.nan)
        self._outlier = np.zeros(self.capacity, dtype=bool)
        self._bins = np.full((self.capacity, n_features), NO_BIN, dtype=np.uint8)
        self._next = 0
        self._size = 0
        self.added_since_report = 0

    def add(self, error: float, outlier: bool, bins: np.ndarray) -> None:
        """Append one labelled row, overwriting the oldest when full."""
        i = self._next
        self._err[i], self._outlier[i], self._bins[i] = error, outlier, bins
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self.added_since_report += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(errors, outlier flags, bins) of the rows held."""
        n = self._size
        return self._err[:n], self._outlier[:n], self._bins[:n]
