"""OpenInference span attributes: names equal the convention package's, set only when asked, redacted, capped.

A real Arize Phoenix server is used when ``PHOENIX_PYTHON`` names the Python of an
environment where ``arize-phoenix`` is installed (it is too large for the test extra):
the spans are sent to it over OTLP and read back through its REST API.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openinference.semconv.trace import (
    EmbeddingAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    SpanAttributes,
)

import agent
from agent import _openinference as oi
from agent._capture import hash_value
from agent._config import MODEL_KEYS
from agent._types import ModelInfo
from agent.testing import capture_telemetry
from tests.support.phoenix import needs_phoenix, phoenix_server


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenInference attributes on for every model (the global default)."""
    monkeypatch.setenv(oi.ENV_OPENINFERENCE, "1")


def _attrs(tel: Any) -> dict[str, Any]:
    tel.flush()
    (span,) = tel.spans()
    return dict(span.attributes or {})


def test_attribute_names_equal_the_openinference_convention_constants() -> None:
    ours = (oi.SPAN_KIND, oi.INPUT_VALUE, oi.INPUT_MIME_TYPE, oi.OUTPUT_VALUE, oi.OUTPUT_MIME_TYPE, oi.METADATA,
            oi.LLM_MODEL_NAME, oi.EMBEDDING_MODEL_NAME, oi.EMBEDDING_EMBEDDINGS, oi.EMBEDDING_VECTOR,
            oi.EMBEDDING_TEXT, oi.KIND_CHAIN, oi.KIND_LLM, oi.KIND_EMBEDDING, oi.MIME_JSON, oi.MIME_TEXT)
    theirs = (SpanAttributes.OPENINFERENCE_SPAN_KIND, SpanAttributes.INPUT_VALUE, SpanAttributes.INPUT_MIME_TYPE,
              SpanAttributes.OUTPUT_VALUE, SpanAttributes.OUTPUT_MIME_TYPE, SpanAttributes.METADATA,
              SpanAttributes.LLM_MODEL_NAME, SpanAttributes.EMBEDDING_MODEL_NAME, SpanAttributes.EMBEDDING_EMBEDDINGS,
              EmbeddingAttributes.EMBEDDING_VECTOR, EmbeddingAttributes.EMBEDDING_TEXT,
              OpenInferenceSpanKindValues.CHAIN.value, OpenInferenceSpanKindValues.LLM.value,
              OpenInferenceSpanKindValues.EMBEDDING.value, OpenInferenceMimeTypeValues.JSON.value,
              OpenInferenceMimeTypeValues.TEXT.value)
    assert ours == theirs


def test_off_by_default_the_span_has_no_openinference_attribute() -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="m", capture=True)
        def predict(x: dict[str, float]) -> float:
            return x["a"]

        predict({"a": 1.0})
        attrs = _attrs(tel)
    assert not [k for k in attrs if not k.startswith(("ml.", "error."))]


def test_a_captured_call_shows_kind_input_and_output_as_json(on: None) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="churn", version="2", task="classification", capture=True)
        def predict(x: dict[str, float]) -> dict[str, float]:
            return {"score": 0.25, "label": 0.0}

        predict({"tenure": 3.0, "usage": 1.5})
        attrs = _attrs(tel)
    assert attrs[SpanAttributes.OPENINFERENCE_SPAN_KIND] == "CHAIN"
    assert json.loads(attrs[SpanAttributes.INPUT_VALUE]) == {"tenure": 3.0, "usage": 1.5}
    assert attrs[SpanAttributes.INPUT_MIME_TYPE] == "application/json"
    assert json.loads(attrs[SpanAttributes.OUTPUT_VALUE]) == {"score": 0.25, "label": 0.0}
    assert attrs[SpanAttributes.OUTPUT_MIME_TYPE] == "application/json"
    assert json.loads(attrs[SpanAttributes.METADATA]) == {
        "ml.model.name": "churn", "ml.model.version": "2", "ml.task": "classification"}
    assert attrs["ml.model.name"] == "churn"  # the agent's own attributes stay


def test_without_capture_only_the_span_kind_is_added(on: None) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="m", capture=False)
        def predict(x: dict[str, float]) -> float:
            return 1.0

        predict({"secret": 42.0})
        attrs = _attrs(tel)
    assert attrs[SpanAttributes.OPENINFERENCE_SPAN_KIND] == "CHAIN"
    assert SpanAttributes.INPUT_VALUE not in attrs and SpanAttributes.OUTPUT_VALUE not in attrs


def test_redacted_fields_never_appear_in_any_span_attribute(on: None) -> None:
    models = {"kyc": {"capture": True, "redact_drop": ["ssn"], "redact_hash": ["email"],
                      "redact_hash_secret": "pepper"}}
    with capture_telemetry(models=models) as tel:

        @agent.monitor(model="kyc")
        def predict(x: dict[str, Any]) -> dict[str, Any]:
            return {"score": 0.9, "ssn": x["ssn"], "email": x["email"]}

        predict({"ssn": "123-45-6789", "email": "ann@example.com", "age": 41})
        attrs = _attrs(tel)
    everything = json.dumps({k: str(v) for k, v in attrs.items()})
    assert "123-45-6789" not in everything and "ann@example.com" not in everything
    shown_in = json.loads(attrs[SpanAttributes.INPUT_VALUE])
    shown_out = json.loads(attrs[SpanAttributes.OUTPUT_VALUE])
    assert shown_in == {"email": hash_value("ann@example.com", "pepper"), "age": 41}
    assert shown_out == {"score": 0.9, "email": hash_value("ann@example.com", "pepper")}


def test_an_unnamed_array_of_a_redacting_model_is_not_shown(on: None) -> None:
    models = {"m": {"capture": True, "redact_drop": ["ssn"]}}
    with capture_telemetry(models=models) as tel:

        @agent.monitor(model="m")
        def predict(x: np.ndarray) -> np.ndarray:
            return x.sum(axis=1)

        predict(np.array([[123456789.0, 2.0], [987654321.0, 3.0]]))
        attrs = _attrs(tel)
    assert SpanAttributes.INPUT_VALUE not in attrs  # its columns cannot be matched to names
    assert json.loads(attrs[SpanAttributes.OUTPUT_VALUE]) == [123456791.0, 987654324.0]


def test_a_named_array_of_a_redacting_model_is_shown_without_the_dropped_column(on: None) -> None:
    models = {"m": {"capture": True, "redact_drop": ["ssn"], "feature_names": ["ssn", "income"]}}
    with capture_telemetry(models=models) as tel:

        @agent.monitor(model="m")
        def predict(x: np.ndarray) -> np.ndarray:
            return x[:, 1]

        predict(np.array([[123456789.0, 2.0], [987654321.0, 3.0]]))
        attrs = _attrs(tel)
    assert json.loads(attrs[SpanAttributes.INPUT_VALUE]) == [{"income": 2.0}, {"income": 3.0}]


def test_a_large_batch_shows_its_first_rows_and_its_size(on: None) -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: np.ndarray) -> np.ndarray:
            return x[:, 0]

        predict(np.arange(600.0).reshape(300, 2))
        attrs = _attrs(tel)
    shown = json.loads(attrs[SpanAttributes.INPUT_VALUE])
    assert shown["rows"] == 300 and shown["head"] == np.arange(16.0).reshape(8, 2).tolist()
    out = json.loads(attrs[SpanAttributes.OUTPUT_VALUE])
    assert out["rows"] == 300 and len(out["head"]) == oi.MAX_ROWS


def test_values_are_capped_and_a_cut_value_is_marked_as_text(on: None) -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(x: dict[str, str]) -> str:
            return "y" * 100_000

        predict({"doc": "x" * 100_000})
        attrs = _attrs(tel)
    for key in (SpanAttributes.INPUT_VALUE, SpanAttributes.OUTPUT_VALUE):
        assert len(attrs[key]) == oi.MAX_VALUE_CHARS and attrs[key].endswith("…[truncated]")
    assert attrs[SpanAttributes.INPUT_MIME_TYPE] == "text/plain"
    assert attrs[SpanAttributes.OUTPUT_MIME_TYPE] == "text/plain"


def test_a_generation_model_is_an_llm_span_with_text_input_and_output(on: None) -> None:
    with capture_telemetry(models={"writer": {"capture": True}}) as tel:

        @agent.monitor(model="writer", task="generation")
        def generate(prompt: str) -> str:
            return prompt.upper()

        generate("hello there")
        attrs = _attrs(tel)
    assert attrs[SpanAttributes.OPENINFERENCE_SPAN_KIND] == "LLM"
    assert attrs[SpanAttributes.LLM_MODEL_NAME] == "writer"
    assert attrs[SpanAttributes.INPUT_VALUE] == "hello there"
    assert attrs[SpanAttributes.INPUT_MIME_TYPE] == "text/plain"
    assert attrs[SpanAttributes.OUTPUT_VALUE] == "HELLO THERE"


def test_an_embedding_model_carries_its_vectors_and_texts(on: None) -> None:
    with capture_telemetry(models={"embed": {"capture": True}}) as tel:

        @agent.monitor(model="embed", task="embedding")
        def embed(texts: list[str]) -> np.ndarray:
            return np.array([[len(t), 1.0, 0.5] for t in texts])

        embed(["a", "bb"])
        attrs = _attrs(tel)
    assert attrs[SpanAttributes.OPENINFERENCE_SPAN_KIND] == "EMBEDDING"
    assert attrs[SpanAttributes.EMBEDDING_MODEL_NAME] == "embed"
    for i, text in enumerate(["a", "bb"]):
        prefix = f"{SpanAttributes.EMBEDDING_EMBEDDINGS}.{i}."
        assert list(attrs[prefix + EmbeddingAttributes.EMBEDDING_VECTOR]) == [float(len(text)), 1.0, 0.5]
        assert attrs[prefix + EmbeddingAttributes.EMBEDDING_TEXT] == text


def test_the_model_option_wins_over_the_environment_default() -> None:
    env_on, env_off = {oi.ENV_OPENINFERENCE: "true"}, {oi.ENV_OPENINFERENCE: "0"}
    assert oi.enabled(ModelInfo("m"), env_on)
    assert not oi.enabled(ModelInfo("m"), env_off)
    assert not oi.enabled(ModelInfo("m"), {})
    assert not oi.enabled(ModelInfo("m", options={"openinference": False}), env_on)
    assert oi.enabled(ModelInfo("m", options={"openinference": True}), env_off)
    assert oi.call_writer(ModelInfo("m", capture=False, options={"openinference": True})) is None


@pytest.mark.skipif("openinference" not in MODEL_KEYS, reason="[models.NAME] openinference is not in the schema yet")
def test_the_per_model_config_option_turns_it_on_for_that_model_only() -> None:
    models = {"on": {"capture": True, "openinference": True}, "off": {"capture": True}}
    with capture_telemetry(models=models) as tel:

        @agent.monitor(model="on")
        def first(x: dict[str, float]) -> float:
            return 1.0

        @agent.monitor(model="off")
        def second(x: dict[str, float]) -> float:
            return 2.0

        first({"a": 1.0})
        second({"a": 1.0})
        tel.flush()
        spans = {s.name: dict(s.attributes or {}) for s in tel.spans()}
    assert spans["predict on"][SpanAttributes.OPENINFERENCE_SPAN_KIND] == "CHAIN"
    assert SpanAttributes.OPENINFERENCE_SPAN_KIND not in spans["predict off"]


# -- a real Phoenix server (optional) -----------------------------------------------------

@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    """A Phoenix server on 127.0.0.1 (its own working directory); yields its base URL."""
    with phoenix_server(tmp_path) as base:
        yield base


@needs_phoenix
def test_phoenix_shows_kind_input_and_output_and_never_a_redacted_field(
        phoenix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(oi.ENV_OPENINFERENCE, "1")
    agent.init(
        exporter={"type": "otlp", "endpoint": phoenix, "protocol": "http/protobuf",  # Phoenix takes traces only
                  "signals": {"metrics": {"type": "none"}, "logs": {"type": "none"}}},
        agent={"data_dir": str(tmp_path / "data"), "stderr_level": "off"},
        plugins={"enabled": [], "entry_points": False},
        models={"kyc": {"capture": True, "redact_drop": ["ssn"]}},
        service={"name": "infersight-phoenix-test"},
    )

    @agent.monitor(model="kyc", task="classification")
    def predict(x: dict[str, Any]) -> dict[str, float]:
        return {"score": 0.75}

    predict({"ssn": "123-45-6789", "age": 41})
    assert agent.flush(30)
    agent.shutdown()
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not spans:  # Phoenix ingests asynchronously
        with urllib.request.urlopen(f"{phoenix}/v1/projects/default/spans?limit=10", timeout=10) as resp:
            spans = json.load(resp).get("data", [])
        if not spans:
            assert time.monotonic() < deadline, "phoenix never showed the span"
            time.sleep(0.5)
    (span,) = spans
    attrs = span["attributes"]
    flat = json.dumps(span)
    assert span["span_kind"] == "CHAIN"  # Phoenix reads openinference.span.kind into the span's kind
    assert span["name"] == "predict kyc" and attrs["ml.model.name"] == "kyc"
    assert json.loads(attrs["input.value"]) == {"age": 41}
    assert json.loads(attrs["output.value"]) == {"score": 0.75}
    assert "123-45-6789" not in flat
