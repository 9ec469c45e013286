"""Epsilon-greedy exploration: mix uniformly random items into a ranked list and record propensities.

The policy stays the user's choice; this helper covers the common case and logs what
off-policy evaluation needs: per slot, whether it was explored and the probability
(``pscore``) that the policy showed that item in that slot.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class ExploredList:
    """A served list: items per slot, which slots were explored, and each slot's propensity."""

    items: tuple[Hashable, ...]
    exploration: tuple[bool, ...]
    pscore: tuple[float, ...]

    def as_output(self) -> dict[str, Any]:
        """The model output to return (and capture): ``{"items", "exploration", "pscore"}``."""
        return {"items": list(self.items), "exploration": list(self.exploration), "pscore": list(self.pscore)}

    def feedback_attributes(self, position: int) -> dict[str, Any]:
        """``attributes`` for ``agent.log_feedback`` on the item at ``position``."""
        return {"pscore": self.pscore[position], "exploration": self.exploration[position]}


def epsilon_greedy(
    ranked: Sequence[Hashable],
    catalog: Sequence[Hashable],
    *,
    epsilon: float,
    k: int,
    rng: np.random.Generator,
) -> ExploredList:
    """Fill ``k`` slots: with probability ``epsilon`` a uniformly random unseen catalog item, else the next ranked one.

    Propensity of the item shown in a slot, with C the catalog items not yet in the
    list: an explored item other than the greedy choice has ε/|C|; the greedy choice
    has (1 − ε) + ε/|C| (random exploration could have drawn it too).
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon: expected a probability in [0, 1], got {epsilon!r}")
    if k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    chosen: list[Hashable] = []
    flags: list[bool] = []
    scores: list[float] = []
    used: set[Hashable] = set()
    greedy = iter(ranked)
    next_greedy = _next_unused(greedy, used)
    catalog_list = list(catalog)
    catalog_set = set(catalog_list)
    for _ in range(k):
        n_c = len(catalog_set) - len(used & catalog_set)
        explore = epsilon > 0 and n_c > 0 and rng.random() < epsilon
        if next_greedy is None and not explore:
            if n_c == 0:
                break
            explore = True  # ranked list exhausted: fill from the catalog
        if explore:
            item = _draw_unused(catalog_list, used, rng)
            if next_greedy is None:
                p = 1.0 / n_c  # no greedy item left: the random draw is the whole policy
            elif item == next_greedy:
                p = (1.0 - epsilon) + epsilon / n_c
            else:
                p = epsilon / n_c
        else:
            item = next_greedy
            in_c = item in catalog_set
            p = (1.0 - epsilon) + (epsilon / n_c if in_c and n_c else 0.0)
        chosen.append(item)
        flags.append(explore)
        scores.append(min(1.0, p))
        used.add(item)
        if item == next_greedy:
            next_greedy = _next_unused(greedy, used)
    return ExploredList(tuple(chosen), tuple(flags), tuple(scores))


def _draw_unused(catalog: list[Hashable], used: set[Hashable], rng: np.random.Generator) -> Hashable:
    # Rejection sampling: lists are short next to catalogs, so few draws are rejected.
    if len(used) * 2 < len(catalog):
        while True:
            item = catalog[int(rng.integers(len(catalog)))]
            if item not in used:
                return item
    free = [c for c in catalog if c not in used]
    return free[int(rng.integers(len(free)))]


def _next_unused(it: Any, used: set[Hashable]) -> Hashable | None:
    for item in it:
        if item not in used:
            return item
    return None
