"""Pure vectorised validation: type classes in object columns, bounds, examples, redaction."""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.validation.schema import FeatureSchema, Schema, ValueType
from plugins.validation.validate import MAX_EXAMPLE_CHARS, Violation, example_value, validate_columns, validate_rows


def obj(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def counts(schema: Schema, cols: dict[str, np.ndarray]) -> dict[tuple[str, str], int]:
    n = len(next(iter(cols.values())))
    return {(f, k.value): c for (f, k), c in validate_columns(schema, cols, n).counts.items()}


def one(name: str, vtype: ValueType, **kw: Any) -> Schema:
    return Schema({name: FeatureSchema(name, vtype, **kw)})


def test_mixed_object_column_is_classified_per_value_type() -> None:
    col = obj([1.0, 2, None, "3", [4], {"a": 1}, True, float("nan"), float("inf"), np.float32(5), 10**400])
    got = counts(one("x", ValueType.FLOAT, min=0, max=100), {"x": col})
    # "3", [4], {..} and True are not floats; None and NaN are nulls; inf and 10**400 are non-finite
    assert got == {("x", "type_mismatch"): 4, ("x", "null"): 2, ("x", "non_finite"): 2}


def test_int_accepts_integral_floats_and_rejects_fractions() -> None:
    got = counts(one("n", ValueType.INT), {"n": np.array([1.0, 2.0, 2.5, -3.0])})
    assert got == {("n", "type_mismatch"): 1}


def test_bool_accepts_bools_and_zero_one_numbers_only() -> None:
    assert counts(one("b", ValueType.BOOL), {"b": np.array([0.0, 1.0, 1.0])}) == {}
    assert counts(one("b", ValueType.BOOL), {"b": obj([True, 0, 2, "true"])}) == {("b", "type_mismatch"): 2}


def test_categorical_membership_works_for_numeric_and_string_columns() -> None:
    schema = one("c", ValueType.CATEGORICAL, allowed=(1, 2, "x"))
    assert counts(schema, {"c": np.array([1.0, 2.0, 3.0])}) == {("c", "not_allowed"): 1}
    assert counts(schema, {"c": obj(["x", "y", 1, None])}) == {("c", "not_allowed"): 1, ("c", "null"): 1}
    assert counts(schema, {"c": np.array(["x", "z"])}) == {("c", "not_allowed"): 1}


def test_string_rejects_numbers_and_checks_regex_on_strings() -> None:
    schema = one("s", ValueType.STRING, regex=r"[a-z]+", nullable=True)
    assert counts(schema, {"s": obj(["abc", "ABC", 5, None, "x" * 10_000])}) == {
        ("s", "regex_mismatch"): 1,
        ("s", "type_mismatch"): 1,
    }


def test_examples_are_bounded_and_sensitive_ones_redacted() -> None:
    huge = "y" * 100_000
    schema = Schema(
        {
            "s": FeatureSchema("s", ValueType.STRING, allowed=("a",)),
            "p": FeatureSchema("p", ValueType.STRING, allowed=("a",), sensitive=True),
        }
    )
    res = validate_columns(schema, {"s": obj([huge, "b", "c", "d"]), "p": obj(["secret", "a", "a", "a"])}, 4)
    ex = res.examples[("s", Violation.NOT_ALLOWED)]
    assert len(ex) == 3 and len(ex[0]) == MAX_EXAMPLE_CHARS + 3 and ex[1:] == ("b", "c")
    assert res.examples[("p", Violation.NOT_ALLOWED)] == ("<redacted>",)


def test_example_value_survives_objects_whose_repr_raises() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "Bad" in example_value(Bad())
    assert example_value(np.int64(3)) == 3
    assert example_value(float("-inf")) == "-inf"


def test_missing_required_and_optional_features() -> None:
    schema = Schema(
        {
            "r": FeatureSchema("r", ValueType.FLOAT),
            "o": FeatureSchema("o", ValueType.FLOAT, required=False),
        }
    )
    res = validate_columns(schema, {}, 5)
    assert {(f, k.value): c for (f, k), c in res.counts.items()} == {("r", "missing_feature"): 5}
    assert res.missing == {"r": 5, "o": 5}


def test_unknown_feature_counts_only_rows_with_a_value_unless_allowed() -> None:
    cols = {"u": obj([1, None, "x"])}
    assert counts(Schema({}), cols) == {("u", "unknown_feature"): 2}
    assert counts(Schema({}, allow_unknown=True), cols) == {}


def test_empty_batch_has_no_violations() -> None:
    res = validate_columns(one("x", ValueType.FLOAT), {"x": np.empty(0)}, 0)
    assert res.counts == {} and res.outlier_rows.shape == (0,)


def test_list_type_checks_list_likeness_and_length() -> None:
    schema = one("v", ValueType.LIST, dim=2, nullable=True)
    col = obj([[1, 2], (3, 4), np.zeros(2), [1], np.zeros(3), "ab", 5, None, {"a": 1}, np.float64(1.0)])
    assert counts(schema, {"v": col}) == {("v", "dimension_mismatch"): 2, ("v", "type_mismatch"): 4}
    assert counts(one("v", ValueType.LIST), {"v": col}) == {("v", "type_mismatch"): 4, ("v", "null"): 1}


def test_two_dimensional_column_holds_one_array_per_row() -> None:
    matrix = np.zeros((4, 3))
    assert counts(one("v", ValueType.LIST, dim=3), {"v": matrix}) == {}
    assert counts(one("v", ValueType.LIST, dim=2), {"v": matrix}) == {("v", "dimension_mismatch"): 4}
    assert counts(one("v", ValueType.FLOAT), {"v": matrix}) == {("v", "type_mismatch"): 4}
    assert counts(Schema({}), {"v": matrix}) == {("v", "unknown_feature"): 4}


class Hostile(str):
    """A str whose hash raises a RuntimeError, so a membership check on its row raises."""

    def __hash__(self) -> int:
        raise RuntimeError("hash")


def test_validate_rows_skips_only_the_rows_whose_values_make_a_check_raise() -> None:
    schema = Schema({"c": FeatureSchema("c", ValueType.CATEGORICAL, allowed=("a",)),
                     "x": FeatureSchema("x", ValueType.FLOAT, max=1.0)})  # fmt: skip
    c = obj(["a", "b", Hostile("a"), "a", "b", "a", Hostile("z"), "a"])
    x = np.array([0.5, 0.5, 0.5, 2.0, 0.5, 3.0, 0.5, 0.5])
    res, bad, error = validate_rows(schema, {"c": c, "x": x}, 8)
    assert bad.tolist() == [False, False, True, False, False, False, True, False]
    assert isinstance(error, RuntimeError) and res.rows == 6
    assert {(f, k.value): n for (f, k), n in res.counts.items()} == {("c", "not_allowed"): 2, ("x", "above_max"): 2}
    assert res.examples[("x", Violation.ABOVE_MAX)] == (2.0, 3.0)  # in row order across the parts
    assert np.isnan(res.numeric["x"][[2, 6]]).all() and res.numeric["x"][3] == 2.0  # skipped rows hold no value
    clean, none_bad, no_error = validate_rows(schema, {"c": obj(["a"]), "x": np.array([0.1])}, 1)
    assert clean.rows == 1 and not none_bad.any() and no_error is None


def test_numeric_vectors_are_checked_for_nan_and_inf_and_their_norm_range() -> None:
    schema = one("v", ValueType.LIST, dim=2, nullable=True, norm_min=1.0, norm_max=5.0)
    col = obj([[3, 4], [0.1, 0.0], [6, 8], [float("nan"), 1], (float("inf"), 0), ["a", "b"], [1], None])
    assert counts(schema, {"v": col}) == {("v", "non_finite"): 2, ("v", "norm_below_min"): 1,
                                          ("v", "norm_above_max"): 1, ("v", "dimension_mismatch"): 1}
    matrix = np.array([[3.0, 4.0], [0.0, 0.0], [np.nan, 1.0]])
    assert counts(schema, {"v": matrix}) == {("v", "non_finite"): 1, ("v", "norm_below_min"): 1}
    # a token list of the schema's length is not a numeric vector: no numeric checks
    assert counts(one("v", ValueType.LIST, dim=2), {"v": obj([["a", "b"], [1.0, 2.0]])}) == {}
