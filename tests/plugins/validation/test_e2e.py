"""Through the decorator and the worker: captured rows reach the validation plugin, telemetry comes out.

Uses ``agent.testing.capture_telemetry`` (the real agent with in-memory exporters).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent
from agent.testing import CapturedTelemetry, capture_telemetry
from plugins.validation import names

FEATURES: dict[str, Any] = {
    "amount": {"type": "float", "min": 0, "max": 100},
    "age": {"type": "int"},
    "country": {"type": "categorical", "allowed": ["FR", "DE"]},
    "email": {"type": "string", "regex": "[^@]+@[^@]+", "sensitive": True},
}
GOOD = {"amount": 10.0, "age": 30, "country": "FR", "email": "a@b"}


def run(rows: list[dict[str, Any]]) -> tuple[CapturedTelemetry, list[Any]]:
    """Predict each row through a monitored function; return the telemetry and the results."""
    with capture_telemetry(
        plugins={"enabled": ["validation"], "entry_points": False},
        validation={"window_seconds": 0, "models": {"shop": {"features": FEATURES}}},
    ) as tel:

        @agent.monitor(model="shop", task="classification", capture=True)
        def predict(row: Any) -> Any:
            return ("result", id(row))

        results = [(predict(r), ("result", id(r))) for r in rows]
        tel.flush()
        tel.flush()  # a second pass closes the window opened by the first
        return tel, results


@pytest.mark.parametrize(
    ("row", "feature", "kind", "example"),
    [
        ({k: v for k, v in GOOD.items() if k != "age"}, "age", "missing_feature", None),
        ({**GOOD, "extra": "x"}, "extra", "unknown_feature", "x"),
        ({**GOOD, "amount": "ten"}, "amount", "type_mismatch", "ten"),
        ({**GOOD, "amount": None}, "amount", "null", None),
        ({**GOOD, "amount": -1.0}, "amount", "below_min", -1.0),
        ({**GOOD, "amount": 1000.0}, "amount", "above_max", 1000.0),
        ({**GOOD, "country": "IT"}, "country", "not_allowed", "IT"),
        ({**GOOD, "email": "nope"}, "email", "regex_mismatch", "<redacted>"),
        ({**GOOD, "amount": float("inf")}, "amount", "non_finite", "inf"),
    ],
)
def test_violation_in_a_captured_row_reaches_metrics_and_log_events(
    row: dict[str, Any], feature: str, kind: str, example: Any
) -> None:
    tel, results = run([row])
    assert all(got == want for got, want in results)
    points = [p for p in tel.metric_points(names.VIOLATIONS) if p.attributes[names.ATTR_KIND] == kind]
    assert [(p.attributes[names.ATTR_FEATURE], p.attributes[names.ATTR_MODEL], p.value) for p in points] == [
        (feature, "shop", 1)
    ]
    assert sum(p.value or 0 for p in tel.metric_points(names.ROWS)) == 1
    events = [e for e in tel.events(names.EVENT_VIOLATION) if e["kind"] == kind]
    assert [(e["feature"], e["count"]) for e in events] == [(feature, 1)]
    if example is not None:
        assert str(example) in str(events[0]["examples"])
    assert any(s.name == names.SIGNAL_VIOLATION_RATE and s.labels["kind"] == kind for s in tel.signals)


values = st.one_of(
    st.none(),
    st.floats(),
    st.integers(),
    st.text(max_size=6),
    st.just("w" * 100_000),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
rows = st.one_of(
    st.dictionaries(st.sampled_from([*FEATURES, "extra"]), values, max_size=5),
    st.lists(values, max_size=3),
    values,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, min_size=1, max_size=4))
def test_arbitrary_inputs_through_the_decorator_return_unchanged_and_never_raise(inputs: list[Any]) -> None:
    tel, results = run(inputs)
    assert all(got == want for got, want in results)
    validated = sum(p.value or 0 for p in tel.metric_points(names.ROWS))
    refused = sum(p.value or 0 for p in tel.metric_points(names.UNPROCESSABLE))
    delivered = sum(len(batch) for model, batch in tel.records if model.name == "shop")
    assert validated + refused == delivered
    assert not tel.events(names.EVENT_ERROR)


def test_outliers_and_missing_rate_from_reference_data_through_the_worker() -> None:
    rng = np.random.default_rng(5)
    reference = [{"x": float(v), "tag": "a" if i % 10 else None} for i, v in enumerate(rng.normal(size=1000))]
    with capture_telemetry(
        plugins={"enabled": ["validation"], "entry_points": False}, validation={"window_seconds": 0}
    ) as tel:

        @agent.monitor(model="ref", task="regression", capture=True)
        def predict(row: Any) -> float:
            return 0.0

        agent.set_reference("ref", reference)
        tel.flush()
        for i in range(20):
            predict({"x": 50.0 if i < 4 else 0.1, "tag": None})
        tel.flush()
        tel.flush()
    kinds = {p.attributes[names.ATTR_KIND]: p.value for p in tel.metric_points(names.VIOLATIONS)}
    assert kinds["outlier"] == 4 and kinds["missing_rate"] == 1
    [rate] = tel.metric_points(names.OUTLIER_RATE)
    assert rate.value == pytest.approx(4 / 20)
    assert {s.name for s in tel.signals} >= {names.SIGNAL_OUTLIER_RATE, names.SIGNAL_VIOLATION_RATE}
