"""CBPE agrees with NannyML's: with NannyML's own numbers (recorded) and with a reference implementation here.

NannyML is not installed in the test environment (see ``make_nannyml_fixture.py`` for why);
``nannyml_cbpe.json`` holds what NannyML 0.13.1 estimated on ``simulate.nannyml_data()``.
The reference implementation below is written independently from the CBPE description
(NannyML's documentation, "Estimation of Performance of the Monitored Model"): scikit-learn
isotonic regression one-vs-rest, rows renormalised, the expected confusion matrix per
class, and the expected ROC curve from cumulative calibrated probabilities.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import auc

from plugins.performance.cbpe import estimate_cbpe, fit_cbpe

from .simulate import covariate_shifted_multiclass, logistic, nannyml_data

FIXTURE = Path(__file__).with_name("nannyml_cbpe.json")
NANNYML_NAMES = {"auc_roc": "roc_auc", "accuracy": "accuracy", "precision": "precision", "recall": "recall",
                 "f1": "f1"}


# -- an independent CBPE, from the method's description ---------------------------------------


def reference_calibrate(ref_p: np.ndarray, ref_y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Isotonic one-vs-rest with scikit-learn, rows renormalised (binary: P(1) only)."""
    if p.shape[1] == 2:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(ref_p[:, 1], ref_y == 1)
        p1 = iso.predict(p[:, 1])
        return np.column_stack([1 - p1, p1])
    out = np.column_stack([IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
                           .fit(ref_p[:, c], ref_y == c).predict(p[:, c]) for c in range(p.shape[1])])
    return out / out.sum(axis=1, keepdims=True)


def expected_roc_auc(p: np.ndarray) -> float:
    """NannyML's estimate: thresholds at every distinct calibrated score, expected TP/FP/FN/TN from cumulative sums."""
    thresholds = np.sort(p)
    tp = np.cumsum(thresholds[::-1])[::-1]
    fp = np.cumsum((1 - thresholds)[::-1])[::-1]
    fn = np.cumsum(np.insert(thresholds, 0, 0)[:-1])
    tn = np.cumsum(np.insert(1 - thresholds, 0, 0)[:-1])
    distinct = np.diff(np.insert(thresholds, 0, -1)).astype(bool)
    tpr = tp[distinct] / (tp[distinct] + fn[distinct])
    fpr = fp[distinct] / (fp[distinct] + tn[distinct])
    return float(auc(np.append(fpr, 0), np.append(tpr, 0)))


def reference_cbpe(calibrated: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Expected metrics from calibrated probabilities (binary: class 1; else macro over classes)."""
    k = calibrated.shape[1]
    per: dict[str, list[float]] = {"precision": [], "recall": [], "f1": [], "auc_roc": []}
    for c in ([1] if k == 2 else range(k)):
        p, hit = calibrated[:, c], pred == c
        tp, fp, fn = p[hit].sum(), (1 - p[hit]).sum(), p[~hit].sum()
        per["precision"].append(tp / (tp + fp))
        per["recall"].append(tp / (tp + fn))
        per["f1"].append(2 * tp / (2 * tp + fp + fn))
        per["auc_roc"].append(expected_roc_auc(p))
    out = {m: float(np.mean(v)) for m, v in per.items()}
    out["accuracy"] = float(np.mean(calibrated[np.arange(len(pred)), pred]))
    return out


# -- the comparisons ------------------------------------------------------------------------------


def _checksum(data: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(data):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k], dtype=np.float64).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_estimates_agree_with_nannyml_within_0_01(kind: str) -> None:
    recorded = json.loads(FIXTURE.read_text())
    data = nannyml_data()
    assert recorded["checksum"] == _checksum(data), "simulate.nannyml_data changed: re-run make_nannyml_fixture.py"
    if kind == "binary":
        ref_p = np.column_stack([1 - data["bin_ref_p"], data["bin_ref_p"]])
        ref_y, ana = data["bin_ref_y"], np.column_stack([1 - data["bin_ana_p"], data["bin_ana_p"]])
    else:
        ref_p, ref_y, ana = data["mc_ref_p"], data["mc_ref_y"], data["mc_ana_p"]
    ref = fit_cbpe(ref_p, ref_y, [str(c) for c in range(ref_p.shape[1])], threshold=0.5, calibration="auto", folds=3)
    worst = 0.0
    for chunk in range(5):
        ours = estimate_cbpe(ref, ana[chunk * 1000:(chunk + 1) * 1000])
        for metric, theirs in NANNYML_NAMES.items():
            worst = max(worst, abs(ours[metric].value - recorded[kind][theirs][chunk]))
    print(f"{kind}: largest difference {worst:.5f}")
    assert worst <= 0.01, worst


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_estimates_agree_with_a_reference_implementation_when_calibration_is_needed(kind: str) -> None:
    rng = np.random.default_rng(7)
    if kind == "binary":
        _, p, y = logistic(rng, 6000)
        over = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))  # overconfident scores: calibration matters
        ref_p, ref_y = np.column_stack([1 - over, over]), y
        windows = []
        for s in (-0.5, 0.0, 0.5, 1.0, 1.5):
            _, pw, _ = logistic(rng, 1000, shift=s)
            ow = 1 / (1 + np.exp(-3 * np.log(pw / (1 - pw))))
            windows.append(np.column_stack([1 - ow, ow]))
    else:
        ref_p, ref_y = covariate_shifted_multiclass(rng, 6000, 1.0)
        ref_p = ref_p**2 / (ref_p**2).sum(axis=1, keepdims=True)  # sharpened: overconfident
        windows = []
        for s in (0.0, 0.5, 1.0, 1.5, 2.0):
            pw, _ = covariate_shifted_multiclass(rng, 1000, s)
            windows.append(pw**2 / (pw**2).sum(axis=1, keepdims=True))
    ref = fit_cbpe(ref_p, ref_y, [str(c) for c in range(ref_p.shape[1])], threshold=0.5, calibration="isotonic",
                   folds=3)
    worst = 0.0
    for w in windows:
        ours = estimate_cbpe(ref, w)
        pred = (w[:, 1] >= 0.5).astype(int) if w.shape[1] == 2 else w.argmax(axis=1)
        theirs = reference_cbpe(reference_calibrate(ref_p, ref_y, w), pred)
        worst = max(worst, *(abs(ours[m].value - theirs[m]) for m in theirs))
    print(f"{kind}: largest difference {worst:.5f}")
    assert worst <= 0.01, worst
