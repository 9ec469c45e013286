"""Per-model state of the attribution plugin: the open windows, references, and bounded row memories."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.plugin import to_numeric
from plugins.attribution.config import ModelSettings

__all__ = ["AttributionWindow", "LabelJoin", "ModelState", "RefValues", "Ring", "matrix"]


def matrix(columns: Mapping[str, np.ndarray], features: Sequence[str], n: int,
           rows: np.ndarray | None = None) -> np.ndarray:
    """A float (rows, k) array of ``features`` from ``columns`` (a missing or non-numeric value is NaN)."""
    m = len(rows) if rows is not None else n
    out = np.full((m, len(features)), np.nan)
    for j, name in enumerate(features):
        col = columns.get(name)
        if col is None or len(col) != n:
            continue
        values = col if rows is None else col[rows]
        out[:, j] = to_numeric(np.asarray(values))[0]
    return out


@dataclass(slots=True)
class RefValues:
    """A reference vector aligned with a feature list, and where it came from."""

    features: tuple[str, ...]
    values: np.ndarray
    source: str
    rows: int
    version: int = 0  # the registry version (explainer, predictor or explicit values) it was computed from


@dataclass(slots=True)
class AttributionWindow:
    """The open window of per-row attributions: sums and counts of |attribution| per feature."""

    k: int
    start: float | None = None
    rows: int = 0  # rows received (the window's size counts these)
    attributed: int = 0  # rows that had attributions
    explained: int = 0  # rows an explainer was run on (bounded by explain_max_rows)
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sums = np.zeros(self.k)
        self.counts = np.zeros(self.k, dtype=np.int64)

    def add(self, sums: np.ndarray, counts: np.ndarray, attributed: int) -> None:
        """Add the |attribution| sums and finite counts of some attributed rows."""
        self.sums += sums
        self.counts += counts
        self.attributed += attributed

    def means(self) -> np.ndarray:
        """Mean |attribution| per feature (NaN where no row had one)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)


class Ring:
    """The last ``capacity`` attributed rows: feature values and attributions, for edge-case slices."""

    def __init__(self, capacity: int, k: int) -> None:
        self.capacity = max(1, capacity)
        self.x = np.full((self.capacity, k), np.nan)
        self.a = np.full((self.capacity, k), np.nan)
        self.size = 0
        self._next = 0

    def add(self, x: np.ndarray, a: np.ndarray) -> None:
        """Remember rows (only the last ``capacity`` of a large batch)."""
        if len(x) > self.capacity:
            x, a = x[-self.capacity:], a[-self.capacity:]
        slots = (self._next + np.arange(len(x))) % self.capacity
        self.x[slots], self.a[slots] = x, a
        self._next = (self._next + len(x)) % self.capacity
        self.size = min(self.capacity, self.size + len(x))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(feature values, attributions) of the rows held."""
        return self.x[: self.size], self.a[: self.size]


class LabelJoin:
    """Captured rows remembered by (prediction id, row) until their label arrives; labelled rows collected."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._rows: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self.x: list[np.ndarray] = []
        self.y: list[Any] = []

    def remember(self, keys: Sequence[tuple[str, int]], x: np.ndarray) -> None:
        """Keep rows for later labels (the oldest are forgotten beyond ``capacity``)."""
        for key, row in zip(keys, x, strict=True):
            self._rows[key] = row
            self._rows.move_to_end(key)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)

    def label(self, key: tuple[str, int], value: Any) -> bool:
        """Join a label to its remembered row; False when the row is unknown or forgotten."""
        row = self._rows.pop(key, None)
        if row is None:
            return False
        self.x.append(row)
        self.y.append(value)
        return True

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The labelled rows collected so far (and forget them)."""
        x, y = np.vstack(self.x), np.asarray(self.y)
        self.x, self.y = [], []
        return x, y


@dataclass(slots=True)
class ModelState:
    """Everything the plugin keeps for one model."""

    name: str
    version: str
    task: str
    settings: ModelSettings
    features: tuple[str, ...] | None = None  # the attribution method's features, fixed at first sight
    perm_features: tuple[str, ...] | None = None  # the permutation method's features
    window: AttributionWindow | None = None
    ring: Ring | None = None
    joins: LabelJoin | None = None
    refs: dict[str, RefValues] = field(default_factory=dict)  # by method
    attempted: dict[str, int] = field(default_factory=dict)  # registry version last tried per method (no retry storm)
    ref_columns: dict[str, np.ndarray] | None = None
    ref_labels: np.ndarray | None = None
    windows_closed: dict[str, int] = field(default_factory=dict)  # by method
    slices_reported: set[tuple[str, str]] = field(default_factory=set)
    last_failure_log: dict[str, float] = field(default_factory=dict)

    def fix_features(self, features: Sequence[str]) -> tuple[str, ...]:
        """Fix the attribution features (once) and open the window and ring over them."""
        if self.features is None:
            self.features = tuple(features)
            self.window = AttributionWindow(len(self.features))
            self.ring = Ring(self.settings.edge_cases.rows, len(self.features))
        return self.features
