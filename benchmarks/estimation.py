"""Per-window cost of estimating performance without labels, against computing it with labels.

A 10-class model, windows of 10,000 rows. Measured in the same run, median of repeats:
- CBPE: calibrate the window's scores (isotonic, one-vs-rest) and compute the expected
  accuracy, precision, recall, F1 and one-vs-rest AUC with their sampling errors;
- BBSE: the window's predicted classes -> q(y), w, the chi-square test, the corrected
  metrics with their delta-method errors;
- baseline: the realized metrics of the same window from its labels, by the same
  vectorised definitions (confusion counts and one-vs-rest AUC);
- for scale: scikit-learn's accuracy, macro precision/recall/F1 and one-vs-rest AUC on the
  same window (when scikit-learn is installed).
Target: CBPE + BBSE at most 2x the realized baseline.

Run: .venv/bin/python benchmarks/estimation.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from plugins.performance.bbse import estimate_bbse, fit_bbse
from plugins.performance.cbpe import estimate_cbpe, fit_cbpe, realized_classification
from plugins.performance.metrics import predicted_classes

CLASSES = 10
ROWS = 10_000
REFERENCE = 20_000
REPEATS = 31


def make(rng: np.random.Generator, n: int, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a 10-class softmax model over 8 features, labels drawn from its own probabilities."""
    y = rng.integers(0, CLASSES, n)
    x = centers[y] + rng.normal(size=(n, centers.shape[1]))
    logits = x @ centers.T
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True), y


def median_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    """Fit on a reference, then time one window's estimates and its realized metrics."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(CLASSES, 8)) * 1.2
    ref_p, ref_y = make(rng, REFERENCE, centers)
    classes = [str(c) for c in range(CLASSES)]
    t = time.perf_counter()
    cbpe = fit_cbpe(ref_p, ref_y, classes, threshold=0.5, calibration="isotonic", folds=3)
    bbse = fit_bbse(ref_p, ref_y, predicted_classes(ref_p, False, 0.5), binary=False)
    fit_s = time.perf_counter() - t
    proba, labels = make(rng, ROWS, centers)

    def run_bbse() -> object:
        return estimate_bbse(bbse, predicted_classes(proba, False, 0.5), max_condition=1e3, min_rows=50)

    cbpe_ms = median_ms(lambda: estimate_cbpe(cbpe, proba))
    bbse_ms = median_ms(run_bbse)
    realized_ms = median_ms(lambda: realized_classification(cbpe, proba, labels))
    print(f"window: {ROWS:,} rows x {CLASSES} classes; reference {REFERENCE:,} rows "
          f"(fit once: {fit_s * 1000:.0f} ms, BBSE condition number {bbse.condition:.1f})")
    print(f"CBPE (calibrate + expected metrics + bands):   {cbpe_ms:7.2f} ms")
    print(f"BBSE (q(y), w, test, corrected metrics):       {bbse_ms:7.2f} ms")
    print(f"baseline: realized metrics from labels:        {realized_ms:7.2f} ms")
    print(f"ratio CBPE / realized:                         {cbpe_ms / realized_ms:7.2f}x")
    print(f"ratio (CBPE + BBSE) / realized:                {(cbpe_ms + bbse_ms) / realized_ms:7.2f}x  (target <= 2x)")
    try:
        from sklearn import metrics as skm
    except ImportError:
        return

    def sklearn_realized() -> object:
        pred = proba.argmax(axis=1)
        return (skm.accuracy_score(labels, pred),
                skm.precision_recall_fscore_support(labels, pred, average="macro", zero_division=0),
                skm.roc_auc_score(labels, proba, multi_class="ovr"))

    sk_ms = median_ms(sklearn_realized, 7)
    print(f"for scale: scikit-learn realized metrics:      {sk_ms:7.2f} ms "
          f"((CBPE + BBSE) / scikit-learn = {(cbpe_ms + bbse_ms) / sk_ms:.2f}x)")


if __name__ == "__main__":
    main()
