"""Realized metrics match scikit-learn; the sampling-error bands cover the realized value as often as they say."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from plugins.performance.cbpe import fit_cbpe, realized_classification
from plugins.performance.metrics import classification_metrics, one_hot, predicted_classes

from .simulate import covariate_shifted_multiclass, logistic


def _sklearn(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, binary: bool) -> dict[str, float]:
    avg = "binary" if binary else "macro"
    p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
    auc = skm.roc_auc_score(y, proba[:, 1]) if binary else skm.roc_auc_score(y, proba, multi_class="ovr")
    return {"accuracy": skm.accuracy_score(y, pred), "precision": p, "recall": r, "f1": f, "auc_roc": auc}


@pytest.mark.parametrize("binary", [True, False])
def test_realized_metrics_equal_scikit_learn_with_tied_scores(binary: bool) -> None:
    rng = np.random.default_rng(3)
    k = 2 if binary else 4
    proba = np.round(rng.dirichlet(np.ones(k), size=3000), 2)  # rounded: many tied scores
    proba /= proba.sum(axis=1, keepdims=True)
    y = rng.integers(0, k, 3000)
    pred = predicted_classes(proba, binary, 0.5)
    ours = classification_metrics(proba, pred, one_hot(y, k), binary=binary, errors=False)
    for metric, value in _sklearn(y, pred, proba, binary).items():
        assert ours[metric].value == pytest.approx(value, abs=1e-12), metric


def _coverage(windows: list[tuple[np.ndarray, np.ndarray]], binary: bool, z: float) -> dict[str, float]:
    first_p, first_y = windows[0]
    ref = fit_cbpe(first_p, first_y, [str(c) for c in range(first_p.shape[1])], threshold=0.5,
                   calibration="auto", folds=3)
    hits = dict.fromkeys(("accuracy", "precision", "recall", "f1", "auc_roc"), 0)
    for proba, y in windows[1:]:
        pred = predicted_classes(proba, binary, 0.5)
        est = classification_metrics(proba, pred, ref.calibration.apply(proba), binary=binary)
        real = realized_classification(ref, proba, y)
        for m in hits:
            hits[m] += abs(est[m].value - real[m]) <= z * est[m].std
    return {m: h / (len(windows) - 1) for m, h in hits.items()}


def test_cbpe_bands_cover_the_realized_value_under_covariate_shift_binary() -> None:
    rng = np.random.default_rng(4)
    windows = [logistic(rng, 5000)[1:]]
    windows += [logistic(rng, 1000, shift=s)[1:] for s in rng.uniform(-1.0, 1.5, 150)]
    windows = [(np.column_stack([1 - p, p]), y) for p, y in windows]
    three = _coverage(windows, True, 3.0)
    one = _coverage(windows, True, 1.0)
    # the bar: accuracy and AUC within the band in >= 90% of windows
    assert three["accuracy"] >= 0.9 and three["auc_roc"] >= 0.9, three
    assert min(three.values()) >= 0.9, three
    # and the band is not wide for nothing: one standard error covers about 68%
    assert max(one.values()) <= 0.85, one


def test_cbpe_bands_cover_the_realized_value_under_covariate_shift_multiclass() -> None:
    rng = np.random.default_rng(5)
    windows = [covariate_shifted_multiclass(rng, 6000, 1.0)]
    windows += [covariate_shifted_multiclass(rng, 1000, s) for s in rng.uniform(-0.5, 2.5, 100)]
    three = _coverage(windows, False, 3.0)
    one = _coverage(windows, False, 1.0)
    assert min(three.values()) >= 0.9, three
    assert max(one.values()) <= 0.85, one
