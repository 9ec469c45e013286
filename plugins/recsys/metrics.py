"""Pure recommender metrics: coverage, exposure Gini, popularity bias, position bias, IPS, loop trend.

Every function takes plain sequences and returns numbers or frozen dataclasses; the
stateful window bookkeeping lives in ``plugin.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Item = Hashable


def coverage(shown: Iterable[Item], catalog_size: int) -> float:
    """Catalog coverage: distinct items shown / catalog size."""
    if catalog_size <= 0:
        return math.nan
    return min(1.0, len(set(shown)) / catalog_size)


def gini(exposure: Mapping[Any, float] | Sequence[float], catalog_size: int | None = None) -> float:
    """Gini index of exposure over the whole catalog; items never shown count as zero exposure.

    With the n = ``catalog_size`` exposures sorted ascending, x_(1) <= ... <= x_(n)
    (the catalog items missing from ``exposure`` padded as zeros),

        G = Σ_{i=1..n} (2i − n − 1) · x_(i)  /  (n · Σ_i x_(i)).

    G = 0 when every item is shown equally often, and (n − 1)/n when one item takes
    all exposure. ``catalog_size`` defaults to the number of items given.
    """
    values = np.asarray(list(exposure.values()) if isinstance(exposure, Mapping) else exposure, dtype=float)
    n = catalog_size if catalog_size is not None else len(values)
    if n <= 0 or len(values) > n:
        n = max(n, len(values))
    total = values.sum()
    if n == 0 or total <= 0:
        return math.nan
    x = np.sort(np.concatenate([np.zeros(n - len(values)), values]))
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * total))


def exposure_entropy(exposure: Mapping[Any, float], catalog_size: int) -> float:
    """Shannon entropy of the exposure distribution, normalised by log(catalog size) (1 = uniform)."""
    values = np.asarray([v for v in exposure.values() if v > 0], dtype=float)
    if catalog_size <= 1 or values.sum() <= 0:
        return math.nan
    p = values / values.sum()
    return float(-(p * np.log(p)).sum() / math.log(catalog_size))


def head_items(popularity: Mapping[Any, float], head_share: float = 0.2) -> frozenset[Item]:
    """The most popular items that together hold ``head_share`` of all interactions (the short head).

    Items are taken in decreasing popularity until their cumulative share reaches
    ``head_share``; everything else (including items with no interactions) is the tail.
    """
    total = float(sum(popularity.values()))
    if total <= 0:
        return frozenset()
    head: list[Item] = []
    acc = 0.0
    for item, count in sorted(popularity.items(), key=lambda kv: (-kv[1], repr(kv[0]))):
        if acc >= head_share * total:
            break
        head.append(item)
        acc += count
    return frozenset(head)


def arp(lists: Sequence[Sequence[Item]], popularity: Mapping[Any, float]) -> float:
    """Average recommendation popularity: mean over lists of the mean popularity of their items."""
    per = [np.mean([popularity.get(i, 0.0) for i in lst]) for lst in lists if len(lst)]
    return float(np.mean(per)) if per else math.nan


def aplt(lists: Sequence[Sequence[Item]], head: AbstractSet[Item]) -> float:
    """Average percentage of long-tail items: mean over lists of the share of items outside the head."""
    per = [sum(1 for i in lst if i not in head) / len(lst) for lst in lists if len(lst)]
    return float(np.mean(per)) if per else math.nan


@dataclass(frozen=True, slots=True)
class HeadTailCTR:
    """Click-through on head vs tail items; ``ratio`` > 1 means the model serves head items better."""

    head_ctr: float
    tail_ctr: float
    ratio: float
    head_impressions: int
    tail_impressions: int


def head_tail_ctr(impressions: Sequence[Item], clicks: Sequence[Item], head: AbstractSet[Item]) -> HeadTailCTR:
    """CTR of head items and of tail items from per-slot impressions and clicked items (one entry per click)."""
    hi = sum(1 for i in impressions if i in head)
    ti = len(impressions) - hi
    hc = sum(1 for i in clicks if i in head)
    tc = len(clicks) - hc
    h = hc / hi if hi else math.nan
    t = tc / ti if ti else math.nan
    ratio = h / t if t and not math.isnan(t) and not math.isnan(h) else math.nan
    return HeadTailCTR(h, t, ratio, hi, ti)


def ctr_by_position(impression_positions: Sequence[int], click_positions: Sequence[int]) -> dict[int, float]:
    """Click-through rate per list position (the position-bias curve)."""
    shown = Counter(impression_positions)
    clicked = Counter(click_positions)
    return {p: clicked.get(p, 0) / n for p, n in sorted(shown.items())}


@dataclass(frozen=True, slots=True)
class ItemQuality:
    """Inverse-propensity estimate of one item's click rate when shown, from exploration traffic."""

    item: Item
    estimate: float
    shown: int
    clicks: int


def ips_item_quality(
    shown: Sequence[tuple[Item, float]], clicked: Sequence[tuple[Item, float]], *, self_normalised: bool = True
) -> dict[Item, ItemQuality]:
    """Per-item click rate from logged (item, pscore) impressions and clicks of exploration traffic.

    IPS: Q̂_i = (1/N) Σ_t 1[a_t = i] r_t / p_t over the N logged slots, which is
    unbiased for the click rate of always showing i. The self-normalised form divides
    by Σ_t 1[a_t = i] / p_t instead of N (lower variance, slightly biased); with a
    uniform exploration policy it equals clicks / impressions of the item.
    """
    sums: dict[Item, list[float]] = {}
    for item, p in shown:
        acc = sums.setdefault(item, [0.0, 0.0, 0.0, 0.0])
        acc[0] += 1.0 / p
        acc[2] += 1
    for item, p in clicked:
        acc = sums.setdefault(item, [0.0, 0.0, 0.0, 0.0])
        acc[1] += 1.0 / p
        acc[3] += 1
    return ips_from_sums(sums, len(shown), self_normalised=self_normalised)


def ips_from_sums(
    sums: Mapping[Any, Sequence[float]], n_slots: int, *, self_normalised: bool = True
) -> dict[Item, ItemQuality]:
    """``ips_item_quality`` from running sums per item: [Σ 1/p shown, Σ 1/p clicked, shown, clicks]."""
    out: dict[Item, ItemQuality] = {}
    for item, (w_shown, w_clicked, n_shown, n_clicked) in sums.items():
        if n_shown <= 0:
            continue
        est = w_clicked / w_shown if self_normalised else (w_clicked / n_slots if n_slots else math.nan)
        out[item] = ItemQuality(item, est, int(n_shown), int(n_clicked))
    return out


@dataclass(frozen=True, slots=True)
class LoopVerdict:
    """Trend of exposure concentration over the last windows; ``flagged`` = degenerate loop suspected."""

    flagged: bool
    windows: int
    gini_change: float
    coverage_change: float
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


def loop_trend(
    gini_series: Sequence[float],
    coverage_series: Sequence[float],
    *,
    windows: int = 6,
    gini_rise: float = 0.04,
    coverage_drop: float = 0.04,
) -> LoopVerdict:
    """Flag a feedback loop when, over the last ``windows`` windows, Gini rose while coverage fell.

    Changes are read off least-squares lines through the series (robust to one noisy
    window): ``gini_change`` is the fitted absolute rise across the span,
    ``coverage_change`` the fitted relative fall (0.1 = coverage shrank by 10%).
    Flagged when gini_change >= ``gini_rise`` and coverage_change >= ``coverage_drop``.
    """
    g = [x for x in gini_series if not math.isnan(x)][-windows:]
    c = [x for x in coverage_series if not math.isnan(x)][-windows:]
    n = min(len(g), len(c))
    if n < max(3, windows):
        return LoopVerdict(False, n, math.nan, math.nan, f"need {max(3, windows)} windows, have {n}")
    t = np.arange(n, dtype=float)
    g_slope = float(np.polyfit(t, g[-n:], 1)[0])
    c_fit = np.polyfit(t, c[-n:], 1)
    c_start = float(np.polyval(c_fit, 0.0))
    gini_change = g_slope * (n - 1)
    coverage_change = (-float(c_fit[0]) * (n - 1) / c_start) if c_start > 0 else math.nan
    flagged = gini_change >= gini_rise and coverage_change >= coverage_drop
    reason = (
        f"Gini rose by {gini_change:.3f} and coverage fell by {coverage_change:.0%} over {n} windows"
        if flagged else ""
    )
    return LoopVerdict(flagged, n, gini_change, coverage_change, reason,
                       {"gini": list(g[-n:]), "coverage": list(c[-n:])})


@dataclass(frozen=True, slots=True)
class RecommendationReport:
    """Offline coverage and diversity of a log of recommendation lists (no feedback needed)."""

    lists: int
    impressions: int
    distinct_items: int
    coverage: float
    gini: float
    entropy: float
    arp: float | None = None
    long_tail_share: float | None = None


def analyze_recommendations(
    log: Iterable[Sequence[Item] | Mapping[str, Any]],
    catalog_size: int,
    *,
    popularity: Mapping[Any, float] | None = None,
    head_share: float = 0.2,
) -> RecommendationReport:
    """Coverage, exposure Gini and entropy (and ARP, APLT when ``popularity`` is given) of logged lists.

    ``log`` holds one entry per served list: a sequence of item ids, or a mapping with
    an ``items`` sequence (the shape ``exploration.ExploredList.as_output`` produces).
    """
    lists: list[list[Item]] = []
    for entry in log:
        items = entry.get("items", ()) if isinstance(entry, Mapping) else entry
        lists.append(list(items))
    exposure: Counter[Item] = Counter(i for lst in lists for i in lst)
    rep_arp = rep_aplt = None
    if popularity is not None:
        rep_arp = arp(lists, popularity)
        rep_aplt = aplt(lists, head_items(popularity, head_share))
    return RecommendationReport(
        lists=len(lists),
        impressions=sum(exposure.values()),
        distinct_items=len(exposure),
        coverage=coverage(exposure, catalog_size),
        gini=gini(exposure, catalog_size),
        entropy=exposure_entropy(exposure, catalog_size),
        arp=rep_arp,
        long_tail_share=rep_aplt,
    )
