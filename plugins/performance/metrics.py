"""Classification metrics from (expected) labels, with their sampling error: one code path for both.

``classification_metrics(scores, predicted, expected)`` takes the model's scores (n, k),
its predicted classes, and an (n, k) matrix of label probabilities. With one-hot labels
it returns the realized metrics; with calibrated probabilities it returns CBPE's
expected metrics (NannyML's expected confusion matrix: TP_c = Σ_{ŷ=c} p̂_c, ...).

The sampling error of each metric is the delta method on the rows' labels: a metric is
a smooth function of the label matrix Y, linearised as M ≈ M₀ + Σ_i g_iᵀ (Y_i − p̂_i), and
each row's label is one draw from its calibrated distribution p̂_i (covariance
diag(p̂_i) − p̂_i p̂_iᵀ). So Var M = Σ_i (g_iᵀ diag(p̂_i) g_i − (g_iᵀ p̂_i)²): the spread of
the *realized* metric of this window around the estimate when the calibrated
probabilities are right — exact for accuracy and precision (linear in Y), first order
for recall, F1 and AUC.

Binary models report the positive class (class 1, predicted when its score reaches the
threshold); multiclass models the unweighted mean over classes ("macro", as
scikit-learn's ``average="macro"`` and one-vs-rest ``roc_auc_score``). A ratio with an
empty denominator scores 0 (scikit-learn's ``zero_division=0``); AUC is NaN when a class
has no positive or no negative row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc")


@dataclass(frozen=True, slots=True)
class Estimate:
    """An estimated metric and its standard error; the band is ``value ± z·std``."""

    value: float
    std: float

    def band(self, z: float) -> tuple[float, float]:
        """(lower, upper) at ``z`` standard errors."""
        return (self.value - z * self.std, self.value + z * self.std)

    def to_json(self, z: float) -> dict[str, float | None]:
        """Plain data (NaN as None) for a log attribute."""
        lo, hi = self.band(z)
        return {"value": _num(self.value), "std": _num(self.std), "lower": _num(lo), "upper": _num(hi)}


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def predicted_classes(scores: np.ndarray, binary: bool, threshold: float) -> np.ndarray:
    """The class each row predicts: argmax (multiclass) or P(class 1) >= threshold (binary)."""
    if binary:
        return (scores[:, 1] >= threshold).astype(np.int64)
    return np.argmax(scores, axis=1).astype(np.int64)


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """An (n, k) 0/1 matrix from class indices."""
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


@dataclass(frozen=True, slots=True)
class Ranks:
    """``s`` sorted: its order, each sorted position's tie group, the groups' first positions, 1-based midranks."""

    order: np.ndarray
    gid: np.ndarray
    first: np.ndarray
    rank: np.ndarray


def midranks(s: np.ndarray, order: np.ndarray | None = None) -> Ranks:
    """The sort of ``s`` with ties grouped and their midranks (as ``scipy.stats.rankdata``, in sorted order).

    ``order`` is ``argsort(s)`` when the caller has it already.
    """
    if order is None:
        order = np.argsort(s)  # ties are grouped below, so the sort need not be stable
    ss = s[order]
    start = np.empty(len(ss), dtype=bool)
    start[:1] = True
    start[1:] = ss[1:] != ss[:-1]
    gid = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    sizes = np.diff(np.append(first, len(ss)))
    rank = (first + (sizes + 1) / 2.0)[gid]
    return Ranks(order, gid, first, rank)


def auc_with_gradient(s: np.ndarray, q: np.ndarray, gradient: bool,
                      order: np.ndarray | None = None) -> tuple[float, np.ndarray | None]:
    """Expected (or realized, for 0/1 ``q``) AUC of scores ``s`` for P(positive) = ``q``, and dAUC/dY_i.

    AUC = Σ_{i≠j} q_i (1 − q_j) [s_i > s_j] (ties ½) / Σ_{i≠j} q_i (1 − q_j): the Mann-Whitney
    statistic, whose expectation this is to first order. The gradient linearises
    (Σ Y_i r_i − S(S+1)/2) / (S(n − S)) in the labels, with r the midranks of ``s``.
    """
    n = len(s)
    r = midranks(s, order)
    order, gid, first, rank = r.order, r.gid, r.first, r.rank
    qs = q[order]
    neg = 1.0 - qs
    below = np.concatenate([[0.0], np.cumsum(neg)])  # Σ neg strictly before position i
    group_neg = np.add.reduceat(neg, first) if n else np.zeros(0)
    before_group = below[first][gid]
    u = float(np.sum(qs * (before_group + 0.5 * (group_neg[gid] - neg))))
    total_pos = float(qs.sum())
    d = total_pos * float(neg.sum()) - float(np.sum(qs * neg))
    auc = u / d if d > 0 else math.nan
    if not gradient or not math.isfinite(auc):
        return auc, None
    S = total_pos
    denom = S * (n - S)
    g_sorted = (rank - S - 0.5 - auc * (n - 2 * S)) / denom
    g = np.empty(n)
    g[order] = g_sorted
    return auc, g


def classification_metrics(scores: np.ndarray, predicted: np.ndarray, expected: np.ndarray, *,
                           binary: bool, errors: bool = True,
                           orders: dict[int, np.ndarray] | None = None) -> dict[str, Estimate]:
    """Accuracy, precision, recall, F1 and AUC of the labels ``expected`` (0/1 or probabilities).

    ``scores`` rank the rows for AUC (the model's raw scores; ``orders`` their argsort per
    class when already computed); ``errors=False`` skips the sampling errors (realized
    metrics), leaving ``std`` NaN.
    """
    n, k = expected.shape
    if n == 0:
        return {m: Estimate(math.nan, math.nan) for m in METRICS}
    classes = [1] if binary else list(range(k))
    weight = 1.0 / len(classes)
    hit = expected[np.arange(n), predicted]  # (expected) P(label = predicted class) per row
    N = np.bincount(predicted, minlength=k).astype(float)  # rows predicted as each class (the model's decisions)
    S = expected.sum(axis=0)  # (expected) true rows of each class
    T = np.bincount(predicted, weights=hit, minlength=k)  # (expected) true positives
    out: dict[str, Estimate] = {}
    # gradients of the form g_ij = u_j·[ŷ_i = j] + v_j (see _pattern_std); AUC's is dense
    grads: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    out["accuracy"] = Estimate(float(T.sum() / n), math.nan)
    grads["accuracy"] = (np.full(k, 1.0 / n), np.zeros(k))

    prec = np.where(N > 0, T / np.where(N > 0, N, 1.0), 0.0)
    rec = np.where(S > 0, T / np.where(S > 0, S, 1.0), 0.0)
    f1d = N + S
    f1 = np.where(f1d > 0, 2 * T / np.where(f1d > 0, f1d, 1.0), 0.0)
    cols = np.zeros(k)
    cols[classes] = weight
    out["precision"] = Estimate(float(np.sum(prec * cols)), math.nan)
    out["recall"] = Estimate(float(np.sum(rec * cols)), math.nan)
    out["f1"] = Estimate(float(np.sum(f1 * cols)), math.nan)
    if errors:
        a_prec = cols * (N > 0) / np.where(N > 0, N, 1.0)
        a_rec = cols * (S > 0) / np.where(S > 0, S, 1.0)
        a_f1 = cols * (f1d > 0) / np.where(f1d > 0, f1d, 1.0)
        grads["precision"] = (a_prec, np.zeros(k))
        grads["recall"] = (a_rec, -a_rec * rec)
        grads["f1"] = (2 * a_f1, -a_f1 * f1)

    aucs = []
    g_auc = np.zeros((n, k)) if errors else None
    for c in classes:
        auc_c, g_c = auc_with_gradient(scores[:, c], expected[:, c], errors, None if orders is None else orders[c])
        aucs.append(auc_c)
        if g_auc is not None and g_c is not None:
            g_auc[:, c] = weight * g_c
    auc = float(np.mean(aucs)) if all(math.isfinite(a) for a in aucs) else math.nan
    out["auc_roc"] = Estimate(auc, math.nan)
    if not errors:
        return out
    for name, (u, v) in grads.items():
        out[name] = Estimate(out[name].value, _pattern_std(u, v, predicted, hit, expected))
    if g_auc is not None and math.isfinite(auc):
        out["auc_roc"] = Estimate(auc, row_label_std(g_auc, expected))
    return out


def _pattern_std(u: np.ndarray, v: np.ndarray, predicted: np.ndarray, hit: np.ndarray, p: np.ndarray) -> float:
    """``row_label_std`` for g_ij = u_j·[ŷ_i = j] + v_j, without building the (n, k) gradient.

    Σ_j g_ij² p_ij = (u² + 2uv)[ŷ_i]·p_iŷ + p_i·v², and Σ_j g_ij p_ij = u[ŷ_i]·p_iŷ + p_i·v.
    """
    uy = u[predicted]
    if not v.any():  # accuracy, precision: only the predicted class's label counts
        sq, lin = uy * uy * hit, uy * hit
    else:
        vy = v[predicted]
        sq = (uy * uy + 2 * uy * vy) * hit + p @ (v * v)
        lin = uy * hit + p @ v
    var = float(np.sum(sq) - np.sum(lin * lin))
    return math.sqrt(max(var, 0.0))


def row_label_std(g: np.ndarray, p: np.ndarray) -> float:
    """sqrt(Σ_i g_iᵀ diag(p_i) g_i − (g_iᵀ p_i)²): the std of Σ_i g_iᵀ Y_i for Y_i ~ Multinomial(1, p_i)."""
    var = float(np.sum(g * g * p) - np.sum(np.sum(g * p, axis=1) ** 2))
    return math.sqrt(max(var, 0.0))


def metrics_from_joint(joint: np.ndarray, *, binary: bool) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of a joint distribution P(ŷ = i, y = j) (rows: predicted)."""
    k = joint.shape[0]
    classes = [1] if binary else list(range(k))
    tp = np.diag(joint)
    pred = joint.sum(axis=1)
    true = joint.sum(axis=0)
    prec = np.where(pred > 0, tp / np.where(pred > 0, pred, 1.0), 0.0)
    rec = np.where(true > 0, tp / np.where(true > 0, true, 1.0), 0.0)
    den = pred + true
    f1 = np.where(den > 0, 2 * tp / np.where(den > 0, den, 1.0), 0.0)
    return {
        "accuracy": float(tp.sum()),
        "precision": float(np.mean(prec[classes])),
        "recall": float(np.mean(rec[classes])),
        "f1": float(np.mean(f1[classes])),
    }
