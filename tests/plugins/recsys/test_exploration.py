"""Epsilon-greedy exploration records the true propensity of each shown slot."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from plugins.recsys.exploration import epsilon_greedy

CATALOG = [f"i{j}" for j in range(20)]
RANKED = ["i3", "i1", "i4"]


def test_no_exploration_serves_the_ranked_list_with_propensity_one() -> None:
    out = epsilon_greedy(RANKED, CATALOG, epsilon=0.0, k=3, rng=np.random.default_rng(0))
    assert out.items == tuple(RANKED) and out.pscore == (1.0, 1.0, 1.0) and not any(out.exploration)


def test_full_exploration_draws_distinct_uniform_items() -> None:
    out = epsilon_greedy(RANKED, CATALOG, epsilon=1.0, k=5, rng=np.random.default_rng(1))
    assert len(set(out.items)) == 5 and all(out.exploration)
    assert out.pscore[0] in (pytest.approx(1 / 20), pytest.approx(0.0 + 1 / 20))


def test_recorded_pscore_matches_empirical_frequency_of_first_slot() -> None:
    rng = np.random.default_rng(2)
    eps, n = 0.2, 20_000
    seen: Counter[str] = Counter()
    recorded: dict[str, float] = {}
    for _ in range(n):
        out = epsilon_greedy(RANKED, CATALOG, epsilon=eps, k=3, rng=rng)
        seen[str(out.items[0])] += 1
        recorded[str(out.items[0])] = out.pscore[0]
    assert recorded["i3"] == pytest.approx(0.8 + 0.2 / 20)
    assert seen["i3"] / n == pytest.approx(recorded["i3"], abs=0.01)
    assert seen["i7"] / n == pytest.approx(recorded["i7"], abs=0.004)


def test_feedback_attributes_carry_pscore_and_flag() -> None:
    out = epsilon_greedy(RANKED, CATALOG, epsilon=0.5, k=3, rng=np.random.default_rng(3))
    attrs = out.feedback_attributes(1)
    assert attrs == {"pscore": out.pscore[1], "exploration": out.exploration[1]}
    assert out.as_output()["items"] == list(out.items)


def test_invalid_epsilon_is_rejected_naming_it() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_greedy(RANKED, CATALOG, epsilon=1.5, k=3, rng=np.random.default_rng(0))
