"""Ready explainers that need no extra dependency.

Heavier ones stay the application's choice: SHAP, for one, is registered as
``set_explainer("m", lambda X: shap.TreeExplainer(model).shap_values(X))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["linear_explainer"]


def linear_explainer(coef: Sequence[float] | np.ndarray,
                     baseline: Sequence[float] | np.ndarray | float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """Exact per-row attributions of a linear score ``x · coef``: ``coef_j (x_j − baseline_j)``.

    With ``baseline`` the training means these are the model's SHAP values when features are
    independent. ``coef`` of shape (k,), or (classes, k) for a multi-class linear model
    (attributions then come per class, shape (rows, k, classes), averaged in absolute value
    by the plugin).
    """
    c = np.asarray(coef, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if c.ndim not in (1, 2):
        raise ValueError(f"linear_explainer: coef must have shape (k,) or (classes, k), got {c.shape}")

    def explain(X: np.ndarray) -> np.ndarray:
        centred = np.asarray(X, dtype=np.float64) - b
        if c.ndim == 1:
            return centred * c
        return centred[:, :, np.newaxis] * c.T[np.newaxis, :, :]

    return explain
