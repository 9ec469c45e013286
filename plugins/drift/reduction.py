"""Encoding and dimensionality reduction fitted on the reference, for the multivariate tests.

Numeric and boolean columns are standardised by the reference mean and standard
deviation (missing values become 0, the reference mean); categorical columns are
one-hot encoded over the reference's most frequent categories (unseen categories
encode as all zeros). The encoded matrix is then projected with PCA (SVD of the
centred reference) or a Gaussian random projection, or left as is.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from agent.plugin import FeatureType
from plugins.drift.stats import value_counts
from plugins.drift.values import to_float

MAX_ONE_HOT = 20  # one-hot columns per categorical feature: rarer categories share the all-zero code


class Reduction(Enum):
    """How encoded features are reduced before a multivariate test."""

    PCA = "pca"
    RANDOM_PROJECTION = "random_projection"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Encoder:
    """Turns feature columns into a standardised numeric matrix, with statistics from the reference."""

    numeric: tuple[str, ...]
    means: np.ndarray
    stds: np.ndarray
    categorical: tuple[tuple[str, tuple[Hashable, ...]], ...]

    @property
    def width(self) -> int:
        """Number of encoded columns."""
        return len(self.numeric) + sum(len(c) for _, c in self.categorical)

    def transform(self, columns: Mapping[str, np.ndarray], n_rows: int) -> np.ndarray:
        """Encode ``columns`` (absent features encode as the reference mean / all zeros)."""
        out = np.zeros((n_rows, self.width))
        for j, name in enumerate(self.numeric):
            col = columns.get(name)
            if col is None:
                continue
            values, _, _ = to_float(np.asarray(col))
            z = (values - self.means[j]) / self.stds[j]
            out[:, j] = np.where(np.isfinite(z), z, 0.0)
        j = len(self.numeric)
        for name, cats in self.categorical:
            col = columns.get(name)
            if col is not None:
                codes = _codes(np.asarray(col).tolist(), {c: i for i, c in enumerate(cats)})
                rows = np.flatnonzero(codes >= 0)
                out[rows, j + codes[rows]] = 1.0
            j += len(cats)
        return out


def _codes(values: list[object], index: Mapping[Hashable, int]) -> np.ndarray:
    """Each value's one-hot position (-1: unseen, missing or unhashable)."""
    try:
        return np.array(list(map(index.get, values, itertools.repeat(-1, len(values)))), dtype=np.int64)
    except Exception:  # an unhashable value somewhere: look each one up with care
        return np.array([index.get(v, -1) if _hashable(v) else -1 for v in values], dtype=np.int64)


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except Exception:  # unhashable, or a __hash__ that raises: encodes as unseen
        return False
    return True


def fit_encoder(columns: Mapping[str, np.ndarray], types: Mapping[str, FeatureType]) -> Encoder:
    """Fit the standardisation and one-hot vocabularies on the reference columns."""
    numeric: list[str] = []
    means: list[float] = []
    stds: list[float] = []
    categorical: list[tuple[str, tuple[Hashable, ...]]] = []
    for name, col in columns.items():
        kind = types.get(name, FeatureType.NUMERIC)
        if kind is FeatureType.CATEGORICAL:
            cats, _ = value_counts(np.asarray(col))
            categorical.append((name, tuple(cats[:MAX_ONE_HOT])))
            continue
        values, _, _ = to_float(np.asarray(col))
        finite = values[np.isfinite(values)]
        numeric.append(name)
        means.append(float(finite.mean()) if finite.size else 0.0)
        sd = float(finite.std()) if finite.size else 0.0
        stds.append(sd if sd > 0 else 1.0)
    return Encoder(tuple(numeric), np.asarray(means), np.asarray(stds), tuple(categorical))


@dataclass(frozen=True, slots=True)
class Projection:
    """A linear map fitted on the reference: ``(X - mean) @ matrix``."""

    method: Reduction
    mean: np.ndarray
    matrix: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project rows of ``X``."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.matrix


def fit_projection(
    X_ref: np.ndarray, method: Reduction = Reduction.PCA, n_components: int = 10, seed: int = 0
) -> Projection:
    """Fit PCA (top right-singular vectors) or a Gaussian random projection on the encoded reference."""
    X = np.asarray(X_ref, dtype=np.float64)
    d = X.shape[1]
    k = max(1, min(n_components, d))
    mean = X.mean(axis=0) if X.shape[0] else np.zeros(d)
    if method is Reduction.NONE or d == 0:
        return Projection(Reduction.NONE, mean, np.eye(d))
    if method is Reduction.RANDOM_PROJECTION:
        rng = np.random.default_rng(seed)
        return Projection(method, mean, rng.normal(0.0, 1.0 / np.sqrt(k), size=(d, k)))
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return Projection(method, mean, vt[:k].T.copy())
