"""Schema loading, inference from reference data and the TOML round trip."""

from __future__ import annotations

import math
import tomllib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent._errors import ConfigError
from plugins.validation.schema import (
    FeatureSchema,
    Schema,
    ValueType,
    infer_schema,
    merge_schemas,
    schema_from_mapping,
    schema_to_toml,
)
from plugins.validation.validate import missing_rate_breaches, validate_columns


def obj(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def reference() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 500
    amount = rng.lognormal(3, 1, size=n)
    amount[::50] = np.nan
    return {
        "amount": amount,
        "age": rng.integers(18, 90, size=n).astype(np.float64),
        "flag": rng.random(n) < 0.3,
        "binary": (rng.random(n) < 0.5).astype(np.float64),
        "country": obj(rng.choice(["FR", "DE", "ES", 'Ünïcode "q" \\'], size=n).tolist()),
        "comment": obj([f"free text {i}" for i in range(n)]),
        "maybe": obj([None if i % 3 == 0 else ("a" if i % 2 else "b") for i in range(n)]),
        "feature with spaces.and.dots": rng.normal(size=n),
    }


def roundtrip(schema: Schema) -> Schema:
    return schema_from_mapping(tomllib.loads(schema_to_toml(schema)))


def test_inference_picks_types_ranges_categories_and_nullability() -> None:
    s = infer_schema(reference()).features
    assert s["amount"].type is ValueType.FLOAT and s["amount"].nullable and s["amount"].max_missing_rate
    assert s["age"].type is ValueType.INT and (s["age"].min, s["age"].max) == (18, 89)
    assert s["flag"].type is ValueType.BOOL and s["binary"].type is ValueType.BOOL
    assert s["country"].type is ValueType.CATEGORICAL and set(s["country"].allowed or ()) >= {"FR", "DE"}
    assert s["comment"].type is ValueType.STRING and s["comment"].allowed is None
    assert s["maybe"].nullable and s["maybe"].allowed == ("a", "b")


def test_inferred_schema_accepts_its_reference_with_zero_violations_after_toml_round_trip() -> None:
    ref = reference()
    inferred = infer_schema(ref)
    back = roundtrip(inferred)
    assert back == inferred
    for schema in (inferred, back):
        res = validate_columns(schema, ref, 500)
        assert dict(res.counts) == {}
        assert missing_rate_breaches(schema, res.missing, 500) == {}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=False, width=64) | st.integers(-(2**53), 2**53).map(float),
        min_size=1,
        max_size=40,
    )
)
def test_round_trip_holds_for_arbitrary_finite_numeric_columns(values: list[float]) -> None:
    ref = {"x": np.asarray(values, dtype=np.float64)}
    back = roundtrip(infer_schema(ref))
    res = validate_columns(back, ref, len(values))
    assert dict(res.counts) == {}
    assert missing_rate_breaches(back, res.missing, len(values)) == {}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=12) | st.none(), min_size=1, max_size=30))
def test_round_trip_holds_for_arbitrary_text_columns(values: list[str | None]) -> None:
    ref = {"t": obj(values)}
    back = roundtrip(infer_schema(ref))
    res = validate_columns(back, ref, len(values))
    assert dict(res.counts) == {}


def test_config_fields_override_inferred_ones_and_keep_the_rest() -> None:
    inferred = Schema({"x": FeatureSchema("x", ValueType.FLOAT, min=0.0, max=1.0)})
    merged = merge_schemas(inferred, {"x": {"max": 5.0, "sensitive": True}, "y": {"type": "string"}})
    assert merged.features["x"] == FeatureSchema("x", ValueType.FLOAT, min=0.0, max=5.0, sensitive=True)
    assert merged.features["y"].type is ValueType.STRING


def test_schema_file_errors_name_the_path_inside_the_file() -> None:
    with pytest.raises(ConfigError) as info:
        schema_from_mapping({"features": {"a": {"type": "float", "max_missing_rate": 2}}}, "s.toml:")
    assert info.value.key == "s.toml:.features.a.max_missing_rate"
    with pytest.raises(ConfigError) as info:
        schema_from_mapping({"features": {"a": {"type": "categorical", "allowed": [[1]]}}})
    assert info.value.key == "schema.features.a.allowed[0]"


def test_written_toml_is_editable_text_with_every_feature() -> None:
    text = schema_to_toml(infer_schema(reference()), header="from test")
    assert text.startswith("# from test\n")
    assert '[features."feature with spaces.and.dots"]' in text
    assert 'type = "categorical"' in text and "allowed = [" in text
    assert math.isfinite(tomllib.loads(text)["features"]["amount"]["max"])
