"""Summary statistics per feature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from plugins.drift.summary import summarize_categorical, summarize_numeric


def test_numeric_summary_matches_numpy_and_scipy() -> None:
    v = np.random.default_rng(0).gamma(2.0, size=5000)
    with_missing = np.concatenate([v, [np.nan, np.inf]])
    s = summarize_numeric("x", with_missing)
    assert s.count == 5000
    assert s.missing_rate == pytest.approx(2 / 5002)
    assert s.mean == pytest.approx(v.mean())
    assert s.variance == pytest.approx(v.var(ddof=1))
    assert s.p95 == pytest.approx(np.quantile(v, 0.95))
    assert s.median == pytest.approx(np.median(v))
    assert s.skewness == pytest.approx(stats.skew(v))
    assert s.kurtosis == pytest.approx(stats.kurtosis(v))
    assert (s.min, s.max) == (v.min(), v.max())


def test_categorical_summary_gives_frequencies_and_missing_rate() -> None:
    s = summarize_categorical("c", np.array(["a", "a", "b", None], dtype=object))
    assert s.count == 3
    assert s.missing_rate == pytest.approx(0.25)
    assert s.frequencies == {"a": pytest.approx(2 / 3), "b": pytest.approx(1 / 3)}


def test_empty_numeric_summary_is_all_missing() -> None:
    s = summarize_numeric("x", np.array([np.nan, np.nan]))
    assert s.count == 0 and s.missing_rate == 1.0
