"""Multiple-testing correction across the features of one window."""

from __future__ import annotations

import math
from enum import Enum

import numpy as np


class Correction(Enum):
    """How p-values of the per-feature tests in one window are adjusted."""

    BONFERRONI = "bonferroni"
    BH = "bh"  # Benjamini–Hochberg false-discovery rate
    NONE = "none"


def correct(p_values: list[float], method: Correction = Correction.BONFERRONI) -> list[float]:
    """Adjusted p-values in input order; ``nan`` entries (skipped tests) stay nan and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return out.tolist()
    pv = p[valid]
    if method is Correction.BONFERRONI:
        adj = np.minimum(pv * m, 1.0)
    elif method is Correction.BH:
        order = np.argsort(pv)
        ranked = pv[order] * m / np.arange(1, m + 1)
        # Step-up: each adjusted value is the minimum over all larger ranks.
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
    else:
        adj = pv
    out[valid] = adj
    return out.tolist()
