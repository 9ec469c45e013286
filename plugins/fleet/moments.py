"""Mergeable central moments (count, mean, M2, M3, M4, min, max) of a numeric feature.

``M_p`` is the sum of ``(x - mean)^p`` over the values. Two summaries merge exactly (up to
float rounding) with the pairwise formulas of Chan, Golub & LeVeque (1979) for M2 and
Pébay (2008, "Formulas for robust, one-pass parallel computation of covariances and
arbitrary-order statistical moments", eqs. 3.1) for M3 and M4, so merging the summaries of
any partition of the data gives the summary of the whole, whatever the order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, mean, central sums M2..M4, min and max of the finite values seen (all zero when empty)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """The moments of a 1-D array of finite float64 values."""
        n = int(values.size)
        if n == 0:
            return cls()
        mean = float(values.mean())
        c = values - mean
        c2 = c * c
        # Element-wise products and sums, not np.dot: BLAS's threads contend with pyarrow's decoding
        # threads (and other processes) and made each dot 100x slower in the local engine.
        return cls(n, mean, float(c2.sum()), float((c2 * c).sum()), float((c2 * c2).sum()),
                   float(values.min()), float(values.max()))

    def merge(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al. / Pébay pairwise update)."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        na, nb = float(self.n), float(other.n)
        n = na + nb
        d = other.mean - self.mean
        d_n = d / n
        mean = self.mean + d_n * nb
        m2 = self.m2 + other.m2 + d * d_n * na * nb
        m3 = (self.m3 + other.m3 + d * d_n * d_n * na * nb * (na - nb)
              + 3.0 * d_n * (na * other.m2 - nb * self.m2))
        m4 = (self.m4 + other.m4 + d * d_n * d_n * d_n * na * nb * (na * na - na * nb + nb * nb)
              + 6.0 * d_n * d_n * (na * na * other.m2 + nb * nb * self.m2)
              + 4.0 * d_n * (na * other.m3 - nb * self.m3))
        return Moments(self.n + other.n, mean, m2, m3, m4, min(self.min, other.min), max(self.max, other.max))

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 denominator, as the drift summaries); 0 for fewer than two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation (n denominator, as drift's Wasserstein normalisation)."""
        return math.sqrt(max(self.m2, 0.0) / self.n) if self.n else 0.0

    @property
    def skewness(self) -> float:
        """Population skewness sqrt(n) M3 / M2^1.5 (as ``scipy.stats.skew``); 0 when the variance is 0."""
        return math.sqrt(self.n) * self.m3 / self.m2**1.5 if self.n and self.m2 > 0 else 0.0

    @property
    def kurtosis(self) -> float:
        """Excess kurtosis n M4 / M2² - 3 (normal = 0, as ``scipy.stats.kurtosis``); 0 when the variance is 0."""
        return self.n * self.m4 / (self.m2 * self.m2) - 3.0 if self.n and self.m2 > 0 else 0.0
