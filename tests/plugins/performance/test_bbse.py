"""BBSE: recovers q(y) under pure label shift, corrects the performance estimate, refuses when it cannot."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from plugins.performance.bbse import BBSEReference, corrected_metrics, estimate_bbse, fit_bbse
from plugins.performance.cbpe import CBPEReference, estimate_cbpe, fit_cbpe, realized_classification
from plugins.performance.metrics import predicted_classes

from .simulate import UNIFORM, label_shifted

METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc")


def _fit(rng: np.random.Generator, n: int = 20000) -> tuple[CBPEReference, BBSEReference]:
    proba, y = label_shifted(rng, n, UNIFORM)
    pred = predicted_classes(proba, False, 0.5)
    return (fit_cbpe(proba, y, ("0", "1", "2"), threshold=0.5, calibration="auto", folds=3),
            fit_bbse(proba, y, pred, binary=False))


def test_pure_label_shift_q_within_0_03_and_the_corrected_estimate_beats_cbpe() -> None:
    rng = np.random.default_rng(8)
    cbpe_ref, ref = _fit(rng)
    assert ref.condition < 10
    q = np.array([0.8, 0.1, 0.1])
    tv, err_cbpe, err_bbse = [], [], []
    for _ in range(5):
        proba, y = label_shifted(rng, 5000, q)
        got = estimate_bbse(ref, predicted_classes(proba, False, 0.5), max_condition=100.0, min_rows=50)
        assert got.refused is None and got.q is not None and got.corrected is not None
        tv.append(0.5 * float(np.abs(got.q - q).sum()))
        real = realized_classification(cbpe_ref, proba, y)
        cbpe = estimate_cbpe(cbpe_ref, proba)
        err_cbpe += [abs(cbpe[m].value - real[m]) for m in METRICS]
        err_bbse += [abs(got.corrected[m].value - real[m]) for m in METRICS]
        assert got.p_value < 1e-6  # the test on predicted classes sees the shift
    print(f"label shift: max TV {max(tv):.4f}; mean |error| CBPE {np.mean(err_cbpe):.4f}, "
          f"BBSE-corrected {np.mean(err_bbse):.4f}")
    assert max(tv) <= 0.03
    assert np.mean(err_bbse) < 0.5 * np.mean(err_cbpe)


def test_no_shift_keeps_q_near_p_and_the_test_quiet() -> None:
    rng = np.random.default_rng(9)
    _, ref = _fit(rng)
    p_values = []
    for _ in range(20):
        proba, _ = label_shifted(rng, 2000, UNIFORM)
        got = estimate_bbse(ref, predicted_classes(proba, False, 0.5), max_condition=100.0, min_rows=50)
        assert got.q is not None and got.total_variation < 0.05
        p_values.append(got.p_value)
    assert sum(p < 0.05 for p in p_values) <= 3


def test_corrected_auc_is_the_reference_auc_reweighted_by_w() -> None:
    rng = np.random.default_rng(10)
    proba, y = label_shifted(rng, 4000, UNIFORM)
    ref = fit_bbse(proba, y, predicted_classes(proba, False, 0.5), binary=False)
    q = np.array([0.5, 0.3, 0.2])
    weights = (q / ref.p)[y]
    expected = np.mean([roc_auc_score(y == c, proba[:, c], sample_weight=weights) for c in range(3)])
    assert abs(corrected_metrics(ref, q)["auc_roc"] - expected) < 1e-9
    # and at q = p it is the reference's own one-vs-rest AUC
    assert abs(corrected_metrics(ref, ref.p)["auc_roc"] - roc_auc_score(y, proba, multi_class="ovr")) < 1e-9


def test_refuses_an_ill_conditioned_confusion_matrix_and_a_class_missing_from_the_reference() -> None:
    rng = np.random.default_rng(11)
    proba, y = label_shifted(rng, 3000, UNIFORM)
    never_two = proba.copy()
    never_two[:, 2] = 0.0  # a model that never predicts class 2: C is singular
    ref = fit_bbse(never_two, y, predicted_classes(never_two, False, 0.5), binary=False)
    got = estimate_bbse(ref, np.zeros(500, dtype=np.int64), max_condition=100.0, min_rows=50)
    assert got.refused == "ill_conditioned" and got.q is None and got.condition > 100

    no_two = y != 2
    ref2 = fit_bbse(proba[no_two], y[no_two], predicted_classes(proba[no_two], False, 0.5), binary=False)
    got2 = estimate_bbse(ref2, np.zeros(500, dtype=np.int64), max_condition=1e12, min_rows=50)
    assert got2.refused == "class_missing"
