"""Seeded simulations with known ground truth for the performance tests (numpy only, vectorised).

Also imported by ``make_nannyml_fixture.py``, which runs in a throwaway venv with NannyML,
so this module depends on nothing but numpy.
"""

from __future__ import annotations

import numpy as np

# Three classes in 2-D: 0 and 1 overlap, 2 stands apart, so a change of the class balance
# moves precision, F1 and AUC while P(x | y) stays.
MEANS = np.array([[0.0, 0.0], [1.5, 0.0], [4.0, 4.0]])
UNIFORM = np.array([1 / 3, 1 / 3, 1 / 3])


def logistic(rng: np.random.Generator, n: int, shift: float = 0.0, slope: float = 2.0,
             concept: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A calibrated binary model: x ~ N(shift, 1), score p = σ(slope·x), y ~ Bernoulli(σ(slope·x − concept·x)).

    ``concept`` != 0 changes P(y | x) (concept drift) while the model keeps scoring the old way.
    """
    x = rng.normal(shift, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-slope * x))
    truth = 1.0 / (1.0 + np.exp(-(slope - concept) * x)) if concept else p
    y = (rng.random(n) < truth).astype(np.int64)
    return x, p, y


def gaussian_posterior(x: np.ndarray, prior: np.ndarray = UNIFORM, means: np.ndarray = MEANS) -> np.ndarray:
    """The Bayes posterior P(y | x) for unit-variance Gaussian classes under ``prior``."""
    ll = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1) + np.log(prior)
    ll -= ll.max(axis=1, keepdims=True)
    e = np.exp(ll)
    return e / e.sum(axis=1, keepdims=True)


def label_shifted(rng: np.random.Generator, n: int, q: np.ndarray,
                  means: np.ndarray = MEANS) -> tuple[np.ndarray, np.ndarray]:
    """Rows drawn with class balance ``q`` (P(x | y) fixed), scored by the model fitted under the uniform prior."""
    y = rng.choice(len(q), size=n, p=q)
    x = means[y] + rng.normal(size=(n, means.shape[1]))
    return gaussian_posterior(x, UNIFORM, means), y


def covariate_shifted_multiclass(rng: np.random.Generator, n: int, shift: float,
                                 means: np.ndarray = MEANS) -> tuple[np.ndarray, np.ndarray]:
    """Covariate shift for the 3-class model: x ~ N(shift, 2²) in both coordinates, y ~ the true posterior."""
    x = rng.normal(shift, 2.0, size=(n, means.shape[1]))
    p = gaussian_posterior(x, UNIFORM, means)
    y = (rng.random(n)[:, None] < np.cumsum(p, axis=1)).argmax(axis=1)
    return p, y


def heteroscedastic(rng: np.random.Generator, n: int, shift: float = 0.0,
                    noise: float = 1.0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A regressor with the right mean and noise that grows with |x1|: (features, prediction, target)."""
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.uniform(0.0, 1.0, n)
    f = 2.0 * x1 + x2
    y = f + rng.normal(size=n) * (0.2 + 0.5 * np.abs(x1)) * noise
    return {"x1": x1, "x2": x2}, f, y


def nannyml_data(seed: int = 11) -> dict[str, np.ndarray]:
    """The data compared with NannyML: a binary and a 3-class reference and analysis set (5 chunks of 1000)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    _, p, y = logistic(rng, 5000)
    out["bin_ref_p"], out["bin_ref_y"] = p, y
    parts = [logistic(rng, 1000, shift=s) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    out["bin_ana_p"] = np.concatenate([q for _, q, _ in parts])
    out["bin_ana_y"] = np.concatenate([t for _, _, t in parts])
    P, Y = covariate_shifted_multiclass(rng, 5000, 1.0)
    out["mc_ref_p"], out["mc_ref_y"] = P, Y
    mparts = [covariate_shifted_multiclass(rng, 1000, s) for s in (1.0, 0.5, 0.0, 1.5, 2.0)]
    out["mc_ana_p"] = np.concatenate([q for q, _ in mparts])
    out["mc_ana_y"] = np.concatenate([t for _, t in mparts])
    return out
