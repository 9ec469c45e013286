"""Value conversion never raises: bad values are named and counted, vectors recognised."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from plugins.drift import names
from plugins.drift.values import categorical_values, is_vector, row_problems, tally, to_float, value_problem
from tests.plugins.drift.data import objects


class _BadHash:
    def __hash__(self) -> int:
        raise RuntimeError("no hash")


def test_value_problem_names_what_no_test_can_use() -> None:
    assert value_problem(10**400) == names.DROP_UNCONVERTIBLE
    assert value_problem(-(10**400)) == names.DROP_UNCONVERTIBLE
    assert value_problem({"a": 1}) == names.DROP_UNHASHABLE
    assert value_problem({1, 2}) == names.DROP_UNHASHABLE
    assert value_problem(_BadHash()) == names.DROP_UNCONVERTIBLE
    for fine in (None, 1, 2**60, 1.5, math.nan, "x", b"x", True, np.int64(3), np.float32(1.5), [1.0, 2.0], (1, 2),
                 np.zeros(3), Decimal("1.5")):
        assert value_problem(fine) is None, fine


def test_row_problems_only_look_at_object_columns() -> None:
    assert row_problems(np.arange(5.0)) == {}
    assert row_problems(objects([1.0, 10**400, "a", {"k": 1}, None])) == {
        1: names.DROP_UNCONVERTIBLE, 3: names.DROP_UNHASHABLE}


def test_to_float_counts_non_numbers_and_unconvertible_values() -> None:
    values, non_numeric, unconvertible = to_float(objects([1, 2.5, None, "x", 10**400, True, np.int8(4)]))
    assert values[:2].tolist() == [1.0, 2.5] and math.isnan(values[2]) and math.isnan(values[3])
    assert math.isnan(values[4]) and values[5] == 1.0 and values[6] == 4.0
    assert (non_numeric, unconvertible) == (1, 1)
    floats = np.array([1.0, np.inf])
    assert to_float(floats)[0] is floats  # numeric columns are not copied


def test_categorical_values_turn_unhashables_into_counted_missing_values() -> None:
    values, bad = categorical_values(objects(["a", ["x", "y"], None, math.nan, np.bool_(True), {"k": 1}]))
    assert values.tolist() == ["a", None, None, None, True, None]
    assert bad == 2
    assert tally(values) == {"a": 1, True: 1}
    flags, bad = categorical_values(np.array([0.0, 1.0, np.nan, 2.0]))
    assert flags.tolist() == [False, True, None, 2.0] and bad == 0


def test_is_vector_recognises_embeddings() -> None:
    assert is_vector(objects([[1.0, 2.0], None]))
    assert is_vector(np.zeros((4, 3)))
    assert not is_vector(objects(["a", None, 1]))
    assert not is_vector(np.arange(3.0))
