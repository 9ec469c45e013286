"""Per-model windows of joined labels (classification, regression) and of impressions with clicks (ranking)."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np

from plugins.feedback.config import FeedbackConfig
from plugins.feedback.performance import (
    PerformanceResult,
    classification_metrics,
    ranking_metrics,
    regression_metrics,
)

RANKING_TASKS = frozenset({"ranking", "recommendation"})
SCORED_TASKS = frozenset({"classification", "regression"}) | RANKING_TASKS


def ranked_items(output: Any) -> list[str] | None:
    """The ranked item ids of one ranking output: a list, or a dict with an ``items`` list."""
    if isinstance(output, dict):
        output = output.get("items")
    if isinstance(output, list | tuple | np.ndarray):
        return [str(x) for x in output]
    return None


def split_output(output: Any, threshold: float) -> tuple[Any, float | None, list[float] | None]:
    """(predicted class, P(positive) or None, probability vector or None) of one classifier output."""
    if isinstance(output, dict):
        output = output.get("score", output.get("label"))
    if isinstance(output, list | tuple) and output and all(isinstance(x, int | float) for x in output):
        proba = [float(x) for x in output]
        pred = int(np.argmax(proba))
        return pred, (proba[1] if len(proba) == 2 else None), proba
    if isinstance(output, bool):
        return int(output), None, None
    if isinstance(output, float) and 0.0 <= output <= 1.0 and not output.is_integer():
        return int(output >= threshold), output, None
    if isinstance(output, float) and output.is_integer():
        return int(output), None, None
    return output, None, None


def _label(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class LabelWindow:
    """Joined (label, output) pairs of one model version until the window closes."""

    def __init__(self, task: str, start: float) -> None:
        self.task = task
        self.start = start
        self.rows: dict[tuple[str, int], tuple[Any, Any]] = {}

    def add(self, key: tuple[str, int], label: Any, output: Any) -> None:
        """Add or replace (a corrected label) the pair for one prediction row."""
        self.rows[key] = (label, output)

    def ready(self, now: float, cfg: FeedbackConfig) -> bool:
        """Whether the window is full (count windows) or has run its time (time windows)."""
        if cfg.window.type == "count":
            return len(self.rows) >= cfg.window.size
        return now - self.start >= cfg.window.seconds

    def score(self, cfg: FeedbackConfig) -> PerformanceResult:
        """Realized performance of the rows held."""
        labels = [_label(y) for y, _ in self.rows.values()]
        outputs = [o for _, o in self.rows.values()]
        if self.task == "regression":
            pairs = [(float(y), float(o)) for y, o in zip(labels, outputs, strict=True)
                     if _is_number(y) and _is_number(o)]
            return regression_metrics([p[0] for p in pairs], [p[1] for p in pairs])
        split = [split_output(o, cfg.score_threshold) for o in outputs]
        preds = [s[0] for s in split]
        scores = [s[1] for s in split]
        probas = [s[2] for s in split]
        known = [s for s in scores if s is not None]
        score_arg = known if scores and len(known) == len(scores) else None
        proba_arg = None
        if score_arg is None and probas and all(p is not None for p in probas):
            widths = {len(p) for p in probas if p is not None}
            if len(widths) == 1:
                proba_arg = np.array(probas, dtype=float)
        return classification_metrics(labels, preds, scores=score_arg, proba=proba_arg,
                                      pos_label=cfg.positive_label)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


class RankWindow:
    """Shown lists of one ranking model version and the items clicked in each."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.closed_at = math.inf
        self.lists: dict[str, list[str]] = {}
        self.clicked: dict[str, set[Hashable]] = {}

    def add_list(self, prediction_id: str, items: list[str]) -> None:
        """Record an impression (a shown list)."""
        self.lists[prediction_id] = items

    def add_click(self, prediction_id: str, item_id: str | None, position: int | None) -> bool:
        """Record a click on an item of a list in this window; False when the list is not here."""
        items = self.lists.get(prediction_id)
        if items is None:
            return False
        if item_id is None and position is not None and position < len(items):
            item_id = items[position]
        if item_id is None:
            return False
        self.clicked.setdefault(prediction_id, set()).add(item_id)
        return True

    def ready(self, now: float, cfg: FeedbackConfig) -> bool:
        """Whether the window is full (count windows, by lists) or has run its time."""
        if cfg.window.type == "count":
            return len(self.lists) >= cfg.window.size
        return now - self.start >= cfg.window.seconds

    def score(self, k: int) -> PerformanceResult:
        """CTR, precision@k and NDCG@k of the lists held."""
        pids = list(self.lists)
        return ranking_metrics([self.lists[p] for p in pids], [self.clicked.get(p, set()) for p in pids], k=k)
