"""Each violation kind, from a captured row through the decorator and worker to a loopback OTLP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import agent
from plugins.validation import names
from tests.support.otlp import OTLPHttpReceiver

FEATURES: dict[str, Any] = {
    "amount": {"type": "float", "min": 0, "max": 100},
    "age": {"type": "int"},
    "country": {"type": "categorical", "allowed": ["FR", "DE"]},
    "email": {"type": "string", "regex": "[^@]+@[^@]+", "sensitive": True},
}
GOOD = {"amount": 10.0, "age": 30, "country": "FR", "email": "a@b"}

CASES = [
    ({k: v for k, v in GOOD.items() if k != "age"}, "age", "missing_feature"),
    ({**GOOD, "extra": "x"}, "extra", "unknown_feature"),
    ({**GOOD, "amount": "ten"}, "amount", "type_mismatch"),
    ({**GOOD, "amount": None}, "amount", "null"),
    ({**GOOD, "amount": -1.0}, "amount", "below_min"),
    ({**GOOD, "amount": 1000.0}, "amount", "above_max"),
    ({**GOOD, "country": "IT"}, "country", "not_allowed"),
    ({**GOOD, "email": "nope"}, "email", "regex_mismatch"),
    ({**GOOD, "amount": float("inf")}, "amount", "non_finite"),
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPHttpReceiver]:
    with OTLPHttpReceiver() as rx:
        yield rx


@pytest.mark.parametrize(("row", "feature", "kind"), CASES)
def test_violation_kind_arrives_at_the_otlp_receiver(
    receiver: OTLPHttpReceiver, tmp_path: Path, row: dict[str, Any], feature: str, kind: str
) -> None:
    receiver.clear()
    agent.init(
        exporter={"type": "otlp", "endpoint": receiver.endpoint, "protocol": "http/protobuf", "timeout": 5},
        agent={"data_dir": str(tmp_path), "stderr_level": "off"},
        plugins={"enabled": ["validation"], "entry_points": False},
        validation={"window": {"type": "count", "size": 1}, "models": {"shop": {"features": FEATURES}}},
    )

    @agent.monitor(model="shop", task="classification", capture=True)
    def predict(features: dict[str, Any]) -> str:
        return "ok"

    assert predict(row) == "ok"
    agent.flush()  # the row closes its one-row window
    agent.shutdown()  # final metric export

    points = receiver.wait_for(
        lambda: [p for p in receiver.metric_points(names.VIOLATIONS) if p.attributes[names.ATTR_KIND] == kind]
    )
    assert {(p.attributes[names.ATTR_FEATURE], p.attributes[names.ATTR_MODEL], p.value) for p in points} == {
        (feature, "shop", 1)
    }
    events = receiver.wait_for(
        lambda: [
            r for r in receiver.log_records()
            if r.event_name == names.EVENT_VIOLATION and r.attributes.get(names.ATTR_KIND) == kind
        ]
    )
    assert events[0].attributes[names.ATTR_FEATURE] == feature
    assert events[0].attributes[names.ATTR_MODEL] == "shop"
    assert events[0].attributes[names.ATTR_COUNT] == 1
    assert events[0].severity_text == "INFO"  # a finding about the data: exported, not printed on stderr


def test_outlier_and_missing_rate_arrive_at_the_otlp_receiver(receiver: OTLPHttpReceiver, tmp_path: Path) -> None:
    receiver.clear()
    rng = np.random.default_rng(5)
    reference = [{"x": float(v), "tag": "a" if i % 10 else None} for i, v in enumerate(rng.normal(size=1000))]
    agent.init(
        exporter={"type": "otlp", "endpoint": receiver.endpoint, "protocol": "http/protobuf", "timeout": 5},
        agent={"data_dir": str(tmp_path), "stderr_level": "off"},
        plugins={"enabled": ["validation"], "entry_points": False},
        validation={"window": {"type": "count", "size": 20}},
    )

    @agent.monitor(model="ref", task="regression", capture=True)
    def predict(row: dict[str, Any]) -> float:
        return 0.0

    agent.set_reference("ref", reference)
    agent.flush()
    for i in range(20):
        assert predict({"x": 50.0 if i < 4 else 0.1, "tag": None}) == 0.0
    agent.flush()
    agent.shutdown()

    def kinds() -> dict[str, float]:
        return {p.attributes[names.ATTR_KIND]: float(p.value or 0) for p in receiver.metric_points(names.VIOLATIONS)}

    def both() -> dict[str, float] | None:
        got = kinds()
        return got if {"outlier", "missing_rate"} <= set(got) else None

    got = receiver.wait_for(both)
    assert got is not None and got["outlier"] == 4 and got["missing_rate"] == 1
    rates = receiver.wait_for(lambda: receiver.metric_points(names.OUTLIER_RATE))
    assert rates[-1].value == pytest.approx(4 / 20)
    events = {
        r.attributes.get(names.ATTR_KIND) for r in receiver.log_records() if r.event_name == names.EVENT_VIOLATION
    }
    assert {"outlier", "missing_rate"} <= events
