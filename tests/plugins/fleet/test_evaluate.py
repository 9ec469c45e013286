"""Tests on profiles give the drift plugin's results: identical while sketches are exact, conservative after."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plugins.drift import DriftConfig, compare
from plugins.fleet import ProfileBuilder, compare_profiles, from_bytes, to_bytes
from plugins.fleet.codec import ProfileFormatError
from plugins.fleet.sample import offset_priorities

OFF = DriftConfig(multivariate=DriftConfig().multivariate.__class__("off"))


def _columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    return {"x": rng.normal(size=n) + shift, "y": rng.gamma(2.0, size=n),
            "c": rng.choice(np.array(["a", "b", "c", "d"], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])}


def _profile(cols: dict[str, np.ndarray], stream: str, k: int = 2000) -> object:
    n = len(cols["x"])
    b = ProfileBuilder(model="m", sketch_k=k)
    b.add_columns(cols, offset_priorities(stream, 0, n))
    return b.build()


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_exact_profiles_reproduce_the_drift_plugins_statistics(shift: float) -> None:
    """Exact sketches give the live plugin's (and scipy's) test statistics and p-values to float precision.

    The verdicts are not compared: the live plugin now gates features with its joint
    permutation test and corrects effects for sampling noise from the window's own
    permutations, which a profile cannot rerun; the fleet applies significance after
    correction and the raw effect threshold (README "Scaling out").
    """
    from scipy import stats

    rng = np.random.default_rng(1)
    ref, cur = _columns(rng, 800), _columns(rng, 600, shift)
    mine = {r.feature: r for r in compare_profiles(_profile(ref, "r"), _profile(cur, "c"), OFF).results}
    theirs = {r.feature: r for r in compare(ref, cur, config=OFF).results}
    assert set(mine) == set(theirs)
    for f, r in theirs.items():
        m = mine[f]
        assert (m.test, m.skipped) == (r.test, r.skipped)
        for a, b in ((m.statistic, r.statistic), (m.p_value, r.p_value)):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (f, a, b)
    for f in ("x", "y"):
        ks = stats.ks_2samp(ref[f], cur[f])
        assert math.isclose(mine[f].statistic, ks.statistic, rel_tol=1e-9)
        assert math.isclose(mine[f].p_value, ks.pvalue, rel_tol=1e-9)
    assert mine["x"].drifted is (shift > 0)


def test_estimating_sketches_keep_the_ks_test_conservative() -> None:
    """D̂ - ε_ref - ε_cur never exceeds the exact statistic (DataSketches' bound), so p-values only grow."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        ref, cur = _columns(rng, 3000), _columns(rng, 3000, 0.05)
        exact = {r.feature: r for r in compare(ref, cur, config=OFF).results}
        pr, pc = _profile(ref, "r", k=64), _profile(cur, "c", k=64)
        eps = pr.features["x"].rank_error + pc.features["x"].rank_error
        assert eps > 0
        sk = {r.feature: r for r in compare_profiles(pr, pc, OFF).results}
        for f in ("x", "y"):
            assert sk[f].statistic - eps <= exact[f].statistic + 1e-12


def test_schema_changes_and_small_windows_are_reported() -> None:
    rng = np.random.default_rng(2)
    ref = _columns(rng, 500)
    small = DriftConfig().min_window - 1  # below the drift plugin's smallest testable window
    cur = {"x": rng.normal(size=small), "c": np.array(["a", "z"] * (small // 2) + ["a"] * (small % 2), dtype=object),
           "new": rng.normal(size=small)}
    rep = compare_profiles(_profile(ref, "r"), _profile({**cur}, "c"), DriftConfig())
    kinds = {(c.kind, c.feature) for c in rep.schema}
    assert kinds == {("feature_added", "new"), ("feature_missing", "y"), ("new_category", "c")}
    by = {r.feature: r for r in rep.results}
    assert by["x"].skipped == "window_too_small" and by["multivariate"].skipped == "window_too_small"


def test_the_byte_format_round_trips_and_rejects_what_it_cannot_read() -> None:
    rng = np.random.default_rng(4)
    p = _profile(_columns(rng, 3000), "r", k=200)
    q = from_bytes(to_bytes(p))
    assert (q.rows, q.model, q.kind) == (p.rows, p.model, p.kind)
    assert q.features["x"].moments == p.features["x"].moments
    assert q.features["x"].sketch.serialize() == p.features["x"].sketch.serialize()
    assert q.features["c"].category_counts() == p.features["c"].category_counts()
    assert np.array_equal(q.sample.priorities, p.sample.priorities)
    assert all(np.array_equal(q.sample.columns[f].astype(str), p.sample.columns[f].astype(str)) for f in "xyc")
    data = to_bytes(p)
    assert len(data) < 40_000  # 3 features, 3,000 rows, a 500-row sample
    for bad, message in ((b"nope", "magic"), (data[:4] + b"\x09" + data[5:], "version 9"),
                         (data[:40], "damaged")):
        with pytest.raises(ProfileFormatError, match=message):
            from_bytes(bad)
