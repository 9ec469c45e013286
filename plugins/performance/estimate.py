"""Live rows into a window's payload, the window through the estimators, and through the labels later.

``score_rows``: what a window keeps of each usable live row (the class scores, or the
prediction and its two predicted losses), dropping the others by reason. At close: CBPE
(and BBSE, when enabled) for classifiers, DLE for regressors, on every row of the window.
When labels arrive: the realized metrics of the labelled rows, and each method's
estimation error on those same rows — CBPE and DLE re-estimated on exactly the labelled
rows (like for like), BBSE's corrected estimate for the window as a whole. An error is
"within band" when |error| <= band_sigmas · std, with std the estimate's sampling error
on the labelled rows (for BBSE, its own std and the labelled rows' sampling error combined).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from agent.plugin import RecordBatch
from plugins.performance import names as n
from plugins.performance.bbse import estimate_bbse
from plugins.performance.cbpe import as_proba, estimate_cbpe, realized_classification
from plugins.performance.config import PerformanceConfig
from plugins.performance.dle import estimate_dle, predict_losses, realized_regression
from plugins.performance.metrics import Estimate, predicted_classes
from plugins.performance.reference import CLASSIFICATION, FittedReference
from plugins.performance.windows import ClosedWindow


@dataclass(frozen=True, slots=True)
class EstimationError:
    """estimate − realized for one metric and method, and whether it lies within the band."""

    error: float
    std: float
    within_band: bool


def score_rows(ref: FittedReference, records: RecordBatch) -> tuple[np.ndarray | None, np.ndarray, Counter[str]]:
    """Per usable row what the estimators keep (class scores; or prediction, |error| and error² predicted).

    Returns (payload of the kept rows, the keep mask, dropped rows by reason).
    """
    total = len(records)
    reasons: Counter[str] = Counter()
    none = np.zeros(total, dtype=bool)
    if records.outputs is None:
        reasons[n.DROP_BAD_OUTPUT] += total
        return None, none, reasons
    if ref.task == CLASSIFICATION:
        assert ref.cbpe is not None
        try:
            proba = as_proba(records.outputs)
        except (TypeError, ValueError):
            reasons[n.DROP_BAD_OUTPUT] += total
            return None, none, reasons
        if proba.shape[1] != ref.cbpe.k or len(proba) != total:
            reasons[n.DROP_SHAPE] += total
            return None, none, reasons
        keep = np.all(np.isfinite(proba), axis=1)
        reasons[n.DROP_BAD_OUTPUT] += int((~keep).sum())
        return proba[keep], keep, +reasons
    assert ref.dle is not None
    try:
        pred = np.asarray(records.outputs, dtype=float).reshape(total, -1)[:, 0]
    except (TypeError, ValueError):
        reasons[n.DROP_BAD_OUTPUT] += total
        return None, none, reasons
    missing = [f for f in ref.dle.features if f not in records.columns]
    if missing:
        reasons[n.DROP_MISSING_FEATURE] += total
        return None, none, reasons
    cols = {}
    feat_ok = np.ones(total, dtype=bool)
    for f in ref.dle.features:
        try:
            cols[f] = np.asarray(records.columns[f], dtype=float)
        except (TypeError, ValueError):
            cols[f] = np.full(total, np.nan)
        feat_ok &= np.isfinite(cols[f])
    pred_ok = np.isfinite(pred)
    reasons[n.DROP_BAD_OUTPUT] += int((~pred_ok).sum())
    reasons[n.DROP_MISSING_FEATURE] += int((pred_ok & ~feat_ok).sum())
    keep = pred_ok & feat_ok
    losses = predict_losses(ref.dle, {f: c[keep] for f, c in cols.items()}, pred[keep])
    return np.column_stack([pred[keep], losses]), keep, +reasons


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
