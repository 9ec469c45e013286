"""Direct loss estimation (DLE) for regressors: a loss model fitted on the reference predicts each row's error.

The learner is ridge regression on an additive linear spline: each feature and the
model's prediction standardised (z), plus hinges max(0, z − knot) at its reference
quantiles (``bins`` intervals, so ``bins − 1`` knots per input). The loss can bend per
input (noise that grows towards one end of a feature, or on both sides of zero) and
extends linearly past the reference's range, while the fit stays a closed-form (d × d)
solve. Two such models are fitted: one for |y − ŷ| (MAE) and one for (y − ŷ)² (MSE).
Cost: fitting is O(n·d²) once at ``set_reference`` (d = (features + 1)·bins; 6 features,
5 bins: d = 35, about 10 ms for 20,000 rows); a window is one (n × d) product. numpy only:
no gradient-boosting dependency (NannyML uses LightGBM here), at the price of missing
feature interactions (a loss that depends on x1·x2 is seen only through its additive part).

Per window: MAE = mean predicted |error|; RMSE = sqrt(mean predicted squared error).
Sampling error given the rows' features: Var |e_i| = E[e_i²] − E[|e_i|]² from the two
models, so std(MAE) = sqrt(Σ_i (ŝ_i − m̂_i²)) / n; Var e_i² = (κ − 1)·ŝ_i², with κ the
kurtosis on the reference of the errors divided by their predicted scale
(3 for Gaussian errors), and std(RMSE) = std(MSE)/(2·RMSE).

Assumes: the error's dependence on (features, prediction) learnt on the reference holds —
covariate shift into regions the reference covers. Fails under concept drift (the
target's relation to the features changes) and when the window leaves the reference's
range far (the spline extends its last slope, which a loss growing faster outruns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from plugins.performance.metrics import Estimate

PREDICTION = "__prediction__"


@dataclass(frozen=True, slots=True)
class DLEReference:
    """The fitted loss models and the design they need."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    edges: tuple[np.ndarray, ...]  # spline knots per input: inner reference quantiles (features, then prediction)
    x_mean: np.ndarray
    beta_abs: np.ndarray
    beta_sq: np.ndarray
    intercept_abs: float
    intercept_sq: float
    kurtosis: float
    reference: dict[str, float]
    rows: int

    def to_json(self) -> dict[str, object]:
        """Plain data for a log attribute."""
        return {"features": list(self.features), "design_columns": len(self.beta_abs),
                "kurtosis": self.kurtosis, "reference_mae": self.reference["mae"],
                "reference_rmse": self.reference["rmse"], "rows": self.rows}


def _inputs(columns: Mapping[str, np.ndarray], prediction: np.ndarray, features: Sequence[str]) -> np.ndarray:
    cols = [np.asarray(columns[f], dtype=float) for f in features]
    return np.column_stack([*cols, np.asarray(prediction, dtype=float)]) if cols else \
        np.asarray(prediction, dtype=float).reshape(-1, 1)


def _design(raw: np.ndarray, mean: np.ndarray, scale: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    z = (raw - mean) / scale
    parts = [z]
    for j, e in enumerate(edges):
        knots = (e - mean[j]) / scale[j]
        parts.append(np.maximum(z[:, [j]] - knots[None, :], 0.0))
    return np.hstack(parts)


def _ridge(X: np.ndarray, t: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    t_mean = float(t.mean())
    gram = X.T @ X + lam * np.eye(X.shape[1])
    beta = np.linalg.solve(gram, X.T @ (t - t_mean))
    return beta, t_mean


def fit_dle(columns: Mapping[str, np.ndarray], prediction: np.ndarray, target: np.ndarray,
            features: Sequence[str], *, bins: int, ridge: float) -> DLEReference:
    """Fit the |error| and squared-error models on reference rows (all values finite)."""
    raw = _inputs(columns, prediction, features)
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    edges = tuple(np.unique(np.quantile(raw[:, j], qs)) for j in range(raw.shape[1]))
    X = _design(raw, mean, scale, edges)
    x_mean = X.mean(axis=0)
    Xc = X - x_mean
    err = np.asarray(target, dtype=float) - np.asarray(prediction, dtype=float)
    lam = ridge * len(X) / 1000.0  # the penalty scales with the rows so it means the same at any size
    beta_abs, c_abs = _ridge(Xc, np.abs(err), lam)
    beta_sq, c_sq = _ridge(Xc, err**2, lam)
    mse = float(np.mean(err**2))
    # kurtosis of the errors standardised by their predicted scale: heteroscedasticity the
    # loss model explains is not counted as heavy tails
    s_hat = np.clip(Xc @ beta_sq + c_sq, max(mse, 1e-300) * 1e-3, None)
    z2 = err**2 / s_hat
    kurt = float(np.mean(z2**2) / np.mean(z2) ** 2) if mse > 0 else 3.0
    return DLEReference(tuple(features), mean, scale, edges, x_mean, beta_abs, beta_sq, c_abs, c_sq, kurt,
                        {"mae": float(np.mean(np.abs(err))), "rmse": math.sqrt(mse)}, len(err))


def predict_losses(ref: DLEReference, columns: Mapping[str, np.ndarray], prediction: np.ndarray) -> np.ndarray:
    """Per row: (predicted |error|, predicted squared error), both >= 0, as an (n, 2) matrix."""
    X = _design(_inputs(columns, prediction, ref.features), ref.mean, ref.scale, ref.edges) - ref.x_mean
    m = np.clip(X @ ref.beta_abs + ref.intercept_abs, 0.0, None)
    s = np.clip(X @ ref.beta_sq + ref.intercept_sq, 0.0, None)
    return np.column_stack([m, np.maximum(s, m * m)])  # E[e²] >= E[|e|]²


def estimate_dle(ref: DLEReference, losses: np.ndarray) -> dict[str, Estimate]:
    """Estimated MAE and RMSE of a window from its rows' predicted losses, with sampling errors."""
    count = len(losses)
    if count == 0:
        return {"mae": Estimate(math.nan, math.nan), "rmse": Estimate(math.nan, math.nan)}
    m, s = losses[:, 0], losses[:, 1]
    mae = float(m.mean())
    mse = float(s.mean())
    rmse = math.sqrt(mse)
    sd_mae = math.sqrt(float(np.sum(s - m * m))) / count
    sd_mse = math.sqrt(max(ref.kurtosis - 1.0, 0.0) * float(np.sum(s * s))) / count
    return {"mae": Estimate(mae, sd_mae), "rmse": Estimate(rmse, sd_mse / (2 * rmse) if rmse > 0 else 0.0)}


def realized_regression(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Realized MAE and RMSE."""
    err = np.asarray(target, dtype=float) - np.asarray(prediction, dtype=float)
    if len(err) == 0:
        return {"mae": math.nan, "rmse": math.nan}
    return {"mae": float(np.mean(np.abs(err))), "rmse": math.sqrt(float(np.mean(err**2)))}
