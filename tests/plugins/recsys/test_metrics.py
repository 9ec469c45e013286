"""Pure recommender metrics against direct computations."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from plugins.recsys import metrics as rm


def _gini_by_pairs(x: np.ndarray) -> float:
    # The textbook definition: mean absolute difference over all pairs / (2 * mean).
    n = len(x)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


def test_gini_matches_pairwise_definition_with_unshown_items_as_zero() -> None:
    rng = np.random.default_rng(0)
    shown = {f"i{j}": float(v) for j, v in enumerate(rng.poisson(5, 80) + 1)}
    padded = np.array([*shown.values(), *([0.0] * 20)])
    assert rm.gini(shown, catalog_size=100) == pytest.approx(_gini_by_pairs(padded))


def test_gini_extremes() -> None:
    assert rm.gini([3.0] * 10) == pytest.approx(0.0)
    assert rm.gini({"only": 7.0}, catalog_size=10) == pytest.approx(0.9)
    assert math.isnan(rm.gini({}, catalog_size=10))


def test_coverage_counts_distinct_items_over_catalog() -> None:
    assert rm.coverage(["a", "b", "a", "c"], 10) == pytest.approx(0.3)


def test_head_items_hold_the_configured_share_of_interactions() -> None:
    pop = {"a": 50, "b": 20, "c": 10, "d": 10, "e": 10}
    assert rm.head_items(pop, 0.2) == {"a"}
    assert rm.head_items(pop, 0.6) == {"a", "b"}


def test_arp_and_aplt_average_over_lists() -> None:
    pop = {"a": 0.5, "b": 0.3, "c": 0.2}
    lists = [["a", "b"], ["c", "x"]]
    assert rm.arp(lists, pop) == pytest.approx(((0.5 + 0.3) / 2 + (0.2 + 0.0) / 2) / 2)
    assert rm.aplt(lists, {"a"}) == pytest.approx((1 / 2 + 2 / 2) / 2)


def test_head_tail_ctr_ratio_measures_popularity_bias() -> None:
    res = rm.head_tail_ctr(["h", "h", "h", "h", "t", "t", "t", "t"], ["h", "h", "t"], {"h"})
    assert (res.head_ctr, res.tail_ctr, res.ratio) == (0.5, 0.25, 2.0)


def test_ctr_by_position_is_clicks_over_impressions_per_slot() -> None:
    assert rm.ctr_by_position([0, 1, 0, 1, 0], [0, 0, 1]) == {0: pytest.approx(2 / 3), 1: 0.5}


def test_ips_recovers_item_click_rates_from_non_uniform_exploration() -> None:
    rng = np.random.default_rng(4)
    items = np.array(["a", "b", "c"])
    true = {"a": 0.1, "b": 0.3, "c": 0.6}
    probs = np.array([0.6, 0.3, 0.1])  # logging policy favours the worst item
    shown, clicked = [], []
    for j in rng.choice(3, 60_000, p=probs):
        item, p = str(items[j]), float(probs[j])
        shown.append((item, p))
        if rng.random() < true[item]:
            clicked.append((item, p))
    for normalised in (True, False):
        est = rm.ips_item_quality(shown, clicked, self_normalised=normalised)
        for item, q in true.items():
            # un-normalised IPS estimates the rate of always showing the item
            assert est[item].estimate == pytest.approx(q, abs=0.02), (normalised, item)


def test_loop_trend_flags_rising_gini_with_falling_coverage_only() -> None:
    up = [0.40, 0.43, 0.47, 0.50, 0.53, 0.57]
    down = [0.90, 0.88, 0.85, 0.83, 0.80, 0.78]
    assert rm.loop_trend(up, down, windows=6).flagged
    assert not rm.loop_trend(up, [0.9] * 6, windows=6).flagged
    assert not rm.loop_trend([0.5] * 6, down, windows=6).flagged
    short = rm.loop_trend(up[:3], down[:3], windows=6)
    assert not short.flagged and "need 6 windows" in short.reason


def test_analyze_recommendations_offline_from_outputs_alone() -> None:
    log: list[Any] = [["a", "b"], {"items": ["a", "c"]}, ["a", "b"]]
    rep = rm.analyze_recommendations(log, catalog_size=10, popularity={"a": 8, "b": 1, "c": 1})
    exposure = Counter({"a": 3, "b": 2, "c": 1})
    assert rep.lists == 3 and rep.impressions == 6 and rep.distinct_items == 3
    assert rep.coverage == pytest.approx(0.3)
    assert rep.gini == pytest.approx(rm.gini(exposure, 10))
    assert rep.long_tail_share == pytest.approx(0.5)  # head = {"a"}
    assert 0 < rep.entropy < 1
