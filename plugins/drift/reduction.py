"""Encoding and dimensionality reduction of a window's pooled rows, for the joint test's kernel.

Everything here is fitted on the *pooled* rows of one window test (the reference rows it
uses and the window's rows together, without their labels), so the encoding is the same
whichever rows a relabeling calls "reference" and the permutation test stays exact. (A
standardisation or projection fitted on the reference alone and then tested on the same
reference rows makes the reference look tighter than any window: on scikit-learn's digits
that raised an MMD test's false-alarm rate to 0.13-0.15 at n = 50.)

- numeric columns: centred and scaled by the pooled mean and standard deviation; missing
  values become 0 (the pooled mean);
- categorical columns: one-hot over the ``MAX_ONE_HOT`` most frequent pooled categories
  seen in at least ``MIN_ONE_HOT_COUNT`` pooled rows (rarer ones share the all-zero code),
  scaled by 1/√2 so that two rows differing in one
  categorical feature are as far apart as a 1σ difference in one numeric feature;
- reduction: ``auto`` keeps the full standardised data up to ``AUTO_MAX_WIDTH`` columns and
  projects wider data on its top principal components (SVD of a label-free sample of the
  pooled rows); ``random_projection`` uses a data-independent Gaussian matrix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

MAX_ONE_HOT = 20  # one-hot columns per categorical feature: rarer categories share the all-zero code
AUTO_MAX_WIDTH = 256  # encoded columns kept as they are by the "auto" reduction
MIN_ONE_HOT_COUNT = 5  # pooled rows a category needs for a one-hot column of its own
_PCA_ROWS = 2000  # pooled rows the principal components are fitted on (a label-free sample)


class Reduction(Enum):
    """How encoded features are reduced before the joint test's kernel."""

    AUTO = "auto"
    PCA = "pca"
    RANDOM_PROJECTION = "random_projection"
    NONE = "none"


def codes(values: Sequence[object] | np.ndarray, index: Mapping[Hashable, int]) -> np.ndarray:
    """Each value's position in ``index`` (-1: unseen, missing or unhashable)."""
    items = np.asarray(values, dtype=object).tolist() if isinstance(values, np.ndarray) else list(values)
    try:
        return np.array(list(map(index.get, items, itertools.repeat(-1, len(items)))), dtype=np.int64)
    except Exception:  # an unhashable value somewhere: look each one up with care
        return np.array([index.get(v, -1) if _hashable(v) else -1 for v in items], dtype=np.int64)


def _hashable(v: object) -> bool:
    try:
        hash(v)
    except Exception:  # unhashable, or a __hash__ that raises: encodes as unseen
        return False
    return True


def pooled_codes(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Codes of a pooled categorical column, most frequent first (-1 = missing), the level count, and the
    number of levels worth a one-hot column (at most ``MAX_ONE_HOT``, each in ``MIN_ONE_HOT_COUNT`` rows)."""
    arr = np.asarray(values, dtype=object)
    present = np.fromiter((v is not None for v in arr.tolist()), dtype=bool, count=arr.size)
    if present.any() and all(type(v) is str for v in arr[present].tolist()):
        # strings (the common case): one sort at C speed
        uniq, inverse, sizes = np.unique(arr[present].astype(str), return_inverse=True, return_counts=True)
        rank = np.empty(uniq.size, dtype=np.int64)
        order = np.argsort(-sizes, kind="stable")
        rank[order] = np.arange(uniq.size)
        out = np.full(arr.size, -1, dtype=np.int64)
        out[present] = rank[inverse]
        frequent = int(np.count_nonzero(sizes[order][:MAX_ONE_HOT] >= MIN_ONE_HOT_COUNT))
        return out, int(uniq.size), frequent
    items = arr.tolist()
    counts: dict[Hashable, int] = {}
    for v in items:
        if v is not None and _hashable(v):
            counts[v] = counts.get(v, 0) + 1
    ordered = sorted(counts, key=lambda c: -counts[c])
    frequent = sum(1 for c in ordered[:MAX_ONE_HOT] if counts[c] >= MIN_ONE_HOT_COUNT)
    return codes(items, {c: i for i, c in enumerate(ordered)}), len(ordered), frequent


def standardise(X: np.ndarray) -> np.ndarray:
    """Columns centred and scaled by their own (pooled) mean and sd over finite values; missing become 0."""
    V = np.asarray(X, dtype=np.float64)
    if V.size == 0:
        return V.reshape(V.shape[0], -1)
    finite = np.isfinite(V)
    count = finite.sum(axis=0)
    filled = np.where(finite, V, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    var = (np.where(finite, V - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1)
    sd = np.sqrt(var)
    sd = np.where(sd > 0, sd, 1.0)
    return np.where(finite, (filled - mean) / sd, 0.0)


def one_hot(code: np.ndarray, width: int) -> np.ndarray:
    """One-hot rows for codes below ``width`` (others, and -1, all zeros), scaled by 1/√2."""
    out = np.zeros((code.size, width))
    rows = np.flatnonzero((code >= 0) & (code < width))
    out[rows, code[rows]] = 1.0 / math.sqrt(2.0)
    return out


@dataclass(frozen=True, slots=True)
class Projection:
    """A linear map: ``(X - mean) @ matrix``."""

    method: Reduction
    mean: np.ndarray
    matrix: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project rows of ``X``."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.matrix


def fit_projection(
    X: np.ndarray, method: Reduction = Reduction.PCA, n_components: int = 10, seed: int = 0
) -> Projection:
    """Fit PCA (top right-singular vectors) or draw a Gaussian random projection for the columns of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    k = max(1, min(n_components, d))
    mean = X.mean(axis=0) if X.shape[0] else np.zeros(d)
    if method is Reduction.NONE or d == 0:
        return Projection(Reduction.NONE, mean, np.eye(d))
    if method is Reduction.RANDOM_PROJECTION:
        rng = np.random.default_rng(seed)
        return Projection(method, np.zeros(d), rng.normal(0.0, 1.0 / np.sqrt(k), size=(d, k)))
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return Projection(Reduction.PCA, mean, vt[:k].T.copy())


def reduce(Z: np.ndarray, method: Reduction, n_components: int, seed: int = 0) -> np.ndarray:
    """The pooled encoded rows after the configured reduction (fitted on a label-free sample of them)."""
    width = Z.shape[1]
    if method is Reduction.NONE or width == 0:
        return Z
    if method is Reduction.AUTO:
        if width <= AUTO_MAX_WIDTH:
            return Z
        method = Reduction.PCA
    if width <= n_components and method is Reduction.PCA:
        return Z
    fit_rows = Z
    if method is Reduction.PCA and Z.shape[0] > _PCA_ROWS:
        fit_rows = Z[np.random.default_rng(seed).choice(Z.shape[0], _PCA_ROWS, replace=False)]
    return fit_projection(fit_rows, method, n_components, seed).transform(Z)
