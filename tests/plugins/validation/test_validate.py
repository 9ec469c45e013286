"""Pure vectorised validation: type classes in object columns, bounds, examples, redaction."""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.validation.schema import FeatureSchema, Schema, ValueType
from plugins.validation.validate import MAX_EXAMPLE_CHARS, Violation, example_value, validate_columns


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
