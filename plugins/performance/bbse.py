"""Black Box Shift Estimation (Lipton, Wang and Smola, 2018): label shift from predicted classes alone.

Fitted on the reference: the joint confusion matrix C[i, j] = P(ŷ = i, y = j), the label
distribution p(y), the conditional M = P(ŷ | y) = C·diag(p)⁻¹, and the condition number
of C. Per window, with μ̂ the window's predicted-class distribution, label shift gives
μ̂ = M q: solve it for q(y) with q ≥ 0 and Σ q = 1 (non-negative least squares, then
normalised), and w = q / p. The sampling error of q is the delta method,
Cov(q) = M⁻¹ Cov(μ̂) M⁻ᵀ with Cov(μ̂) = (diag μ̂ − μ̂μ̂ᵀ)/n (the reference's own finite size
is not counted: keep it several times larger than a window).

Test for label shift (the paper's): under label shift q(ŷ) = p(ŷ) exactly when q(y) = p(y)
(C invertible), so a chi-square test of the predicted-class counts, reference against
window, is a test of label shift. It fires on any change of the predicted classes,
covariate shift included: it says *whether* the outputs moved, BBSE says *what* q(y) is
if the move is label shift.

Corrected performance: under label shift P(ŷ | y) is unchanged, so the window's joint
confusion matrix is M·diag(q): accuracy, precision, recall and F1 follow; AUC is the
reference's one-vs-rest AUC with its pairs reweighted by w (precomputed per class pair).
Refused (with a reason) when C is ill-conditioned (above ``max_condition``: a class the
model almost never predicts or cannot tell apart), or a class has no reference label.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from plugins.performance import names as n
from plugins.performance.metrics import Estimate, metrics_from_joint, midranks


@dataclass(frozen=True, slots=True)
class BBSEReference:
    """The reference's confusion structure, as BBSE needs it."""

    joint: np.ndarray  # (k, k) P(ŷ = i, y = j)
    p: np.ndarray  # (k,) reference label distribution
    conditional: np.ndarray  # (k, k) P(ŷ = i | y = j)
    predicted_counts: np.ndarray  # (k,) reference rows predicted as each class
    pair_wins: np.ndarray  # (k, k) V[c, b]: pairs (y = c, y = b) ranked right by score c (ties ½)
    class_counts: np.ndarray  # (k,) reference rows of each true class
    condition: float
    binary: bool
    rows: int


@dataclass(frozen=True, slots=True)
class BBSEResult:
    """One window's label-shift estimate, or why there is none."""

    refused: str | None
    condition: float
    rows: int
    q: np.ndarray | None = None
    q_std: np.ndarray | None = None
    w: np.ndarray | None = None
    p: np.ndarray | None = None
    chi2: float = math.nan
    p_value: float = math.nan
    corrected: dict[str, Estimate] | None = None

    @property
    def total_variation(self) -> float:
        """Half the L1 distance between q and the reference p (NaN when refused)."""
        return math.nan if self.q is None or self.p is None else float(0.5 * np.abs(self.q - self.p).sum())


def fit_bbse(proba: np.ndarray, labels: np.ndarray, predicted: np.ndarray, *, binary: bool) -> BBSEReference:
    """Reference confusion matrices, condition number and per-class-pair AUC counts."""
    rows, k = proba.shape
    joint = np.zeros((k, k))
    np.add.at(joint, (predicted, labels), 1.0)
    joint /= max(rows, 1)
    p = joint.sum(axis=0)
    conditional = joint / np.where(p > 0, p, 1.0)
    singular = np.linalg.svd(joint, compute_uv=False)
    condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf
    class_counts = np.bincount(labels, minlength=k).astype(float)
    onehot = np.zeros((rows, k))
    onehot[np.arange(rows), labels] = 1.0
    wins = np.zeros((k, k))
    for c in ([1] if binary else range(k)):
        r = midranks(proba[:, c])
        order, gid, first = r.order, r.gid, r.first
        ys = onehot[order]
        below = np.vstack([np.zeros((1, k)), np.cumsum(ys, axis=0)])
        group = np.add.reduceat(ys, first, axis=0)
        # for each row: rows of each class strictly below its score, plus half its tie group (itself excluded)
        lower = below[first][gid] + 0.5 * (group[gid] - ys)
        wins[c] = (lower * ys[:, [c]]).sum(axis=0)
    return BBSEReference(joint, p, conditional, np.bincount(predicted, minlength=k).astype(float), wins,
                         class_counts, condition, binary, rows)


def corrected_metrics(ref: BBSEReference, q: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and AUC expected under label distribution ``q``."""
    out = metrics_from_joint(ref.conditional * q[None, :], binary=ref.binary)
    w = q / np.where(ref.p > 0, ref.p, 1.0)
    counts = ref.class_counts
    # AUC_c = Σ_{b≠c} w_b V[c, b] / Σ_{b≠c} w_b n_c n_b (the positives' weight w_c cancels)
    num = ref.pair_wins @ w - np.diag(ref.pair_wins) * w
    den = counts * (counts @ w - counts * w)
    auc = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    out["auc_roc"] = float(auc[1]) if ref.binary else float(np.mean(auc))
    return out


def _jacobian_std(fn: Callable[[np.ndarray], dict[str, float]], q: np.ndarray, cov: np.ndarray,
                  base: dict[str, float]) -> dict[str, float]:
    """Delta-method std of each metric of ``fn(q)`` for Cov(q) = ``cov`` (forward differences)."""
    h = 1e-6
    k = len(q)
    jac = {m: np.zeros(k) for m in base}
    for j in range(k):
        bumped = q.copy()
        bumped[j] += h
        got = fn(bumped)
        for m, value in base.items():
            jac[m][j] = (got[m] - value) / h
    return {m: math.sqrt(max(float(g @ cov @ g), 0.0)) for m, g in jac.items()}


def estimate_bbse(ref: BBSEReference, predicted: np.ndarray, *, max_condition: float,
                  min_rows: int) -> BBSEResult:
    """Estimate q(y), w, the label-shift test and the corrected metrics of a window's predicted classes."""
    rows = len(predicted)
    k = len(ref.p)
    if np.any(ref.p <= 0):
        return BBSEResult(n.REFUSE_CLASS_MISSING, ref.condition, rows)
    if not ref.condition <= max_condition:
        return BBSEResult(n.REFUSE_ILL_CONDITIONED, ref.condition, rows)
    if rows < min_rows:
        return BBSEResult(n.REFUSE_TOO_FEW_ROWS, ref.condition, rows)
    counts = np.bincount(predicted, minlength=k).astype(float)
    mu = counts / rows
    a = np.vstack([ref.conditional, np.ones((1, k))])
    from scipy.optimize import nnls  # imported when first used: scipy is slow to import

    q, _ = nnls(a, np.append(mu, 1.0))
    q = q / q.sum() if q.sum() > 0 else ref.p.copy()
    w = q / ref.p
    inv = np.linalg.inv(ref.conditional)
    cov_mu = (np.diag(mu) - np.outer(mu, mu)) / rows
    cov_q = inv @ cov_mu @ inv.T
    q_std = np.sqrt(np.clip(np.diag(cov_q), 0.0, None))
    table = np.vstack([ref.predicted_counts, counts])
    seen = table.sum(axis=0) > 0
    if seen.sum() >= 2:
        from scipy.stats import chi2_contingency

        chi2, p_value, _, _ = chi2_contingency(table[:, seen], correction=False)
    else:
        chi2, p_value = 0.0, 1.0
    base = corrected_metrics(ref, q)
    std = _jacobian_std(lambda x: corrected_metrics(ref, x), q, cov_q, base)
    corrected = {m: Estimate(v, std[m]) for m, v in base.items()}
    return BBSEResult(None, ref.condition, rows, q, q_std, w, ref.p, float(chi2), float(p_value), corrected)
