"""One window through the estimators at close, and through the labels once they arrive.

At close: CBPE (and BBSE, when enabled) for classifiers, DLE for regressors, on every row
of the window. When labels arrive: the realized metrics of the labelled rows, and each
method's estimation error on those same rows — CBPE and DLE re-estimated on exactly the
labelled rows (like for like), BBSE's corrected estimate for the window as a whole. An
error is "within band" when |error| <= band_sigmas · std, with std the estimate's sampling
error on the labelled rows (for BBSE, its own std and the labelled rows' sampling error
combined).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from plugins.performance import names as n
from plugins.performance.bbse import estimate_bbse
from plugins.performance.cbpe import estimate_cbpe, realized_classification
from plugins.performance.config import PerformanceConfig
from plugins.performance.dle import estimate_dle, realized_regression
from plugins.performance.metrics import Estimate, predicted_classes
from plugins.performance.reference import CLASSIFICATION, FittedReference
from plugins.performance.windows import ClosedWindow


@dataclass(frozen=True, slots=True)
class EstimationError:
    """estimate − realized for one metric and method, and whether it lies within the band."""

    error: float
    std: float
    within_band: bool


def estimate_window(ref: FittedReference, cfg: PerformanceConfig, win: ClosedWindow) -> None:
    """Fill ``win.estimates`` (and ``win.bbse``) from its rows."""
    if ref.task == CLASSIFICATION:
        assert ref.cbpe is not None and ref.bbse is not None
        win.estimates[n.METHOD_CBPE] = estimate_cbpe(ref.cbpe, win.payload)
        if cfg.bbse:
            pred = predicted_classes(win.payload, ref.cbpe.binary, ref.cbpe.threshold)
            win.bbse = estimate_bbse(ref.bbse, pred, max_condition=cfg.bbse_max_condition,
                                     min_rows=cfg.min_window_rows)
            if win.bbse.corrected is not None:
                win.estimates[n.METHOD_BBSE] = win.bbse.corrected
        return
    assert ref.dle is not None
    win.estimates[n.METHOD_DLE] = estimate_dle(ref.dle, win.payload[:, 1:])


def evaluate_labels(ref: FittedReference, cfg: PerformanceConfig,
                    win: ClosedWindow) -> dict[str, dict[str, EstimationError]]:
    """Set ``win.realized`` from its labelled rows; the estimation errors by method and metric."""
    mask = ~np.isnan(win.labels)
    rows = win.payload[mask]
    y = win.labels[mask]
    z = cfg.band_sigmas
    out: dict[str, dict[str, EstimationError]] = {}
    if ref.task == CLASSIFICATION:
        assert ref.cbpe is not None
        labels = y.astype(np.int64)
        win.realized = realized_classification(ref.cbpe, rows, labels)
        same_rows = estimate_cbpe(ref.cbpe, rows)
        out[n.METHOD_CBPE] = _errors(same_rows, win.realized, z)
        corrected = win.estimates.get(n.METHOD_BBSE)
        if corrected is not None:
            out[n.METHOD_BBSE] = {
                m: _error(e.value, win.realized[m], math.hypot(e.std, same_rows[m].std), z)
                for m, e in corrected.items() if m in win.realized}
        return out
    assert ref.dle is not None
    win.realized = realized_regression(rows[:, 0], y)
    out[n.METHOD_DLE] = _errors(estimate_dle(ref.dle, rows[:, 1:]), win.realized, z)
    return out


def _errors(estimates: Mapping[str, Estimate], realized: dict[str, float], z: float) -> dict[str, EstimationError]:
    return {m: _error(e.value, realized[m], e.std, z) for m, e in estimates.items() if m in realized}


def _error(estimate: float, realized: float, std: float, z: float) -> EstimationError:
    err = estimate - realized
    within = math.isfinite(err) and math.isfinite(std) and abs(err) <= z * std
    return EstimationError(err, std, within)
