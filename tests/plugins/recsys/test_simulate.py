"""The seeded recommender simulation is deterministic and shows the loop only without exploration."""

from __future__ import annotations

from collections import Counter

from plugins.recsys.metrics import coverage, gini
from plugins.recsys.simulate import SimulationConfig, rounds, setup


def test_same_seed_gives_the_same_rounds() -> None:
    cfg = SimulationConfig(rounds=2, lists_per_round=20, warmup_rounds=1)
    a, b = list(rounds(cfg)), list(rounds(cfg))
    assert a == b and [r.index for r in a] == [0, 1]


def test_training_popularity_follows_true_quality() -> None:
    s = setup(SimulationConfig())
    top = sorted(s.catalog, key=lambda c: -s.training_popularity[c])[:50]
    q = dict(zip(s.catalog, s.quality, strict=True))
    assert sum(q[c] for c in top) / 50 > sum(s.quality) / len(s.quality) * 1.5


def test_exposure_concentrates_without_exploration_but_not_with_it() -> None:
    def series(eps: float) -> tuple[list[float], list[float]]:
        cfg = SimulationConfig(exploration=eps, seed=3)
        g, c = [], []
        for rd in rounds(cfg):
            exp = Counter(i for lst in rd.lists for i in lst.items)
            g.append(gini(exp, cfg.n_items))
            c.append(coverage(exp, cfg.n_items))
        return g, c

    g0, c0 = series(0.0)
    g1, c1 = series(0.1)
    assert g0[-1] - g0[0] > 0.08 and c0[0] - c0[-1] > 0.05
    assert g1[-1] - g1[0] < (g0[-1] - g0[0]) / 2 and c1[0] - c1[-1] < (c0[0] - c0[-1]) / 2
