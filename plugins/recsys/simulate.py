"""A seeded recommender that retrains on its own clicks: the degenerate feedback loop in miniature.

Each round the recommender samples a ranked list per request (Plackett-Luce over its
item scores, via Gumbel top-k), optionally mixes in uniformly random items with
``epsilon_greedy``, users click item i at position p with probability
``quality_i × bias_p`` (bias_p = 1 / log2(p + 2)), and the model then retrains: each
item's score grows by its clicks weighted by the clipped inverse propensity
min(``ips_clip``, 1 / pscore), the round's weights scaled to sum to its click count.

Without exploration every pscore is about 1, so scores are click counts: items that
were shown get clicked, so they get shown more; exposure concentrates (Gini rises)
and the catalog shrinks (coverage falls) round after round. With exploration, clicks
on random slots carry up to ``ips_clip`` times the weight of the others, feeding the
model evidence its own ranking did not select; exposure concentrates only until that
balances the reinforcement, then stays put. Used by the tests and the
``infersight demo`` recommender scenario.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from plugins.recsys.exploration import ExploredList, epsilon_greedy


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Knobs of the simulation; with the defaults the loop shows within the 15 observed rounds."""

    n_items: int = 500
    k: int = 10
    lists_per_round: int = 300
    rounds: int = 15
    warmup_rounds: int = 5
    exploration: float = 0.0
    seed: int = 0
    training_impressions: int = 200
    prior_mass: float = 1000.0
    ips_clip: float = 10.0
    quality_alpha: float = 2.0
    quality_beta: float = 10.0


@dataclass(frozen=True, slots=True)
class Round:
    """One round: the lists served and the clicks, as (list index, position) pairs."""

    index: int
    lists: tuple[ExploredList, ...]
    clicks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SimulationSetup:
    """The catalog, each item's true click quality, and interaction counts of the training log."""

    catalog: tuple[str, ...]
    quality: tuple[float, ...]
    training_popularity: dict[str, int]


def setup(cfg: SimulationConfig) -> SimulationSetup:
    """Draw the catalog's true qualities and the initial (uniform-exposure) training log."""
    rng = np.random.default_rng(cfg.seed)
    quality = rng.beta(cfg.quality_alpha, cfg.quality_beta, cfg.n_items)
    catalog = tuple(f"item-{i:04d}" for i in range(cfg.n_items))
    bias = _position_bias(cfg.k).mean()
    clicks = rng.binomial(cfg.training_impressions, quality * bias)
    return SimulationSetup(catalog, tuple(float(q) for q in quality),
                           {c: int(n) for c, n in zip(catalog, clicks, strict=True)})


def rounds(cfg: SimulationConfig) -> Iterator[Round]:
    """Run the simulation round by round (deterministic for a given config).

    The first ``warmup_rounds`` run but are not yielded: monitoring starts on a
    recommender that has already retrained a few times, past the first adjustment
    from its training log that any policy (explored or not) goes through.
    """
    s = setup(cfg)
    rng = np.random.default_rng(cfg.seed + 1)
    quality = np.asarray(s.quality)
    # The initial model: click rates estimated from the uniform training log, scaled to
    # ``prior_mass`` clicks' worth of evidence (about four rounds of traffic by default).
    rate = np.array([(s.training_popularity[c] + 1.0) / (cfg.training_impressions + 2.0) for c in s.catalog])
    scores = rate / rate.sum() * cfg.prior_mass
    bias = _position_bias(cfg.k)
    index = {c: i for i, c in enumerate(s.catalog)}
    for r in range(cfg.warmup_rounds + cfg.rounds):
        keys = np.log(scores)[None, :] + rng.gumbel(size=(cfg.lists_per_round, cfg.n_items))
        top = np.argsort(-keys, axis=1)[:, : cfg.k]
        lists: list[ExploredList] = []
        clicks: list[tuple[int, int]] = []
        gained = np.zeros(cfg.n_items)
        for li in range(cfg.lists_per_round):
            ranked = [s.catalog[j] for j in top[li]]
            served = epsilon_greedy(ranked, s.catalog, epsilon=cfg.exploration, k=cfg.k, rng=rng)
            lists.append(served)
            for pos, item in enumerate(served.items):
                j = index[str(item)]
                if rng.random() < quality[j] * bias[pos]:
                    clicks.append((li, pos))
                    gained[j] += min(cfg.ips_clip, 1.0 / served.pscore[pos])
        if gained.sum() > 0:
            # Self-normalised: the round adds one unit of score per click, spread by
            # inverse propensity (so the learning rate does not depend on epsilon).
            gained *= len(clicks) / gained.sum()
        scores = scores + gained
        if r >= cfg.warmup_rounds:
            yield Round(r - cfg.warmup_rounds, tuple(lists), tuple(clicks))


def _position_bias(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)
