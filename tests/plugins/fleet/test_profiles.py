"""Profiles merge like the data they summarise: properties over random data and random partitions (hypothesis)."""

from __future__ import annotations

import itertools
import math

import datasketches  # type: ignore[import-untyped,unused-ignore]
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.fleet import Kind, Moments, Profile, ProfileBuilder, merge_profiles
from plugins.fleet.sample import offset_priorities

CATS = np.array(["a", "b", "c", "d", "e", "f", "g", "h"], dtype=object)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _profile(x: np.ndarray, c: np.ndarray, offset: int, *, k: int = 2000, cap: int = 1000) -> Profile:
    b = ProfileBuilder(model="m", sketch_k=k, max_categories=cap, sample_rows=32)
    b.add_columns({"x": x, "c": c}, offset_priorities("data", offset, x.size), start=offset, end=offset + x.size)
    return b.build()


@st.composite
def datasets(draw: st.DrawFn, max_rows: int = 300) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n = draw(st.integers(3, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(draw(st.floats(-1e3, 1e3)), draw(st.floats(0.01, 100)), n) ** draw(st.sampled_from([1, 3]))
    x[rng.random(n) < draw(st.floats(0, 0.3))] = np.nan
    c = rng.choice(CATS[: draw(st.integers(1, 8))], n).astype(object)
    c[rng.random(n) < 0.1] = None
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), max_size=6, unique=True)))
    return x, c, cuts


def _parts(x: np.ndarray, c: np.ndarray, cuts: list[int], **kw: int) -> list[Profile]:
    bounds = [0, *cuts, x.size]
    return [_profile(x[a:b], c[a:b], a, **kw) for a, b in itertools.pairwise(bounds)]


def _close(a: Moments, b: Moments) -> bool:
    scale = max(1.0, abs(a.mean)) ** 4 * max(a.n, 1)
    return (a.n == b.n and a.min == b.min and a.max == b.max
            and math.isclose(a.mean, b.mean, rel_tol=1e-9, abs_tol=1e-9)
            and all(math.isclose(u, v, rel_tol=1e-6, abs_tol=1e-9 * scale)
                    for u, v in ((a.m2, b.m2), (a.m3, b.m3), (a.m4, b.m4))))


def _same_exact_parts(a: Profile, b: Profile) -> None:
    assert (a.rows, a.start, a.end) == (b.rows, b.start, b.end)
    assert a.features["c"].category_counts() == b.features["c"].category_counts()
    assert _close(a.features["x"].moments, b.features["x"].moments)
    assert np.array_equal(a.sample.priorities, b.sample.priorities)
    for f in ("x", "c"):
        assert np.array_equal(a.sample.columns[f].astype(str), b.sample.columns[f].astype(str))


@FAST
@given(datasets())
def test_merging_the_profiles_of_any_partition_gives_the_profile_of_the_whole(data: tuple) -> None:
    x, c, cuts = data
    whole = _profile(x, c, 0)
    merged = merge_profiles(_parts(x, c, cuts))
    _same_exact_parts(whole, merged)
    finite = x[np.isfinite(x)]
    m = merged.features["x"].moments
    assert m.n == finite.size and merged.missing("x") == np.count_nonzero(~np.isfinite(x))
    if finite.size > 1:
        assert math.isclose(m.variance, float(np.var(finite, ddof=1)), rel_tol=1e-7, abs_tol=1e-9)
    # k = 2000 holds every value: the sketches are exact and identical, whatever the partition
    assert np.array_equal(whole.features["x"].items()[0], np.sort(finite))
    assert np.array_equal(merged.features["x"].items()[0], np.sort(finite))


@FAST
@given(datasets(max_rows=200), st.permutations(range(3)))
def test_merge_is_associative_and_commutative(data: tuple, order: list[int]) -> None:
    x, c, _ = data
    n = x.size
    cuts = [n // 3, 2 * n // 3]
    a, b, cc = _parts(x, c, cuts)
    left = merge_profiles([merge_profiles([a, b]), cc])
    right = merge_profiles([a, merge_profiles([b, cc])])
    shuffled = merge_profiles([(a, b, cc)[i] for i in order])
    for other in (right, shuffled, b.merge(a).merge(cc)):
        _same_exact_parts(left, other)
        assert np.array_equal(left.features["x"].items()[0], other.features["x"].items()[0])


@settings(max_examples=25, deadline=None)
@given(datasets(max_rows=2000))
def test_quantiles_of_merged_estimating_sketches_stay_within_the_documented_rank_error(data: tuple) -> None:
    x, c, cuts = data
    merged = merge_profiles(_parts(x, c, cuts, k=16))
    fp = merged.features["x"]
    finite = np.sort(x[np.isfinite(x)])
    if finite.size == 0:
        return
    eps = datasketches.kll_doubles_sketch.get_normalized_rank_error(16, False) if fp.rank_error else 0.0
    assert fp.rank_error == eps
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        v = fp.sketch.get_quantile(q)
        lo = np.searchsorted(finite, v, "left") / finite.size  # the value's true rank interval
        hi = np.searchsorted(finite, v, "right") / finite.size
        # DataSketches documents ε as the 99th-percentile error; 1.5 ε keeps this property test deterministic
        assert lo - 1.5 * eps - 1e-9 <= q <= hi + 1.5 * eps + 1e-9, (q, lo, hi, eps)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(2, 6))
def test_above_the_cardinality_cap_counts_become_a_bounded_frequent_items_sketch(seed: int, parts: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.array([f"v{i}" for i in range(60)], dtype=object)
    c = labels[np.minimum(rng.geometric(0.15, 600) - 1, 59)]
    x = rng.normal(size=600)
    cuts = list(range(600 // parts, 600, 600 // parts))[: parts - 1]
    merged = merge_profiles(_parts(x, c, cuts, cap=8))
    fp = merged.features["c"]
    assert fp.kind is Kind.CATEGORICAL and not fp.exact_counts and fp.present == 600
    truth = dict(zip(*np.unique(c.astype(str), return_counts=True), strict=True))
    for item, _, lower, upper in fp.frequent.get_frequent_items(
            datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES):
        assert lower <= truth[item] <= upper
    top = max(truth, key=lambda k: truth[k])
    assert top in fp.category_counts()  # the most frequent category is among those the sketch lists


def test_moments_match_numpy_and_scipy_definitions() -> None:
    from scipy import stats

    v = np.random.default_rng(3).gamma(2.0, 3.0, 1001)
    m = Moments.of(v[:400]).merge(Moments.of(v[400:]))
    assert math.isclose(m.variance, float(np.var(v, ddof=1)), rel_tol=1e-12)
    assert math.isclose(m.skewness, float(stats.skew(v)), rel_tol=1e-9)
    assert math.isclose(m.kurtosis, float(stats.kurtosis(v)), rel_tol=1e-9)
    assert Moments().merge(m) == m and m.merge(Moments()) == m


def test_a_feature_numeric_in_one_profile_and_categorical_in_another_cannot_merge() -> None:
    a = ProfileBuilder(model="m")
    a.add_columns({"f": np.array([1.0, 2.0])}, offset_priorities("a", 0, 2))
    b = ProfileBuilder(model="m")
    b.add_columns({"f": np.array(["x", "y"], dtype=object)}, offset_priorities("b", 0, 2))
    try:
        merge_profiles([a.build(), b.build()])
    except ValueError as exc:
        assert "'f'" in str(exc)
    else:
        raise AssertionError("expected a ValueError naming the feature")
