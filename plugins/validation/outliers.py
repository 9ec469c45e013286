"""Outliers: values outside the reference's robust range, by quantiles or a robust z-score.

An *outlier* is a statement about the data alone: the value is far from what the
reference (training) data held. It says nothing about whether the model handles it
badly; that is what an *edge case* is (see ``edgecases.py``), and only labels tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = ["OutlierConfig", "OutlierMethod", "RobustRange", "fit_range"]

# MAD of a normal distribution is 0.6745 σ; scaling by 1/0.6745 makes the z-score σ-comparable.
MAD_TO_SIGMA = 1.4826
MIN_REFERENCE_VALUES = 20


class OutlierMethod(Enum):
    """How the robust range is derived from reference values."""

    QUANTILE = "quantile"
    ZSCORE = "zscore"


@dataclass(frozen=True, slots=True)
class OutlierConfig:
    """Outlier settings: quantile bounds for QUANTILE, ``z`` (in MAD-σ units) for ZSCORE."""

    method: OutlierMethod = OutlierMethod.QUANTILE
    low_quantile: float = 0.001
    high_quantile: float = 0.999
    z: float = 3.5


@dataclass(frozen=True, slots=True)
class RobustRange:
    """Inclusive range of ordinary values for one feature; values outside it are outliers."""

    low: float
    high: float
    method: OutlierMethod

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of outliers in float ``values`` (NaN is never an outlier)."""
        return (values < self.low) | (values > self.high)


def fit_range(values: np.ndarray, config: OutlierConfig) -> RobustRange | None:
    """Robust range from reference values (finite ones), or None when too few to be meaningful."""
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size < MIN_REFERENCE_VALUES:
        return None
    if config.method is OutlierMethod.QUANTILE:
        low, high = np.quantile(vals, [config.low_quantile, config.high_quantile])
        return RobustRange(float(low), float(high), config.method)
    median = float(np.median(vals))
    mad = float(np.median(np.abs(vals - median))) * MAD_TO_SIGMA
    if mad == 0.0:
        # More than half the values are identical: fall back to the spread of the rest,
        # else any value off the mode would be an outlier.
        mad = float(np.std(vals))
    return RobustRange(median - config.z * mad, median + config.z * mad, config.method)
