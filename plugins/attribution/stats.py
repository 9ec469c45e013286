"""Pure scoring: mean |attribution|, attribution drift (Spearman's ρ and a normalised L1 distance),
permutation importance, and the slices the validation plugin names.

Attribution drift compares two vectors over the same features: the reference's and a
window's mean |attribution| (or permutation importances). The *rank correlation* is
Spearman's ρ of the two vectors (ties averaged): 1 when the features keep their order of
importance. The *distance* is ½‖p − q‖₁ of the vectors normalised to sum 1 (the total
variation between the two "reliance" distributions): 0 when each feature keeps its share,
1 when the model relies on entirely different features.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Vector = Sequence[float] | np.ndarray

__all__ = [
    "AttributionDrift",
    "compare",
    "default_loss",
    "distance",
    "mean_abs",
    "parse_slice",
    "permutation_importance",
    "rank_correlation",
    "top_json",
]


@dataclass(frozen=True, slots=True)
class AttributionDrift:
    """One window against the reference: the features compared, both vectors, ρ, distance, verdict."""

    features: tuple[str, ...]
    reference: tuple[float, ...]
    window: tuple[float, ...]
    rank_correlation: float  # nan when fewer than 2 features or a constant vector
    distance: float  # nan when a vector sums to 0
    detected: bool


def mean_abs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (sum of |value|, count) over the finite values of a (rows, k) array."""
    arr = np.abs(np.asarray(values, dtype=np.float64))
    ok = np.isfinite(arr)
    return np.where(ok, arr, 0.0).sum(axis=0), ok.sum(axis=0)


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1, dtype=np.float64)
    for value in np.unique(v):  # ties share their average rank
        tied = v == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def rank_correlation(a: Vector, b: Vector) -> float:
    """Spearman's ρ of two equal-length vectors (ties averaged); nan when undefined."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or len(x) != len(y):
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def distance(a: Vector, b: Vector) -> float:
    """½‖p − q‖₁ of the two non-negative vectors normalised to sum 1; in [0, 1], nan when one sums to 0."""
    x = np.clip(np.asarray(a, dtype=np.float64), 0.0, None)
    y = np.clip(np.asarray(b, dtype=np.float64), 0.0, None)
    sx, sy = float(x.sum()), float(y.sum())
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        return float("nan")
    return float(0.5 * np.abs(x / sx - y / sy).sum())


def compare(
    features: Sequence[str],
    reference: Vector,
    window: Vector,
    *,
    max_distance: float,
    min_rank_correlation: float | None = None,
) -> AttributionDrift:
    """Attribution drift of ``window`` vs ``reference`` over the features finite in both.

    Detected when the distance is at least ``max_distance``, or ρ is at most
    ``min_rank_correlation`` (when given).
    """
    ref, win = np.asarray(reference, dtype=np.float64), np.asarray(window, dtype=np.float64)
    keep = np.isfinite(ref) & np.isfinite(win)
    names = tuple(f for f, k in zip(features, keep.tolist(), strict=True) if k)
    ref, win = ref[keep], win[keep]
    rho = rank_correlation(ref, win)
    dist = distance(ref, win)
    detected = (math.isfinite(dist) and dist >= max_distance) or (
        min_rank_correlation is not None and math.isfinite(rho) and rho <= min_rank_correlation)
    return AttributionDrift(names, tuple(ref.tolist()), tuple(win.tolist()), rho, dist, bool(detected))


def top(features: Sequence[str], values: Vector, k: int) -> list[dict[str, Any]]:
    """The ``k`` features with the largest values: ``[{feature, mean_abs, share}]``, largest first."""
    v = np.asarray(values, dtype=np.float64)
    total = float(np.nansum(np.clip(v, 0.0, None)))
    order = sorted((i for i in range(len(v)) if math.isfinite(v[i])), key=lambda i: (-v[i], features[i]))[:k]
    return [{"feature": features[i], "mean_abs": float(v[i]),
             "share": float(max(v[i], 0.0) / total) if total > 0 else None} for i in order]


def top_json(features: Sequence[str], values: Vector, k: int) -> str:
    """``top`` as strict JSON (non-finite numbers as null)."""
    return json.dumps(top(features, values, k), allow_nan=False, default=str)


# -- permutation importance -----------------------------------------------------------------

Loss = Callable[[Any, Any], float]


def _point(pred: np.ndarray) -> np.ndarray:
    if pred.ndim == 2:
        return pred.argmax(axis=1) if pred.shape[1] > 1 else pred[:, 0]
    return pred


def default_loss(task: str) -> Loss:
    """Error rate for classification (argmax of probability vectors, 0.5 on a probability), MAE for regression."""

    def loss(y_true: Any, y_pred: Any) -> float:
        y = np.asarray(y_true)
        pred = _point(np.asarray(y_pred))
        numeric = y.dtype.kind in "biuf" and pred.dtype.kind in "biuf"
        if task == "regression" and numeric:
            return float(np.mean(np.abs(pred.astype(np.float64) - y.astype(np.float64))))
        if numeric and pred.dtype.kind == "f" and np.all((pred >= 0) & (pred <= 1)) and np.all(np.isin(y, (0, 1))):
            pred = (pred >= 0.5).astype(np.int64)
        return float(np.mean(pred != y))

    return loss


def permutation_importance(
    predict: Callable[[np.ndarray], Any],
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    *,
    repeats: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Increase in ``loss`` when each column of ``X`` is shuffled (mean of ``repeats``), clipped at 0."""
    base = float(loss(y, predict(X)))
    out = np.zeros(X.shape[1])
    shuffled = X.copy()
    for j in range(X.shape[1]):
        scores = []
        for _ in range(repeats):
            shuffled[:, j] = X[rng.permutation(X.shape[0]), j]
            scores.append(float(loss(y, predict(shuffled))))
        shuffled[:, j] = X[:, j]
        out[j] = max(0.0, float(np.mean(scores)) - base)
    return out


# -- slices ---------------------------------------------------------------------------------

_SLICE = re.compile(r"^\[\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)$")


def parse_slice(text: str) -> tuple[float, float] | None:
    """The half-open range of a validation slice label such as ``"[3.2, 4.1)"`` or ``"[-inf, 0)"``; None otherwise."""
    m = _SLICE.match(text.strip())
    if m is None:
        return None
    try:
        low, high = float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
    return (low, high) if low < high else None
