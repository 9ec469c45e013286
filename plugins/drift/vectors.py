"""Vector (embedding) features: one permutation test per list/array-valued feature, with a readable effect.

A feature whose values are fixed-length vectors (lists, tuples, 1-D arrays, or a 2-D column)
is tested on its own, as one multivariate feature, against its reference:

Projection. The reference's valid vectors are split at random, once: up to ``FIT_ROWS`` of
them (at most a third) fit the projection, the others (at most ``vector_reference_rows``) are
the rows every window test pools with. The projection is PCA of the centred fit rows onto
``vector_components`` components, each scaled to unit variance on the fit rows, plus one
coordinate for the distance from that subspace (the residual norm, standardised on the fit
rows: added noise and new directions live there). Fitting the projection on the same
reference rows the test uses would make the reference look tighter than any window (the
reduction module measured a 0.13-0.15 false-alarm rate on digits that way); fitted on rows
the test never sees, it is a fixed map, so the permutation test stays exact.

Test. The projected reference rows and window rows are pooled and relabeled B times
(``plugins.drift.permutation``). Each relabeling gets:

- MMD² with a Gaussian kernel at the median-heuristic bandwidth σ of the pooled rows and at σ/2
  (the joint test's aggregation; random Fourier features above ``EXACT_MAX_ROWS`` pooled rows);
- a classifier two-sample test: a ridge (least-squares discriminant) classifier on the
  projected coordinates and their squares (so a change of spread is as visible as a change
  of mean), cross-fitted on two fixed label-free halves of the pooled rows: trained on one
  half with the relabeling's labels and scored on the other, and the other way round; the
  statistic is the held-out AUC (mean of the two halves). Ridge weights are linear in the
  labels, so every relabeling's classifier is one matrix product.

The test statistic is the largest of the three components, each standardised over the
relabelings (as the window's joint test combines its components); its p-value
``(1 + #{relabelings at least as extreme}) / (B + 1)`` is exact, with no share of α lost to
a Bonferroni split between the two tests.

Effect. ``auc_above_chance``: the held-out AUC minus 0.5 (0 = window rows cannot be told from
reference rows, 0.5 = perfectly separable; the classifier runs whichever statistics the test
combines), corrected for the window size as every effect is (``verdict.noise_corrected``)
by its root mean square over the relabelings (the AUC's spread with no drift at these
sizes). The cosine distance between the reference and window centroids (in the original
vector space) is reported with its own null and corrected value as detail effects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from plugins.drift import names
from plugins.drift.multivariate import (
    EXACT_MAX_ROWS,
    mmd2_from_feature_sums,
    mmd2_permuted,
    rff_block,
    rff_count,
    rff_frequencies,
    scale_sample,
)
from plugins.drift.permutation import labelled_sums, null_rms, permutation_p, permutations_for, relabelings
from plugins.drift.permutation import standardise as standardise_components
from plugins.drift.verdict import noise_corrected

FIT_ROWS = 1000  # reference vectors the projection is fitted on, at most (and at most a third of them)
MIN_REFERENCE_ROWS = 12  # valid reference vectors needed for a test (fit rows + test rows)
RIDGE = 1.0  # ridge penalty per feature of the domain classifier (features have unit variance)


class VectorTest(Enum):
    """Which statistics a vector feature's permutation test takes the maximum of."""

    BOTH = "mmd_classifier"  # MMD² (σ and σ/2) and the classifier's held-out AUC
    MMD = "mmd"
    CLASSIFIER = "classifier"
    OFF = "off"  # vector features are not tested (reported skipped, as ``vector_feature``)


@dataclass(frozen=True, slots=True)
class VectorMatrix:
    """A vector column as a float matrix of its usable rows, and what was left out by reason."""

    matrix: np.ndarray  # (usable rows, dim)
    rows: np.ndarray  # indices of the usable rows in the column
    dim: int
    issues: Mapping[str, int] = field(default_factory=dict)  # names.BAD_VECTOR_* reason -> rows
    missing: int = 0  # None values (missing, not counted as bad)


def vector_matrix(col: np.ndarray, dim: int | None = None) -> VectorMatrix:
    """The rows of a vector column that have ``dim`` finite numbers (``dim`` None: the most common length).

    A row with another length (or a scalar), a non-number element, or a NaN/±inf element is
    left out alone and counted under its reason; ``None`` is a missing value.
    """
    arr = col if isinstance(col, np.ndarray) else np.asarray(col, dtype=object)
    if arr.ndim == 2 and arr.dtype.kind in "iufb":
        M = arr.astype(np.float64, copy=False)
        return _finite_rows(M, np.arange(M.shape[0]), dim, {} if dim is None or M.shape[1] == dim
                            else {names.BAD_VECTOR_DIMENSION: M.shape[0]}, 0)
    items = arr.tolist() if arr.ndim == 1 else [list(r) for r in arr]
    lengths = np.array([_length(v) for v in items], dtype=np.int64)  # -1: None, -2: not a vector
    missing = int(np.count_nonzero(lengths == -1))
    if dim is None:
        sizes = lengths[lengths > 0]
        if sizes.size == 0:
            return VectorMatrix(np.empty((0, 0)), np.empty(0, dtype=np.int64), 0,
                                {names.BAD_VECTOR_DIMENSION: int(np.count_nonzero(lengths == -2))}, missing)
        values, counts = np.unique(sizes, return_counts=True)
        dim = int(values[np.argmax(counts)])
    issues: dict[str, int] = {}
    wrong = int(np.count_nonzero((lengths != dim) & (lengths != -1)))
    if wrong:
        issues[names.BAD_VECTOR_DIMENSION] = wrong
    keep = np.flatnonzero(lengths == dim)
    chosen = [items[i] for i in keep.tolist()]
    try:
        M = np.asarray(chosen, dtype=np.float64).reshape(len(chosen), dim)
    except (TypeError, ValueError, OverflowError):  # a non-number somewhere: row by row
        good: list[int] = []
        vecs: list[np.ndarray] = []
        for i, v in zip(keep.tolist(), chosen, strict=True):
            try:
                vecs.append(np.asarray(v, dtype=np.float64).reshape(dim))
                good.append(i)
            except (TypeError, ValueError, OverflowError):
                issues[names.BAD_VECTOR_NON_NUMERIC] = issues.get(names.BAD_VECTOR_NON_NUMERIC, 0) + 1
        keep = np.asarray(good, dtype=np.int64)
        M = np.vstack(vecs) if vecs else np.empty((0, dim))
    return _finite_rows(M, keep, dim, issues, missing)


def _length(v: object) -> int:
    if v is None:
        return -1
    if isinstance(v, list | tuple):
        return len(v)
    if isinstance(v, np.ndarray):
        return int(v.shape[0]) if v.ndim == 1 else -2
    if isinstance(v, float) and math.isnan(v):
        return -1
    return -2


def _finite_rows(M: np.ndarray, rows: np.ndarray, dim: int | None, issues: dict[str, int],
                 missing: int) -> VectorMatrix:
    d = M.shape[1] if dim is None else dim
    if names.BAD_VECTOR_DIMENSION in issues and M.shape[1] != d:
        return VectorMatrix(np.empty((0, d)), np.empty(0, dtype=np.int64), d, issues, missing)
    finite = np.isfinite(M).all(axis=1)
    bad = int(np.count_nonzero(~finite))
    if bad:
        issues = {**issues, names.BAD_VECTOR_NON_FINITE: bad}
        M, rows = M[finite], rows[finite]
    return VectorMatrix(M, rows, d, issues, missing)


@dataclass(frozen=True, slots=True)
class VectorProfile:
    """A vector feature's reference: the projection (fitted on fit rows) and the projected test rows."""

    dim: int
    mean: np.ndarray  # (dim,) centre of the fit rows
    basis: np.ndarray  # (dim, k) principal directions, unit length
    scale: np.ndarray  # (k,) sd of each component on the fit rows
    residual: tuple[float, float]  # mean and sd of the distance from the subspace on the fit rows (sd 0: unused)
    rows: np.ndarray  # (n_test, dim) raw reference rows the tests pool with (none of them fit the projection)
    projected: np.ndarray  # (n_test, k [+ 1]) the same rows projected
    n_valid: int  # valid reference vectors (fit + test + unused)
    issues: Mapping[str, int] = field(default_factory=dict)  # reference rows left out, by reason

    @property
    def n_rows(self) -> int:
        """Reference rows in every window test."""
        return int(self.rows.shape[0])

    def project(self, X: np.ndarray) -> np.ndarray:
        """Unit-variance principal coordinates of rows of ``X``, then the standardised residual norm."""
        C = X - self.mean
        S = C @ self.basis
        out = S / self.scale
        mu, sd = self.residual
        if sd > 0:
            r = np.sqrt(np.maximum(np.einsum("ij,ij->i", C, C) - np.einsum("ij,ij->i", S, S), 0.0))
            out = np.column_stack([out, (r - mu) / sd])
        return out


def fit_vectors(vm: VectorMatrix, components: int, reference_rows: int, seed: int = 0) -> VectorProfile | None:
    """Split the reference's valid vectors into fit rows and test rows; fit the projection (None: too few rows)."""
    n = vm.matrix.shape[0]
    if n < MIN_REFERENCE_ROWS or vm.dim == 0:
        return None
    order = np.random.default_rng(seed).permutation(n)
    n_fit = min(FIT_ROWS, n // 3)
    fit, test = vm.matrix[order[:n_fit]], vm.matrix[np.sort(order[n_fit:n_fit + reference_rows])]
    mean = fit.mean(axis=0)
    C = fit - mean
    _, sv, vt = np.linalg.svd(C, full_matrices=False)
    k = max(1, min(components, vm.dim, n_fit - 1, int(np.count_nonzero(sv > sv[0] * 1e-9)) if sv.size else 1))
    basis = vt[:k].T.copy()
    S = C @ basis
    scale = S.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    residual = (0.0, 0.0)
    if k < vm.dim:
        r = np.sqrt(np.maximum(np.einsum("ij,ij->i", C, C) - np.einsum("ij,ij->i", S, S), 0.0))
        if r.std() > 1e-12 * max(float(r.mean()), 1.0):
            residual = (float(r.mean()), float(r.std()))
    prof = VectorProfile(vm.dim, mean, basis, scale, residual, test, np.empty((0, 0)), n, dict(vm.issues))
    return VectorProfile(vm.dim, mean, basis, scale, residual, test, prof.project(test), n, dict(vm.issues))


@dataclass(frozen=True, slots=True)
class VectorOutcome:
    """One window's vector test: the p-value, each component, the AUC and cosine effects with their nulls."""

    p_value: float
    statistic: float  # the largest standardised component (observed)
    components: Mapping[str, float]  # each component's standardised observed value
    mmd2: float  # at the median bandwidth
    auc: float  # held-out AUC of the domain classifier (nan when not run)
    auc_effect: float  # max(AUC - 0.5, 0)
    auc_null: float  # root mean square of AUC - 0.5 over the relabelings: its size with no drift
    cosine: float  # cosine distance between the reference and window centroids (original space)
    cosine_null: float  # root mean square over the relabelings
    n_reference: int
    n_window: int
    permutations: int


def run_vectors(profile: VectorProfile, window: np.ndarray, *, permutations: int, seed: int = 0,
                test: VectorTest = VectorTest.BOTH) -> VectorOutcome:
    """Pool the reference's test rows with the window's vectors, relabel, and compute every component."""
    n, m = profile.n_rows, int(window.shape[0])
    N = n + m
    Z = np.vstack([profile.projected, profile.project(window)])
    labels = relabelings(n, m, permutations_for(N, Z.shape[1], permutations), seed)
    raw = np.vstack([profile.rows, window])

    comps: dict[str, np.ndarray] = {}
    sigma, _, _ = scale_sample(Z, seed=seed)
    sigmas = (sigma, sigma / 2.0)
    rff = test is not VectorTest.CLASSIFIER and N > EXACT_MAX_ROWS
    W = rff_frequencies(Z.shape[1], seed, rff_count(N)) if rff else np.empty((0, 0))
    d = raw.shape[1]

    def block(rows: slice) -> np.ndarray:
        parts = [raw[rows].astype(np.float32)]
        if rff:
            parts.append(rff_block(Z[rows], W, sigmas))
        return np.concatenate(parts, axis=1)

    # one product of the labels with [raw vectors | random features]: centroids and kernel sums
    sums, totals = labelled_sums(labels, block, N, d + (2 * W.shape[1] * len(sigmas) if rff else 0))
    mmd2 = math.nan
    if test is not VectorTest.CLASSIFIER:
        stats = (mmd2_from_feature_sums(sums[:, d:], totals[d:], n, m, W.shape[1]) if rff
                 else mmd2_permuted(Z, labels, sigmas, seed=seed))
        comps["mmd@1σ"] = stats[:, 0]
        comps["mmd@0.5σ"] = stats[:, 1]
        mmd2 = float(stats[0, 0])
    # The classifier always runs: its AUC is the effect, whichever statistics the test combines.
    aucs = classifier_aucs(Z, labels, seed=seed)
    if test is not VectorTest.MMD:
        comps["auc"] = aucs
    auc = float(aucs[0])
    auc_effect = max(auc - 0.5, 0.0)
    auc_null = float(null_rms((aucs - 0.5)[:, None])[0])
    cos = _cosine_distances(sums[:, :d], totals[:d], n, m)
    cosine = float(cos[0])
    cosine_null = float(null_rms(cos[:, None])[0])

    keys = list(comps)
    std = standardise_components(np.column_stack([comps[k] for k in keys]))
    total = std.max(axis=1)
    return VectorOutcome(
        p_value=permutation_p(total), statistic=float(total[0]),
        components={k: float(std[0, i]) for i, k in enumerate(keys)}, mmd2=mmd2, auc=auc, auc_effect=auc_effect,
        auc_null=auc_null, cosine=cosine, cosine_null=cosine_null, n_reference=n, n_window=m,
        permutations=labels.shape[0] - 1,
    )


def classifier_aucs(Z: np.ndarray, labels: np.ndarray, seed: int = 0, ridge: float = RIDGE) -> np.ndarray:
    """Cross-fitted held-out AUC of a ridge domain classifier for every relabeling: a (B + 1,) array.

    Features: the coordinates and their squares (centred), on two fixed label-free halves of
    the pooled rows. The weights ``(XᵀX + λI)⁻¹ Xᵀ y`` are linear in the labels y, so the
    classifiers of all relabelings are one product; each is scored on the half it did not see,
    and the AUC (reference rows scoring above window rows) is averaged over the two halves.
    """
    Z = np.asarray(Z, dtype=np.float64)
    N = Z.shape[0]
    X = np.concatenate([Z, Z * Z], axis=1)
    order = np.random.default_rng(seed + 1).permutation(N)
    halves = (np.sort(order[: N // 2]), np.sort(order[N // 2:]))
    Y = labels.astype(np.float64)
    out = np.zeros(labels.shape[0])
    for train, held in (halves, halves[::-1]):
        Xt = X[train]
        mu = Xt.mean(axis=0)
        Xc = Xt - mu
        sd = Xc.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Xc /= sd
        G = Xc.T @ Xc + ridge * len(train) / max(Xc.shape[1], 1) * np.eye(Xc.shape[1])
        S = np.linalg.solve(G, Xc.T)  # (p, train rows)
        Wt = S @ Y[:, train].T  # (p, B + 1): every relabeling's weights
        scores = ((X[held] - mu) / sd) @ Wt  # (held rows, B + 1)
        out += _auc_columns(scores.T, labels[:, held])
    return out / 2.0


def _auc_columns(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUC of each row of ``scores`` against the same row of ``positive`` (Mann–Whitney, tied scores at mid-ranks).

    Ties happen when vectors repeat (duplicate rows, a few distinct embeddings); mid-ranks keep
    the AUC of tied scores at 0.5 whatever order the sort left them in.
    """
    order = np.argsort(scores, axis=1)  # quicksort: five times a stable sort's speed (ties get mid-ranks below)
    in_order = np.take_along_axis(positive, order, axis=1).astype(np.float64)
    ranked = np.take_along_axis(scores, order, axis=1)
    N = scores.shape[1]
    pos = np.arange(1, N + 1, dtype=np.float64)
    starts = np.ones(ranked.shape, dtype=bool)
    starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    if starts.all():
        rank_sums = in_order @ pos
    else:
        ends = np.ones(ranked.shape, dtype=bool)
        ends[:, :-1] = starts[:, 1:]
        first = np.maximum.accumulate(np.where(starts, pos, 0.0), axis=1)
        last = np.minimum.accumulate(np.where(ends, pos, np.inf)[:, ::-1], axis=1)[:, ::-1]
        rank_sums = (in_order * (first + last) / 2.0).sum(axis=1)
    n1 = in_order.sum(axis=1)
    n0 = scores.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: np.ndarray = (rank_sums - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return auc


def _cosine_distances(sum_ref: np.ndarray, total: np.ndarray, n: int, m: int) -> np.ndarray:
    """1 - cos(reference centroid, window centroid) for every relabeling (nan when a centroid is 0)."""
    a = sum_ref / n
    b = (total[None, :] - sum_ref) / m
    na = np.sqrt(np.einsum("ij,ij->i", a, a))
    nb = np.sqrt(np.einsum("ij,ij->i", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = 1.0 - np.einsum("ij,ij->i", a, b) / (na * nb)
    return np.maximum(out, 0.0)


def vector_effects(outcome: VectorOutcome) -> dict[str, float]:
    """Every effect of a vector test (raw, null and corrected), for ``DriftResult.effects``."""
    return {
        "auc": outcome.auc,
        "auc_above_chance": outcome.auc_effect,
        "auc_above_chance_null": outcome.auc_null,
        "cosine_distance": outcome.cosine,
        "cosine_distance_null": outcome.cosine_null,
        "cosine_distance_corrected": noise_corrected(outcome.cosine, outcome.cosine_null),
        "mmd2": outcome.mmd2,
        "permutations": float(outcome.permutations),
        **{f"z[{k}]": v for k, v in outcome.components.items()},
    }
