"""Schema loading, inference from reference data and the TOML round trip."""

from __future__ import annotations

import math
import tomllib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.plugin import ConfigError
from plugins.validation.schema import (
    DEFAULT_TOLERANCE,
    FeatureSchema,
    Schema,
    ValueType,
    infer_schema,
    merge_schemas,
    schema_from_mapping,
    schema_to_toml,
    widened_bounds,
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
    assert s["age"].type is ValueType.INT and isinstance(s["age"].min, int) and isinstance(s["age"].max, int)
    assert s["age"].min == 0 and s["age"].max > 89  # widened; never seen negative, so never below 0
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


def test_pinned_bounds_with_zero_tolerance_are_the_observed_range() -> None:
    s = infer_schema(reference(), tolerance=0.0).features
    assert (s["age"].min, s["age"].max) == (18, 89)


def test_each_bound_moves_out_by_the_tolerance_times_its_distance_to_the_median() -> None:
    values = np.array([10.0, 20.0, 30.0, 40.0, 100.0])  # median 30: 20 below, 70 above
    assert widened_bounds(values, 2.0) == (0.0, 240.0)  # 10 - 2*20 would cross zero: clamped
    assert widened_bounds(values - 200.0, 2.0) == (-230.0, -0.0)  # never seen positive: max stays <= 0
    assert widened_bounds(values - 50.0, 1.0) == (-60.0, 120.0)  # both signs seen: no clamp
    assert widened_bounds(np.array([5.0, 5.0, 5.0, 7.0]), 1.0) == (3.0, 9.0)  # median on the min: range margin
    assert widened_bounds(np.array([3.0, 3.0]), 1.0) == (0.0, 6.0)  # constant: margin from the value
    assert widened_bounds(np.array([1e308, -1e308]), 2.0) == (-np.finfo(float).max, np.finfo(float).max)


SAMPLES = {
    "age": lambda rng, n: np.round(rng.normal(42, 12, size=n)).clip(0),
    "uniform_int": lambda rng, n: rng.integers(18, 90, size=n).astype(float),
    "normal": lambda rng, n: rng.normal(50, 10, size=n),
    "exponential": lambda rng, n: rng.exponential(3.0, size=n),
    "poisson": lambda rng, n: rng.poisson(4, size=n).astype(float),
    "signed": lambda rng, n: rng.normal(0, 1, size=n),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_second_sample_of_the_reference_distribution_passes_the_inferred_schema(name: str) -> None:
    rng = np.random.default_rng(sorted(SAMPLES).index(name))
    draw = SAMPLES[name]
    ref = draw(rng, 1000)
    fresh = draw(rng, 5000)
    res = validate_columns(roundtrip(infer_schema({"x": ref})), {"x": fresh}, len(fresh))
    assert dict(res.counts) == {}
    if name != "uniform_int":  # a bounded support is seen whole; the others' tails reach past a sample's extremes
        pinned = infer_schema({"x": ref}, tolerance=0.0)
        assert validate_columns(pinned, {"x": fresh}, len(fresh)).counts, "pinning the observed range fails"


def test_list_features_are_inferred_with_their_length() -> None:
    rng = np.random.default_rng(1)
    fixed = obj([rng.normal(size=3).tolist() for _ in range(50)] + [None])
    ragged = obj([[1], [1, 2], (1, 2, 3)])
    s = infer_schema({"fixed": fixed, "ragged": ragged, "matrix": np.zeros((3, 8))}).features
    assert (s["fixed"].type, s["fixed"].dim, s["fixed"].nullable) == (ValueType.LIST, 3, True)
    assert (s["ragged"].type, s["ragged"].dim) == (ValueType.LIST, None)
    assert (s["matrix"].type, s["matrix"].dim) == (ValueType.LIST, 8)
    back = roundtrip(infer_schema({"fixed": fixed}))
    assert back.features["fixed"] == s["fixed"]
    assert validate_columns(back, {"fixed": fixed}, 51).counts == {}


def test_inference_rejects_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        infer_schema({"x": np.arange(3.0)}, tolerance=-1.0)
    assert DEFAULT_TOLERANCE == 2.0


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
    with pytest.raises(ConfigError) as info:
        schema_from_mapping({"allow_unkown": True})
    assert info.value.key == "schema.allow_unkown" and "allow_unknown" in str(info.value)


def test_written_toml_is_editable_text_with_every_feature() -> None:
    text = schema_to_toml(infer_schema(reference()), header="from test")
    assert text.startswith("# from test\n")
    assert '[features."feature with spaces.and.dots"]' in text
    assert 'type = "categorical"' in text and "allowed = [" in text
    assert math.isfinite(tomllib.loads(text)["features"]["amount"]["max"])


def test_numeric_list_features_get_a_norm_range_by_the_numeric_tolerance_rule() -> None:
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(200, 8))
    norms = np.linalg.norm(vectors, axis=1)
    med = float(np.median(norms))
    s = infer_schema({"emb": obj(vectors.tolist()), "matrix": vectors, "tokens": obj([["a", "b"]] * 5)}).features
    expected_max = norms.max() + DEFAULT_TOLERANCE * (norms.max() - med)
    expected_min = max(0.0, norms.min() - DEFAULT_TOLERANCE * (med - norms.min()))
    assert s["emb"].norm_max == pytest.approx(expected_max) and s["emb"].norm_min == pytest.approx(expected_min)
    assert (s["matrix"].norm_min, s["matrix"].norm_max) == (s["emb"].norm_min, s["emb"].norm_max)
    assert (s["tokens"].dim, s["tokens"].norm_min, s["tokens"].norm_max) == (2, None, None)
    pinned = infer_schema({"emb": vectors}, tolerance=0.0).features["emb"]
    assert (pinned.norm_min, pinned.norm_max) == pytest.approx((norms.min(), norms.max()))
    assert roundtrip(infer_schema({"emb": obj(vectors.tolist())})).features["emb"] == s["emb"]
