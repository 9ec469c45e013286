"""Multivariate two-sample tests: MMD (quadratic and linear time) and LSDD, with permutation p-values.

Kernel: Gaussian ``k(x, y) = exp(-||x - y||² / (2σ²))``. The median heuristic sets
``σ² = median(||x - x'||²) / 2`` over pairs of reference points (at most 1,000 points
sampled), computed once per reference; any σ may be given instead.

Permutation p-values are ``(b + 1) / (B + 1)`` with ``b`` the permutations whose
statistic is at least the observed one: never zero, exact-size under the null.
All B permutations are evaluated at once: each is an indicator vector ``a`` of the
first group, and every term of the unbiased MMD² follows from ``aᵀKa`` and ``aᵀK1``,
so the work is one matrix product ``A K`` (B × N by N × N). The kernel matrix is built
once, in row blocks, and each block is multiplied as soon as it exists, so memory is
O(block × N + B × N) rather than O(N²); as K is symmetric only the blocks on and right
of the diagonal are built, which about halves both the kernel and the products.

Windows are tested by ``mmd2_permuted``: every relabeling of the pooled rows at once, per
bandwidth. Up to ``EXACT_MAX_ROWS`` pooled rows the kernel is exact; above, the Gaussian
kernel is replaced by F random Fourier features (Rahimi & Recht 2007; ``rff_count``):
``k(x, y) ≈ φ(x)·φ(y)`` with ``φ(x) = [cos(Wx/σ), sin(Wx/σ)] / √F``. The unbiased MMD² of
that kernel follows from the feature sums of each group, so all permutations cost one
product ``A Φ`` (B × N by N × 2F): linear in the rows, so the whole window and reference
are used whatever their size, and the test's power grows with the window (the linear-time
MMD of Gretton et al. 2012 §6, which used only disjoint pairs of the first rows, is gone).
The approximate kernel is itself a valid positive-definite kernel, so the permutation test
stays exact."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from plugins.drift.permutation import labelled_sums
from plugins.drift.results import TestOutcome

MEDIAN_POINTS = 1000
_BLOCK_ELEMENTS = 4_000_000  # kernel entries held at once (32 MB of float64)
_MIN_BLOCK = 64  # rows per kernel block, at least (smaller blocks cost more calls than they save)


def sq_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances, clipped at zero against rounding."""
    d = X @ Y.T
    d *= -2.0  # in place: no N x N temporaries beyond d itself
    d += (X * X).sum(1)[:, None]
    d += (Y * Y).sum(1)[None, :]
    return np.maximum(d, 0.0, out=d)


def gaussian_kernel(X: np.ndarray, Y: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian kernel matrix between the rows of X and Y."""
    d = sq_distances(X, Y)
    d *= -1.0 / (2.0 * sigma * sigma)
    return np.exp(d, out=d)


def median_bandwidth(X: np.ndarray, max_points: int = MEDIAN_POINTS, seed: int = 0) -> float:
    """Median-heuristic σ: sqrt(median pairwise squared distance / 2), on at most ``max_points`` rows."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] > max_points:
        X = X[np.random.default_rng(seed).choice(X.shape[0], max_points, replace=False)]
    # The strict upper triangle by a boolean mask: index arrays would take 16 bytes per pair.
    d = sq_distances(X, X)[np.triu(np.ones((X.shape[0], X.shape[0]), dtype=bool), k=1)]
    med = float(np.median(d)) if d.size else 0.0
    return math.sqrt(med / 2.0) if med > 0 else 1.0


def mmd2_from_sums(aKa: np.ndarray, aK1: np.ndarray, *, total: float, a_diag: np.ndarray,
                   trace: float, n: int, m: int) -> np.ndarray:
    """Unbiased MMD² for group indicator vectors a from aᵀKa, aᵀK1, 1ᵀK1, aᵀdiag(K) and tr(K)."""
    sxx = aKa - a_diag
    sxy = aK1 - aKa
    syy = total - 2.0 * aK1 + aKa - (trace - a_diag)
    return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m)


def mmd2_unbiased(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    """Unbiased MMD² estimate between samples X and Y with a Gaussian kernel."""
    n, m = X.shape[0], Y.shape[0]
    kxx = gaussian_kernel(X, X, sigma)
    kyy = gaussian_kernel(Y, Y, sigma)
    kxy = gaussian_kernel(X, Y, sigma)
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2.0 * kxy.mean()
    )


def permutation_indicators(n: int, m: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """(B + 1) × (n + m) 0/1 matrix: row 0 the observed split, then B random splits of n vs m."""
    N = n + m
    A = np.zeros((permutations + 1, N))
    A[0, :n] = 1.0
    if permutations:
        perms = np.argsort(rng.random((permutations, N)), axis=1)[:, :n]
        np.put_along_axis(A[1:], perms, 1.0, axis=1)
    return A


def permutation_pvalue(observed: float, permuted: np.ndarray) -> float:
    """(b + 1) / (B + 1) where b counts permuted statistics >= the observed one."""
    return float((np.count_nonzero(permuted >= observed) + 1) / (permuted.size + 1))


def mmd_test(
    X: np.ndarray, Y: np.ndarray, sigma: float | None = None, permutations: int = 100, seed: int = 0
) -> TestOutcome:
    """Quadratic-time unbiased MMD² with a vectorised permutation p-value."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, m = X.shape[0], Y.shape[0]
    if n < 2 or m < 2:
        return TestOutcome(math.nan, math.nan)
    s = sigma if sigma is not None else median_bandwidth(X, seed=seed)
    Z = np.vstack([X, Y])
    N = n + m
    A = permutation_indicators(n, m, permutations, np.random.default_rng(seed))
    aKa = np.zeros(A.shape[0])
    row_sums = np.zeros(N)
    diag = np.empty(N)
    # K is symmetric: each row block needs only its diagonal block and the columns to its right,
    # aᵀKa = Σ_blocks a_bᵀ K_bb a_b + 2 a_bᵀ K_b,right a_right. Eight or more blocks halve the kernel and
    # the products against the permutation matrix (A K costs B × N² otherwise).
    block = max(1, min(_BLOCK_ELEMENTS // N, max(_MIN_BLOCK, -(-N // 8))))
    for r0 in range(0, N, block):
        r1 = min(N, r0 + block)
        K_r = gaussian_kernel(Z[r0:r1], Z[r0:], s)  # (b, N - r0): the diagonal block, then the right part
        b = r1 - r0
        k_diag, k_right = K_r[:, :b], K_r[:, b:]
        row_sums[r0:r1] += K_r.sum(axis=1)
        row_sums[r1:] += k_right.sum(axis=0)
        diag[r0:r1] = np.diagonal(k_diag)
        A_b = A[:, r0:r1]
        aKa += np.einsum("pi,ip->p", A_b, k_diag @ A_b.T)
        if k_right.shape[1]:
            aKa += 2.0 * np.einsum("pi,ip->p", A_b, k_right @ A[:, r1:].T)
    stats_ = mmd2_from_sums(aKa, A @ row_sums, total=float(row_sums.sum()), a_diag=A @ diag,
                            trace=float(diag.sum()), n=n, m=m)
    return TestOutcome(float(stats_[0]), permutation_pvalue(float(stats_[0]), stats_[1:]))


@dataclass(frozen=True, slots=True)
class LSDDReference:
    """LSDD state fitted once on the reference (Bu et al. 2016; as alibi-detect's LSDDDrift).

    The reference is standardised; ``n_centres`` reference points become kernel centres
    and are removed from the reference sample the tests use, so centres and test data
    stay independent.
    """

    mean: np.ndarray
    std: np.ndarray
    centres: np.ndarray
    k_ref_c: np.ndarray  # kernel between the remaining reference rows and the centres
    H: np.ndarray
    sigma: float

    @property
    def n_reference(self) -> int:
        """Reference rows used in the test (excluding the centres)."""
        return int(self.k_ref_c.shape[0])


def fit_lsdd(X_ref: np.ndarray, n_centres: int | None = None, sigma: float | None = None,
             seed: int = 0) -> LSDDReference:
    """Standardise the reference, set aside kernel centres, precompute H and reference-centre kernels."""
    X = np.asarray(X_ref, dtype=np.float64)
    mean, std = X.mean(0), X.std(0)
    std = np.where(std > 0, std, 1.0)
    Xn = (X - mean) / std
    nc = n_centres if n_centres is not None else max(X.shape[0] // 20, 1)
    nc = min(nc, max(X.shape[0] - 2, 1))
    perm = np.random.default_rng(seed).permutation(X.shape[0])
    centres, rest = Xn[perm[:nc]], Xn[perm[nc:]]
    s = sigma if sigma is not None else median_bandwidth(Xn, seed=seed)
    # ∫ k(x, c_i) k(x, c_j) dx ∝ exp(-||c_i - c_j||² / (4σ²)): the kernel with bandwidth √2 σ.
    H = gaussian_kernel(centres, centres, math.sqrt(2.0) * s)
    return LSDDReference(mean, std, centres, gaussian_kernel(rest, centres, s), H, s)


_LAMBDAS = tuple(1.0 / 4**i for i in range(10))


def lsdd_test(ref: LSDDReference, Y: np.ndarray, permutations: int = 100, seed: int = 0,
              lambda_rd_max: float = 0.2) -> TestOutcome:
    """LSDD between the reference and Y with a vectorised permutation p-value.

    The regulariser λ is picked, as alibi-detect does, from 1, 1/4, ..., 1/4⁹ as the largest
    whose mean relative difference ``1 - ωᵀHω / hᵀω`` over the permuted splits is below
    ``lambda_rd_max``; it uses only permuted statistics so the test stays valid.
    """
    Yn = (np.asarray(Y, dtype=np.float64) - ref.mean) / ref.std
    n, m = ref.n_reference, Yn.shape[0]
    if n < 2 or m < 2:
        return TestOutcome(math.nan, math.nan)
    k_all = np.vstack([ref.k_ref_c, gaussian_kernel(Yn, ref.centres, ref.sigma)])
    A = permutation_indicators(n, m, permutations, np.random.default_rng(seed))
    h = (A @ k_all) / n - ((1.0 - A) @ k_all) / m  # (B + 1, centres)
    eye = np.eye(ref.H.shape[0])
    chosen = _LAMBDAS[-1]
    for lam in _LAMBDAS:
        omegas = np.linalg.solve(ref.H + lam * eye, h[1:].T).T if permutations else h[1:]
        h_om = np.einsum("bj,bj->b", h[1:], omegas)
        oHo = np.einsum("bj,bj->b", omegas @ ref.H, omegas)
        with np.errstate(divide="ignore", invalid="ignore"):
            rd = float(np.nanmean(1.0 - oHo / h_om)) if permutations else 0.0
        if rd < lambda_rd_max:
            chosen = lam
            break
    omegas = np.linalg.solve(ref.H + chosen * eye, h.T).T
    lsdds = 2.0 * np.einsum("bj,bj->b", h, omegas) - np.einsum("bj,bj->b", omegas @ ref.H, omegas)
    return TestOutcome(float(lsdds[0]), permutation_pvalue(float(lsdds[0]), lsdds[1:]))


# -- every relabeling of a window at once (the joint test's kernel components) ----------------

EXACT_MAX_ROWS = 1200  # pooled rows up to which the kernel is exact (B x N² work); random features above
RFF_FREQUENCIES = 1024  # random frequencies per bandwidth (cos and sin of each) at the exact kernel's limit
RFF_MIN_FREQUENCIES = 256  # ... falling as 10⁶ / rows down to this (more rows already bring more power)
_RFF_ROWS = 4096  # pooled rows turned into features at once (bounded memory whatever the window)


def mmd2_permuted(Z: np.ndarray, labels: np.ndarray, sigmas: tuple[float, ...], seed: int = 0) -> np.ndarray:
    """Unbiased MMD² of every relabeling, per bandwidth: a (B + 1) × len(sigmas) array.

    ``labels`` is (B + 1) × N boolean, True for the rows labelled reference in that relabeling
    (row 0: the observed split); every row holds the same number of True values.
    """
    Z = np.asarray(Z, dtype=np.float64)
    N = Z.shape[0]
    n = int(labels[0].sum())
    m = N - n
    if n < 2 or m < 2:
        return np.full((labels.shape[0], len(sigmas)), math.nan)
    A = labels.astype(np.float64)
    if N <= EXACT_MAX_ROWS:
        return _mmd2_exact(Z, A, n, m, sigmas)
    return _mmd2_rff(Z, A, n, m, sigmas, seed)


def _mmd2_exact(Z: np.ndarray, A: np.ndarray, n: int, m: int, sigmas: tuple[float, ...]) -> np.ndarray:
    # Kernel and labels in float32 for the B x N² product (twice as fast; each sum holds at most
    # N terms in (0, 1], far more precision than MMD² differences need), sums in float64.
    D = sq_distances(Z, Z).astype(np.float32)
    A32 = A.astype(np.float32)
    N = Z.shape[0]
    out = np.empty((A.shape[0], len(sigmas)))
    a_diag = A.sum(axis=1)  # the Gaussian kernel's diagonal is 1
    for i, s in enumerate(sigmas):
        K = np.exp(D * np.float32(-1.0 / (2.0 * s * s)))
        row_sums = K.sum(axis=1, dtype=np.float64)
        aKa = np.einsum("pi,pi->p", A32 @ K, A32, dtype=np.float64)
        out[:, i] = mmd2_from_sums(aKa, A @ row_sums, total=float(row_sums.sum()), a_diag=a_diag,
                                   trace=float(N), n=n, m=m)
    return out


def rff_frequencies(d: int, seed: int = 0, frequencies: int = RFF_FREQUENCIES) -> np.ndarray:
    """Standard normal frequencies (d × F); divided by σ they sample the Gaussian kernel's spectrum."""
    return np.random.default_rng(seed).standard_normal((d, frequencies))


def rff_count(rows: int) -> int:
    """Random frequencies for ``rows`` pooled rows.

    256 frequencies cost a fifth of the power of the exact kernel against a 1.5x variance
    change at 500 + 500 rows, 1024 matched it; at 1,000 + 1,000 rows 512 matched it. So the
    count falls as 10⁶ / rows from 1024 to 256 (reached at 4,000 rows): the work per window
    stays bounded up to there and linear in the rows above, while power keeps growing with
    the rows.
    """
    return max(RFF_MIN_FREQUENCIES, min(RFF_FREQUENCIES, 1_000_000 // max(rows, 1)))


def rff_block(Z: np.ndarray, W: np.ndarray, sigmas: tuple[float, ...]) -> np.ndarray:
    """float32 random features [cos, sin] of ``Z``'s rows for each bandwidth, side by side (unscaled).

    Features and products run in float32 (twice as fast; sums are accumulated in float64 by
    the caller, ample for MMD² differences of 1e-6).
    """
    F = W.shape[1]
    out = np.empty((Z.shape[0], 2 * F * len(sigmas)), dtype=np.float32)
    proj = (Z @ (W / sigmas[0])).astype(np.float32)
    cos, sin = np.cos(proj), np.sin(proj)
    for i, s in enumerate(sigmas):
        if i and s * 2.0 == sigmas[i - 1]:
            # σ/2 doubles every frequency: cos 2θ = 2cos²θ - 1, sin 2θ = 2 sinθ cosθ (no new trigonometry)
            cos, sin = np.float32(2.0) * cos * cos - np.float32(1.0), np.float32(2.0) * sin * cos
        elif i:
            proj = (Z @ (W / s)).astype(np.float32)
            cos, sin = np.cos(proj), np.sin(proj)
        out[:, 2 * F * i:2 * F * i + F] = cos
        out[:, 2 * F * i + F:2 * F * (i + 1)] = sin
    return out


def mmd2_from_feature_sums(sums: np.ndarray, total: np.ndarray, n: int, m: int, frequencies: int) -> np.ndarray:
    """Unbiased MMD² of every relabeling per bandwidth from ``rff_block`` column sums (reference rows, all rows)."""
    F2 = 2 * frequencies
    k = sums.shape[1] // F2
    out = np.empty((sums.shape[0], k))
    for i in range(k):
        SA = sums[:, F2 * i:F2 * (i + 1)] / math.sqrt(frequencies)  # φ = [cos, sin] / √F
        T = total[F2 * i:F2 * (i + 1)] / math.sqrt(frequencies)
        SB = T - SA
        # ‖φ(x)‖² = 1, so the U-statistic drops n (resp. m) from the squared sums.
        out[:, i] = ((np.einsum("pj,pj->p", SA, SA) - n) / (n * (n - 1))
                     + (np.einsum("pj,pj->p", SB, SB) - m) / (m * (m - 1))
                     - 2.0 * np.einsum("pj,pj->p", SA, SB) / (n * m))
    return out


def _mmd2_rff(Z: np.ndarray, A: np.ndarray, n: int, m: int, sigmas: tuple[float, ...], seed: int) -> np.ndarray:
    W = rff_frequencies(Z.shape[1], seed, rff_count(Z.shape[0]))
    F = W.shape[1]
    sums, total = labelled_sums(A, lambda rows: rff_block(Z[rows], W, sigmas), Z.shape[0], 2 * F * len(sigmas))
    return mmd2_from_feature_sums(sums, total, n, m, F)


def scale_sample(Z: np.ndarray, max_points: int = 250, seed: int = 0) -> tuple[float, np.ndarray, np.ndarray]:
    """Median-heuristic σ from a label-free sample of rows, with the sample and its squared distances.

    Small products in ``einsum`` (no BLAS): on a busy machine each BLAS call pays for waking
    its threads, which costs more than these products.
    """
    X = np.asarray(Z, dtype=np.float64)
    if X.shape[0] > max_points:
        X = X[np.random.default_rng(seed).choice(X.shape[0], max_points, replace=False)]
    sq = np.einsum("ij,ij->i", X, X)
    D = sq[:, None] + sq[None, :] - 2.0 * np.einsum("ik,jk->ij", X, X)
    np.maximum(D, 0.0, out=D)
    upper = D[np.triu_indices(X.shape[0], k=1)]
    med = float(np.median(upper)) if upper.size else 0.0
    return (math.sqrt(med / 2.0) if med > 0 else 1.0), X, D


MAHALANOBIS_SHRINKAGE = 0.1  # weight of the average variance in the covariance of ``mahalanobis_norms``


def mahalanobis_norms(Z: np.ndarray, shrinkage: float = MAHALANOBIS_SHRINKAGE) -> np.ndarray:
    """Each row's squared Mahalanobis distance from the mean of all rows (label-free: the pooled rows).

    The covariance is the rows' own, shrunk toward its average variance
    (``(1 - shrinkage) C + shrinkage tr(C)/d I``), so it is invertible with more columns
    than rows or with constant ones. Added noise or a broken correlation moves a group's
    rows away from the pooled shape even when every feature's mean and spread barely
    change: the rows' mean norm is what the joint test's ``mahalanobis`` component compares.
    """
    X = np.asarray(Z, dtype=np.float64)
    N, d = X.shape
    if N < 2 or d == 0:
        return np.zeros(N)
    X = X - X.mean(axis=0)
    C = (X.T @ X) / (N - 1)
    scale = float(np.trace(C)) / d
    if not (scale > 0 and np.isfinite(C).all()):  # constant, or values too large to square: no norm
        return np.zeros(N)
    w, V = np.linalg.eigh((1.0 - shrinkage) * C + shrinkage * scale * np.eye(d))
    P = X @ V
    out: np.ndarray = (P * P) @ (1.0 / np.maximum(w, shrinkage * scale))
    return out


def shift_sensitivity(X: np.ndarray, D: np.ndarray, sigmas: tuple[float, ...],
                      columns: np.ndarray | None = None) -> list[float]:
    """MMD² per squared unit of mean shift along one column, averaged over ``columns``, for each bandwidth.

    For a Gaussian kernel, shifting one coordinate by t gives MMD² ≈ t² c_j with
    ``c_j = E[k(x, x') (1/σ² - (x_j - x'_j)²/σ⁴)]`` over pairs of rows; ``sqrt(MMD² / c)``
    then reads as "as large as a mean shift of that many units (σ after standardising) in
    one feature". ``X`` is a label-free sample of rows and ``D`` its squared distances
    (``scale_sample``).
    """
    P = X.shape[0]
    if P < 2 or X.shape[1] == 0:
        return [math.nan] * len(sigmas)
    out: list[float] = []
    for sigma in sigmas:
        K = np.exp(D * (-1.0 / (2.0 * sigma * sigma)))
        np.fill_diagonal(K, 0.0)
        r = K.sum(axis=1)
        # Σ_{i≠i'} k (x_ij - x_i'j)² = 2 (Σ_i x_ij² r_i - Σ_i x_ij (K x_j)_i)
        weighted = 2.0 * ((X * X * r[:, None]).sum(axis=0) - (X * np.einsum("ij,jk->ik", K, X)).sum(axis=0))
        c = (float(K.sum()) / sigma**2 - weighted / sigma**4) / (P * (P - 1))
        cols = c if columns is None or not len(columns) else c[columns]
        value = float(np.mean(cols))
        out.append(value if value > 0 else math.nan)
    return out


def lsdd_permuted(Z: np.ndarray, labels: np.ndarray, seed: int = 0, lambda_rd_max: float = 0.2,
                  sigmas: tuple[float, ...] | None = None) -> np.ndarray:
    """LSDD (Bu et al. 2016) of every relabeling: a (B + 1,) array, or (B + 1) × len(sigmas) per bandwidth.

    Kernel centres are a label-free random 5% of the pooled rows (at most 200), removed from
    the rows tested, so the statistic stays a fixed function of the relabeling. The
    regulariser is chosen as ``lsdd_test`` chooses it, from the permuted splits only, at each
    bandwidth. Without ``sigmas``: the median-heuristic bandwidth of the pooled rows.
    """
    Z = np.asarray(Z, dtype=np.float64)
    N = Z.shape[0]
    rng = np.random.default_rng(seed)
    nc = int(min(200, max(N // 20, 1), max(N - 4, 1)))
    order = rng.permutation(N)
    centres, rest = Z[order[:nc]], order[nc:]
    L = labels[:, rest]
    n = int(L[0].sum())
    m = rest.size - n
    widths = sigmas if sigmas is not None else (median_bandwidth(Z, seed=seed),)
    out = np.full((labels.shape[0], len(widths)), math.nan)
    if n >= 2 and m >= 2:
        A = L.astype(np.float64)
        for i, sigma in enumerate(widths):
            H = gaussian_kernel(centres, centres, math.sqrt(2.0) * sigma)
            k_all = gaussian_kernel(Z[rest], centres, sigma)
            h = (A @ k_all) / n - ((1.0 - A) @ k_all) / m
            out[:, i] = _lsdd_of(h, H, lambda_rd_max)
    return out if sigmas is not None else out[:, 0]


def _lsdd_of(h: np.ndarray, H: np.ndarray, lambda_rd_max: float) -> np.ndarray:
    """LSDD of each row of h (row 0 observed) with the regulariser chosen on rows 1.. (as alibi-detect does)."""
    eye = np.eye(H.shape[0])
    chosen = _LAMBDAS[-1]
    for lam in _LAMBDAS:
        omegas = np.linalg.solve(H + lam * eye, h[1:].T).T
        h_om = np.einsum("bj,bj->b", h[1:], omegas)
        oHo = np.einsum("bj,bj->b", omegas @ H, omegas)
        with np.errstate(divide="ignore", invalid="ignore"):
            rd = float(np.nanmean(1.0 - oHo / h_om)) if h.shape[0] > 1 else 0.0
        if rd < lambda_rd_max:
            chosen = lam
            break
    omegas = np.linalg.solve(H + chosen * eye, h.T).T
    out: np.ndarray = 2.0 * np.einsum("bj,bj->b", h, omegas) - np.einsum("bj,bj->b", omegas @ H, omegas)
    return out
