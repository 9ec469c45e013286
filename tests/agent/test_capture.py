"""Normalisation of captured calls into RecordBatches, redaction, and unprocessable inputs."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import numpy as np
import pytest

import agent
from agent._capture import Capture, build_batch
from agent._types import FeedbackEvent, ModelInfo, RecordBatch
from agent.testing import capture_telemetry

MODEL = ModelInfo(name="m", capture=True, options={"capture_outputs": True})


def cap(inputs: Any, output: Any, pid: str = "p1", model: ModelInfo = MODEL) -> Capture:
    return Capture(model, pid, 1.0, inputs, output, 1, 2)


def test_mappings_become_named_numeric_columns() -> None:
    batch, bad = build_batch([cap({"a": 1, "b": 2.5}, 0.1), cap({"a": 3, "b": 4.0}, 0.2, "p2")])
    assert bad == {}
    assert batch is not None
    assert batch.columns["a"].dtype == np.float64
    assert batch.columns["b"].tolist() == [2.5, 4.0]
    assert batch.prediction_ids == ("p1", "p2")
    assert batch.outputs is not None and batch.outputs.tolist() == [0.1, 0.2]


def test_missing_features_and_mixed_types_give_object_columns() -> None:
    batch, _ = build_batch([cap({"a": 1.0, "c": "x"}, 0), cap({"a": "oops"}, 1, "p2")])
    assert batch is not None
    assert batch.columns["a"].dtype == object
    assert batch.columns["a"].tolist() == [1.0, "oops"]
    assert batch.columns["c"].tolist() == ["x", None]


def test_two_dimensional_arrays_are_batches_with_feature_names() -> None:
    info = ModelInfo(name="m", capture=True, feature_names=("x", "y"), options={})
    batch, _ = build_batch([cap(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]), model=info)])
    assert batch is not None
    assert batch.columns["y"].tolist() == [1.0, 3.0, 5.0]
    assert batch.row_index.tolist() == [0, 1, 2]
    assert batch.prediction_ids == ("p1", "p1", "p1")


def test_probability_vectors_stack_into_a_matrix() -> None:
    batch, _ = build_batch([cap({"a": 1.0}, np.array([0.2, 0.8])), cap({"a": 2.0}, np.array([0.6, 0.4]), "p2")])
    assert batch is not None and batch.outputs is not None
    assert batch.outputs.shape == (2, 2)


@pytest.mark.parametrize(
    ("inputs", "output", "reason"),
    [
        (object(), 1, "inputs of type object"),
        (np.zeros((2, 2, 2)), 1, "array with 3 dimensions"),
        ([[1, 2], [3]], [1, 2], "rows of different lengths in one batch"),
        ([{"a": 1}, {"a": 2}], [1, 2, 3], "batch of 2 rows but output"),
    ],
)
def test_unusable_shapes_are_counted_not_raised(inputs: Any, output: Any, reason: str) -> None:
    batch, bad = build_batch([cap(inputs, output)])
    assert batch is None
    assert list(bad) == [reason]


def test_redaction_drops_and_hashes_named_features() -> None:
    info = ModelInfo(name="m", capture=True, options={"redact_drop": ["email"], "redact_hash": ["user"]})
    batch, _ = build_batch([cap({"email": "a@b.c", "user": "u1", "x": 1.0}, 0, model=info)])
    assert batch is not None
    assert "email" not in batch.columns
    assert batch.columns["user"].tolist() == [hashlib.sha256(b"u1").hexdigest()[:16]]


def test_redaction_applies_through_the_decorator() -> None:
    models = {"m": {"capture": True, "redact_drop": ["ssn"], "redact_hash": ["name"]}}
    with capture_telemetry(models=models) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, Any]) -> int:
            return 1

        predict({"ssn": "123-45-6789", "name": "Ada", "age": 36})
        tel.flush()
        batch = tel.records[0][1]
    assert sorted(batch.columns) == ["age", "name"]
    assert "Ada" not in batch.columns["name"].tolist()


def test_capture_is_opt_in_and_sampled() -> None:
    with capture_telemetry(models={"sampled": {"capture": True, "sample_rate": 0.0}}) as tel:

        @agent.monitor(model="plain")
        def plain(x: dict[str, float]) -> int:
            return 1

        @agent.monitor(model="sampled")
        def sampled(x: dict[str, float]) -> int:
            return 1

        for _ in range(10):
            plain({"a": 1.0})
            sampled({"a": 1.0})
        tel.flush()
        assert tel.records == []


def test_caller_mutating_its_dict_after_the_call_does_not_change_the_capture() -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, float]) -> int:
            return 1

        features = {"a": 1.0}
        predict(features)
        features["a"] = 99.0
        tel.flush()
        assert tel.records[0][1].columns["a"].tolist() == [1.0]


def test_unprocessable_inputs_are_counted_in_a_metric() -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: Any) -> int:
            return 1

        predict(object())
        predict({"a": 1.0})
        tel.flush()
        points = tel.metric_points("ml.agent.unprocessable")
        assert len(tel.records) == 1
    assert [(p.value, p.attributes["reason"]) for p in points] == [(1.0, "inputs of type object")]


def test_redact_hash_with_a_secret_is_an_hmac_that_a_dictionary_attack_cannot_reverse() -> None:
    info = ModelInfo(name="m", capture=True, options={"redact_hash": ["user"], "redact_hash_secret": "k3y"})
    batch, _ = build_batch([cap({"user": "u1", "x": 1.0}, 0, model=info)])
    assert batch is not None
    pseudonym = batch.columns["user"].tolist()[0]
    assert pseudonym == hmac.new(b"k3y", b"u1", hashlib.sha256).hexdigest()[:16]
    assert pseudonym != hashlib.sha256(b"u1").hexdigest()[:16]


def test_redaction_applies_to_reference_data_outputs_and_feedback_attributes() -> None:
    models = {"m": {"capture": True, "redact_drop": ["email"], "redact_hash": ["user"],
                    "redact_hash_secret": "k3y"}}
    with capture_telemetry(models=models) as tel:
        running = tel.agent
        assert running is not None
        references: list[RecordBatch] = []

        class Reference:
            def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
                references.append(records)

        agent.register_plugin(Reference())
        agent.set_reference("m", [{"email": "user0@example.com", "user": "user0", "x": 1.0}] * 3)

        @agent.monitor(model="m")
        def predict(x: dict[str, Any]) -> dict[str, Any]:
            return {"score": 0.5, "email": x["email"], "user": x["user"]}

        predict({"email": "ada@example.com", "user": "ada", "x": 2.0})
        event = running.log_feedback(FeedbackEvent("e1", "p1", "label", 1, model="m",
                                                   attributes={"email": "ada@example.com", "user": "ada"}))
        assert tel.flush()
        batch = tel.records[0][1]
    ref = references[0]
    assert "email" not in ref.columns and "user0" not in ref.columns["user"].tolist()
    out = batch.outputs[0]
    assert "email" not in out and out["user"] != "ada" and out["score"] == 0.5
    assert "email" not in event.attributes and event.attributes["user"] != "ada"
    assert "example.com" not in repr(tel.events())


def test_reference_outputs_reach_plugins_with_the_reference_rows() -> None:
    got: list[RecordBatch] = []

    class Reference:
        def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
            got.append(records)

    with capture_telemetry(register=[("ref", Reference())]) as tel:
        agent.set_reference("m", np.arange(6.0).reshape(3, 2), outputs=np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]))
        with pytest.raises(ValueError, match="outputs"):
            agent.set_reference("m", np.arange(6.0).reshape(3, 2), outputs=[0.1, 0.2])
        assert tel.flush()
    (batch,) = got
    assert batch.outputs is not None and batch.outputs.shape == (3, 2) and len(batch) == 3


def test_a_dict_of_columns_is_rows_and_a_two_d_column_one_vector_per_row() -> None:
    got: list[RecordBatch] = []

    class Reference:
        def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
            got.append(records)

    with capture_telemetry(register=[("ref", Reference())]) as tel:
        agent.set_reference("m", {"a": [1.0, 2.0, 3.0], "city": ["x", "y", "x"]})  # lists: columns, not one row
        agent.set_reference("m", {"a": np.ones(2), "emb": np.arange(6.0).reshape(2, 3), "tok": [[1, 2], [3, 4]]})
        assert tel.flush()
    first, second = got
    assert len(first) == 3 and first.columns["a"].tolist() == [1.0, 2.0, 3.0]
    assert len(second) == 2 and second.columns["emb"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert second.columns["tok"].tolist() == [[1, 2], [3, 4]]  # a square block stays one list per row


def test_huge_ints_and_missing_batch_outputs_do_not_lose_rows() -> None:
    info = ModelInfo(name="m", capture=True)
    caps = [cap({"x": 10**400, "y": 1.0}, 0.5, model=info), cap({"x": 2, "y": 1.0}, 0.5, model=info),
            cap([{"x": 1}, {"x": 2}], None, model=info)]
    batch, bad = build_batch(caps)
    assert batch is not None and len(batch) == 4 and bad == {}
