"""Pure scoring of the attribution plugin: ρ, the normalised distance, permutation importance, shapes, slices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from plugins.attribution import (
    as_attributions,
    compare,
    default_loss,
    distance,
    linear_explainer,
    parse_slice,
    permutation_importance,
    rank_correlation,
)
from plugins.attribution.state import LabelJoin, Ring, matrix


@pytest.mark.parametrize("seed", range(5))
def test_rank_correlation_is_spearmans_rho_ties_included(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, size=9).astype(float), rng.normal(size=9)
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic)


def test_rank_correlation_is_undefined_for_a_constant_or_single_feature() -> None:
    assert math.isnan(rank_correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(rank_correlation([1.0], [2.0]))


def test_distance_is_half_l1_of_the_shares() -> None:
    assert distance([2.0, 1.0, 1.0], [4.0, 2.0, 2.0]) == 0.0  # scale does not matter, shares do
    assert distance([1.0, 0.0], [0.0, 3.0]) == 1.0
    assert distance([0.8, 0.2, 0.0], [0.2, 0.8, 0.0]) == pytest.approx(0.6)
    assert math.isnan(distance([0.0, 0.0], [1.0, 1.0]))


def test_compare_leaves_out_features_missing_on_either_side() -> None:
    drift = compare(["a", "b", "c"], [1.0, math.nan, 1.0], [1.0, 5.0, 3.0], max_distance=0.2)
    assert drift.features == ("a", "c") and drift.distance == pytest.approx(0.25) and drift.detected
    assert not compare(["a", "b"], [1.0, 1.0], [1.0, 1.1], max_distance=0.2).detected


def test_permutation_importance_finds_the_feature_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = 3 * X[:, 0]
    imp = permutation_importance(lambda x: 3 * x[:, 0], X, y, default_loss("regression"), repeats=2,
                                 rng=np.random.default_rng(1))
    assert imp[0] > 2.0 and imp[1] == 0.0 and imp[2] == 0.0


def test_default_loss_reads_probability_vectors_probabilities_and_values() -> None:
    clf = default_loss("classification")
    assert clf(np.array([0, 1, 2]), np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])) == pytest.approx(1 / 3)
    assert clf(np.array([0, 1, 1, 0]), np.array([0.2, 0.8, 0.4, 0.6])) == 0.5
    assert clf(np.array(["cat", "dog"]), np.array(["cat", "cat"])) == 0.5
    assert default_loss("regression")(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == 1.5


def test_explainer_results_of_every_accepted_shape_become_rows_by_features() -> None:
    X = np.arange(6.0).reshape(3, 2)
    assert as_attributions(X, ["a", "b"], 3).shape == (3, 2)
    mapped = as_attributions({"b": [1, 2, 3]}, ["a", "b"], 3)
    assert np.isnan(mapped[:, 0]).all() and mapped[:, 1].tolist() == [1, 2, 3]
    per_class = as_attributions([X, -X], ["a", "b"], 3)
    assert np.array_equal(per_class, X)
    assert np.array_equal(as_attributions(np.stack([X, -3 * X], axis=2), ["a", "b"], 3), 2 * X)
    with pytest.raises(ValueError, match="expected"):
        as_attributions(np.ones((3, 5)), ["a", "b"], 3)
    with pytest.raises(ValueError, match="rows"):
        as_attributions({"a": [1, 2]}, ["a", "b"], 3)


def test_linear_explainer_gives_coefficient_times_offset() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert linear_explainer([2.0, -1.0], [1.0, 1.0])(X).tolist() == [[0.0, -1.0], [4.0, -3.0]]
    multi = linear_explainer([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])(X)
    assert multi.shape == (2, 2, 3)


@pytest.mark.parametrize(("text", "bounds"), [
    ("[3.2, 4.1)", (3.2, 4.1)), ("[-inf, 0)", (-math.inf, 0.0)), ("[5, inf)", (5.0, math.inf)),
    ("outliers", None), ("[4, 3)", None), ("[a, b)", None),
])
def test_parse_slice_reads_the_validation_plugins_labels(text: str, bounds: tuple[float, float] | None) -> None:
    assert parse_slice(text) == bounds


def test_ring_and_label_join_stay_bounded() -> None:
    ring = Ring(3, 1)
    ring.add(np.arange(5.0).reshape(5, 1), np.arange(5.0).reshape(5, 1))
    assert sorted(ring.arrays()[0][:, 0].tolist()) == [2.0, 3.0, 4.0]
    joins = LabelJoin(2)
    joins.remember([("p", 0), ("p", 1), ("p", 2)], np.arange(3.0).reshape(3, 1))
    assert not joins.label(("p", 0), 1) and joins.label(("p", 2), 7)
    X, y = joins.take()
    assert X.tolist() == [[2.0]] and y.tolist() == [7]


def test_matrix_reads_numbers_and_leaves_the_rest_missing() -> None:
    cols = {"a": np.array([1.0, 2.0]), "b": np.array(["x", 3], dtype=object)}
    m = matrix(cols, ["a", "b", "c"], 2)
    assert m[:, 0].tolist() == [1.0, 2.0] and math.isnan(m[0, 1]) and m[1, 1] == 3.0 and np.isnan(m[:, 2]).all()
