"""Confidence-based performance estimation (CBPE) for binary and multiclass classifiers.

Fitted once on the reference (scores and labels): an isotonic calibration of the scores
(``isotonic.fit_calibration``). Per window, no labels: calibrate the window's scores, take
them as each row's label distribution, and compute the expected confusion matrix and
from it accuracy, precision, recall, F1 and ROC AUC, each with a sampling error
(``metrics.classification_metrics``).

Assumes: the calibration learnt on the reference still holds, i.e. P(y | score) is
unchanged — true under covariate shift (P(x) moves, P(y | x) stays) for a model that is
calibrated where the window's rows fall. Fails under concept drift (P(y | x) changes) and
under label shift (P(y) changes, so P(y | x) does too): the estimate then stays where the
calibration says, and only the labels (``ml.performance.estimation_error``) or BBSE show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from plugins.performance.isotonic import Calibration, CalibrationMode, fit_calibration
from plugins.performance.metrics import Estimate, classification_metrics, one_hot, predicted_classes


@dataclass(frozen=True, slots=True)
class CBPEReference:
    """What CBPE keeps of the reference: classes, decision rule, calibration and reference performance."""

    classes: tuple[str, ...]
    binary: bool
    threshold: float
    calibration: Calibration
    reference: dict[str, float]
    rows: int

    @property
    def k(self) -> int:
        """Number of classes (2 for binary)."""
        return len(self.classes)


def as_proba(outputs: np.ndarray, k: int | None = None) -> np.ndarray:
    """An (n, k) float matrix of class scores from outputs: 2-D vectors, or 1-D P(class 1) -> [1 − p, p].

    Raises ``ValueError`` for outputs that are not numbers, or of another width than ``k``.
    """
    arr = np.asarray(outputs)
    if arr.dtype == object:
        arr = np.asarray(arr.tolist(), dtype=float)
    arr = arr.astype(float, copy=False)
    if arr.ndim == 1:
        arr = np.column_stack([1.0 - arr, arr])
    if arr.ndim != 2:
        raise ValueError(f"outputs of shape {arr.shape}, expected (rows,) or (rows, classes)")
    if k is not None and arr.shape[1] != k:
        raise ValueError(f"{arr.shape[1]} class scores per row, expected {k}")
    return arr


def fit_cbpe(proba: np.ndarray, labels: np.ndarray, classes: Sequence[str], *, threshold: float,
             calibration: CalibrationMode, folds: int) -> CBPEReference:
    """Fit CBPE on reference scores (n, k) and class indices ``labels``."""
    binary = proba.shape[1] == 2
    cal = fit_calibration(proba, labels, binary=binary, mode=calibration, folds=folds)
    pred = predicted_classes(proba, binary, threshold)
    realized = classification_metrics(proba, pred, one_hot(labels, proba.shape[1]), binary=binary, errors=False)
    return CBPEReference(tuple(classes), binary, threshold, cal, {m: e.value for m, e in realized.items()},
                         len(labels))


def estimate_cbpe(ref: CBPEReference, proba: np.ndarray) -> dict[str, Estimate]:
    """Expected accuracy, precision, recall, F1 and AUC of a window of scores, with sampling errors."""
    pred = predicted_classes(proba, ref.binary, ref.threshold)
    # one sort per class serves both the calibration and the AUC
    orders = {c: np.argsort(proba[:, c]) for c in ([1] if ref.binary else range(ref.k))}
    calibrated = ref.calibration.apply(proba, orders)
    return classification_metrics(proba, pred, calibrated, binary=ref.binary, orders=orders)


def realized_classification(ref: CBPEReference, proba: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Realized metrics of rows with known labels (class indices), by the same definitions."""
    pred = predicted_classes(proba, ref.binary, ref.threshold)
    got = classification_metrics(proba, pred, one_hot(labels, ref.k), binary=ref.binary, errors=False)
    return {m: e.value for m, e in got.items()}
