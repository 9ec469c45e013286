"""Pure realized-performance metrics: classification, regression and ranking from joined labels.

Every function takes plain arrays and returns floats; nothing here keeps state. The
definitions follow scikit-learn's (the tests check each one against it) so numbers
match what a data scientist computes offline, without making scikit-learn a runtime
dependency.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Average = Literal["binary", "macro"]
# Metrics where a larger value is worse: a "drop" in quality is a rise of these.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mape"})


@dataclass(frozen=True, slots=True)
class PerformanceResult:
    """Realized performance of one window: metric values and metrics skipped with a reason."""

    task: str
    n: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)


def accuracy(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray) -> float:
    """Share of predictions equal to the label."""
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if len(t) == 0:
        return math.nan
    return float(np.mean(t == p))


def precision_recall_f1(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    *,
    average: Average = "binary",
    pos_label: Hashable = 1,
) -> tuple[float, float, float]:
    """Precision, recall and F1 (binary for ``pos_label``, or the unweighted mean over classes).

    A class with no predicted (or no true) rows scores 0 for that ratio, as
    scikit-learn's ``zero_division=0`` does.
    """
    t, p = list(y_true), list(y_pred)
    if average == "binary":
        return _prf_for(t, p, pos_label)
    classes = sorted(set(t) | set(p), key=repr)
    if not classes:
        return (math.nan, math.nan, math.nan)
    per = np.array([_prf_for(t, p, c) for c in classes])
    return (float(per[:, 0].mean()), float(per[:, 1].mean()), float(per[:, 2].mean()))


def _prf_for(t: list[Any], p: list[Any], label: Hashable) -> tuple[float, float, float]:
    tp = sum(1 for a, b in zip(t, p, strict=True) if a == label and b == label)
    fp = sum(1 for a, b in zip(t, p, strict=True) if a != label and b == label)
    fn = sum(1 for a, b in zip(t, p, strict=True) if a == label and b != label)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return (precision, recall, f1)


def roc_auc(y_true: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve for binary labels (1 = positive), ties counted half.

    Computed as the Mann-Whitney U statistic over average ranks; NaN when only one
    class is present.
    """
    t = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata  # scipy.stats costs ~0.7 s to import: only when a window is scored

    ranks = rankdata(s)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(y_true: Sequence[int] | np.ndarray, proba: Sequence[Any] | np.ndarray) -> float:
    """Mean negative log-likelihood; ``proba`` is P(y=1) per row or an (n, k) matrix over classes 0..k-1.

    Probabilities are clipped to [eps, 1-eps] with eps the float64 machine epsilon,
    as scikit-learn does.
    """
    t = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    if len(t) == 0:
        return math.nan
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(t)), t])))


def mae(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.mean(np.abs(t - p))) if len(t) else math.nan


def rmse(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean((t - p) ** 2))) if len(t) else math.nan


def mape(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    """Mean absolute percentage error as a fraction (0.1 = 10%); |y| is floored at machine epsilon."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if not len(t):
        return math.nan
    denom = np.maximum(np.abs(t), np.finfo(np.float64).eps)
    return float(np.mean(np.abs(t - p) / denom))


def ctr(clicks: int, impressions: int) -> float:
    """Click-through rate: clicks per shown item (NaN when nothing was shown)."""
    return clicks / impressions if impressions else math.nan


def precision_at_k(
    ranked: Sequence[Sequence[Hashable]], clicked: Sequence[AbstractSet[Hashable]], k: int
) -> float:
    """Mean over lists of (clicked items among the top k) / k."""
    if not ranked:
        return math.nan
    return float(np.mean([len(set(r[:k]) & c) / k for r, c in zip(ranked, clicked, strict=True)]))


def ndcg_at_k(ranked: Sequence[Sequence[Hashable]], clicked: Sequence[AbstractSet[Hashable]], k: int) -> float:
    """Mean NDCG@k with binary relevance (clicked = 1) over the shown list.

    DCG@k = Σ_{i<k} rel_i / log2(i + 2); the ideal DCG puts the list's clicked items
    first. A list without clicks scores 0 (as scikit-learn's ``ndcg_score`` does).
    """
    if not ranked:
        return math.nan
    scores = []
    for r, c in zip(ranked, clicked, strict=True):
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        gains = np.array([1.0 if item in c else 0.0 for item in r[:k]])
        dcg = float(np.sum(gains * discounts[: len(gains)]))
        n_rel = min(k, sum(1 for item in r if item in c))
        idcg = float(np.sum(discounts[:n_rel]))
        scores.append(dcg / idcg if idcg > 0 else 0.0)
    return float(np.mean(scores))


def classification_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    *,
    scores: Sequence[float] | None = None,
    proba: np.ndarray | None = None,
    pos_label: Hashable = 1,
) -> PerformanceResult:
    """Accuracy, precision, recall, F1, plus AUC-ROC and log loss when scores are available.

    Binary when every label and prediction is 0/1 (or ``pos_label``-vs-rest with two
    classes), macro-averaged otherwise. ``scores`` are P(positive) per row; ``proba``
    an (n, k) matrix used for multi-class log loss.
    """
    n = len(y_true)
    metrics: dict[str, float] = {}
    skipped: dict[str, str] = {}
    if n == 0:
        return PerformanceResult("classification", 0, {}, {"all": "no labelled rows"})
    classes = set(y_true) | set(y_pred)
    average: Average = "binary" if len(classes) <= 2 else "macro"
    metrics["accuracy"] = accuracy(y_true, y_pred)
    p, r, f = precision_recall_f1(y_true, y_pred, average=average, pos_label=pos_label)
    metrics.update(precision=p, recall=r, f1=f)
    if scores is not None and len(classes) <= 2:
        binary = [1 if y == pos_label else 0 for y in y_true]
        auc = roc_auc(binary, scores)
        if math.isnan(auc):
            skipped["auc_roc"] = "only one class among the labels"
        else:
            metrics["auc_roc"] = auc
        metrics["log_loss"] = log_loss(binary, scores)
    elif proba is not None and all(isinstance(y, int | np.integer) for y in y_true):
        if max(int(y) for y in y_true) < proba.shape[1]:
            metrics["log_loss"] = log_loss(np.asarray(y_true, dtype=int), proba)
        skipped["auc_roc"] = "multi-class scores: AUC-ROC is reported for binary models only"
    else:
        skipped["auc_roc"] = skipped["log_loss"] = "no scores captured for these predictions"
    return PerformanceResult("classification", n, metrics, skipped)


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> PerformanceResult:
    """MAE, RMSE and MAPE of one window."""
    if not len(y_true):
        return PerformanceResult("regression", 0, {}, {"all": "no labelled rows"})
    return PerformanceResult(
        "regression",
        len(y_true),
        {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "mape": mape(y_true, y_pred)},
    )


def ranking_metrics(
    ranked: Sequence[Sequence[Hashable]], clicked: Sequence[AbstractSet[Hashable]], *, k: int = 10
) -> PerformanceResult:
    """CTR, precision@k and NDCG@k over shown lists and the items clicked in each."""
    if not ranked:
        return PerformanceResult("ranking", 0, {}, {"all": "no impressions"})
    impressions = sum(len(r) for r in ranked)
    clicks = sum(len(set(r) & c) for r, c in zip(ranked, clicked, strict=True))
    return PerformanceResult(
        "ranking",
        len(ranked),
        {
            "ctr": ctr(clicks, impressions),
            f"precision_at_{k}": precision_at_k(ranked, clicked, k),
            f"ndcg_at_{k}": ndcg_at_k(ranked, clicked, k),
        },
    )


def relative_drop(name: str, baseline: float, current: float) -> float:
    """How much worse ``current`` is than ``baseline``, as a fraction of the baseline (>0 = worse)."""
    if math.isnan(baseline) or math.isnan(current) or baseline == 0:
        return math.nan
    if name in LOWER_IS_BETTER:
        return (current - baseline) / abs(baseline)
    return (baseline - current) / abs(baseline)


def degraded_metrics(
    baseline: Mapping[str, float], current: Mapping[str, float], threshold: float
) -> dict[str, float]:
    """Metrics whose relative drop from ``baseline`` exceeds ``threshold``, with the drop."""
    out: dict[str, float] = {}
    for name, base in baseline.items():
        if name in current:
            drop = relative_drop(name, base, current[name])
            if not math.isnan(drop) and drop > threshold:
                out[name] = drop
    return out
