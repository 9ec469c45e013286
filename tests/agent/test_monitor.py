"""The decorator and ``observe``: spans, ids, exceptions, streams, context handling, batch sizes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

import agent
from agent.testing import capture_telemetry


@pytest.fixture
def detach_errors(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    return caplog


def assert_no_detach_errors(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if "Failed to detach context" in r.getMessage()]


def test_sync_call_gives_one_span_with_model_attributes() -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="fraud", version="3.2", task="classification")
        def predict(features: dict[str, float]) -> float:
            return features["x"] * 2

        assert predict({"x": 2.0}) == 4.0
        tel.flush()
        (span,) = tel.spans()
    assert span.name == "predict fraud"
    assert span.kind is SpanKind.INTERNAL
    attrs = dict(span.attributes or {})
    assert attrs["ml.model.name"] == "fraud"
    assert attrs["ml.model.version"] == "3.2"
    assert attrs["ml.task"] == "classification"
    assert attrs["ml.batch.size"] == 1
    assert len(str(attrs["ml.prediction.id"])) == 32


def test_prediction_id_is_readable_inside_the_call_and_unique() -> None:
    seen: list[str | None] = []
    with capture_telemetry() as tel:

        @agent.monitor(model="m")
        def predict(x: int) -> int:
            seen.append(agent.current_prediction_id())
            return x

        for i in range(5):
            predict(i)
        tel.flush()
        ids = [s.attributes["ml.prediction.id"] for s in tel.spans()]  # type: ignore[index]
    assert agent.current_prediction_id() is None
    assert seen == ids
    assert len(set(ids)) == 5


def test_prediction_id_callable_supplies_the_id() -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="m", prediction_id=lambda req: req["request_id"])
        def predict(req: dict[str, Any]) -> str | None:
            return agent.current_prediction_id()

        assert predict({"request_id": "req-42", "x": 1}) == "req-42"
        tel.flush()
        assert tel.spans()[0].attributes["ml.prediction.id"] == "req-42"  # type: ignore[index]


def test_exception_reaches_the_caller_unchanged_and_is_recorded() -> None:
    error = ValueError("bad input")
    with capture_telemetry() as tel:

        @agent.monitor(model="m", version="1")
        def predict(x: int) -> int:
            raise error

        with pytest.raises(ValueError) as info:
            predict(1)
        tel.flush()
        (span,) = tel.spans()
        errors = tel.metric_points("ml.inference.errors")
    assert info.value is error
    assert info.value.__traceback__ is not None
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "predict"  # the original raise site is still the innermost frame
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"  # type: ignore[index]
    assert [e.name for e in span.events] == ["exception"]
    assert [(p.value, p.attributes["error.type"]) for p in errors] == [(1.0, "ValueError")]


def test_async_function_is_awaited_inside_the_span() -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="m")
        async def predict(x: int) -> str | None:
            await asyncio.sleep(0)
            return agent.current_prediction_id()

        pid = asyncio.run(predict(1))
        tel.flush()
        (span,) = tel.spans()
    assert span.attributes["ml.prediction.id"] == pid  # type: ignore[index]
    assert span.end_time is not None and span.start_time is not None


def test_methods_are_monitored_and_inputs_skip_self() -> None:
    class Model:
        @agent.monitor(model="m", capture=True)
        def predict(self, features: dict[str, float]) -> float:
            return features["a"]

    with capture_telemetry() as tel:
        assert Model().predict({"a": 3.0}) == 3.0
        tel.flush()
        records = tel.records
    assert list(records[0][1].columns) == ["a"]


def test_generator_span_covers_the_whole_stream(detach_errors: pytest.LogCaptureFixture) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="llm")
        def stream(prompt: str) -> Any:
            for token in prompt.split():
                yield token, agent.current_prediction_id()

        out = list(stream("a b c"))
        assert agent.current_prediction_id() is None  # not leaked to the consumer between steps
        tel.flush()
        (span,) = tel.spans()
    assert [t for t, _ in out] == ["a", "b", "c"]
    assert {pid for _, pid in out} == {span.attributes["ml.prediction.id"]}  # type: ignore[index]
    assert span.attributes["ml.stream.chunks"] == 3  # type: ignore[index]
    assert_no_detach_errors(detach_errors)


def test_generator_send_throw_and_early_close(detach_errors: pytest.LogCaptureFixture) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="llm")
        def echo() -> Any:
            received = yield "ready"
            while True:
                try:
                    received = yield f"got {received}"
                except KeyError:
                    received = "recovered"

        gen = echo()
        assert next(gen) == "ready"
        assert gen.send(1) == "got 1"
        assert gen.throw(KeyError("k")) == "got recovered"
        gen.close()
        tel.flush()
        (span,) = tel.spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["ml.stream.chunks"] == 3  # type: ignore[index]
    assert_no_detach_errors(detach_errors)


def test_generator_error_mid_stream_is_recorded(detach_errors: pytest.LogCaptureFixture) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="llm")
        def stream() -> Any:
            yield 1
            raise RuntimeError("model crashed")

        gen = stream()
        assert next(gen) == 1
        with pytest.raises(RuntimeError, match="model crashed"):
            next(gen)
        tel.flush()
        (span,) = tel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert_no_detach_errors(detach_errors)


def test_async_generator_stream(detach_errors: pytest.LogCaptureFixture) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="llm")
        async def stream(n: int) -> Any:
            for i in range(n):
                await asyncio.sleep(0)
                yield i, agent.current_prediction_id()

        async def consume() -> list[Any]:
            return [item async for item in stream(4)]

        async def consume_partly() -> None:
            agen = stream(10)
            await agen.__anext__()
            await agen.aclose()

        out = asyncio.run(consume())
        asyncio.run(consume_partly())
        tel.flush()
        spans = tel.spans()
    assert [i for i, _ in out] == [0, 1, 2, 3]
    assert len(spans) == 2
    assert {pid for _, pid in out} == {spans[0].attributes["ml.prediction.id"]}  # type: ignore[index]
    assert_no_detach_errors(detach_errors)


def test_span_joins_the_callers_trace() -> None:
    outer_provider = TracerProvider()
    outer = outer_provider.get_tracer("web")
    with capture_telemetry() as tel:

        @agent.monitor(model="m")
        def predict(x: int) -> int:
            return x

        with outer.start_as_current_span("POST /predict") as request_span:
            predict(1)
        ctx = extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
        from opentelemetry import context

        token = context.attach(ctx)
        try:
            predict(2)
        finally:
            context.detach(token)
        tel.flush()
        first, second = tel.spans()
    rc = request_span.get_span_context()
    assert first.context.trace_id == rc.trace_id
    assert first.parent is not None and first.parent.span_id == rc.span_id
    assert format(second.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert second.parent is not None and format(second.parent.span_id, "016x") == "b7ad6b7169203331"


def test_observe_context_manager_records_a_prediction() -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:
        with agent.observe(model="m", inputs={"a": 1.0}) as call:
            pid = agent.current_prediction_id()
            call.set_output(0.5)
        with pytest.raises(KeyError), agent.observe(model="m", inputs={"a": 2.0}):
            raise KeyError("x")
        tel.flush()
        spans = tel.spans()
        records = tel.records
    assert call.prediction_id == pid
    assert [s.status.status_code for s in spans] == [StatusCode.UNSET, StatusCode.ERROR]
    batch = records[0][1]
    assert batch.prediction_ids == (pid,)
    assert batch.outputs is not None and batch.outputs.tolist() == [0.5]


@pytest.mark.parametrize(
    ("inputs", "rows"),
    [
        ({"a": 1.0}, 1),
        (np.zeros(4), 1),
        (np.zeros((7, 4)), 7),
        ([{"a": 1}, {"a": 2}, {"a": 3}], 3),
        ([[1.0, 2.0], [3.0, 4.0]], 2),
        ([1.0, 2.0, 3.0], 1),
    ],
)
def test_batch_calls_count_one_span_and_n_rows(inputs: Any, rows: int) -> None:
    with capture_telemetry() as tel:

        @agent.monitor(model="m", version="1")
        def predict(x: Any) -> Any:
            return x

        predict(inputs)
        tel.flush()
        (span,) = tel.spans()
        (point,) = tel.metric_points("ml.inference.rows")
    assert span.attributes["ml.batch.size"] == rows  # type: ignore[index]
    assert point.value == rows


def test_dataframe_batches_keep_column_names() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"age": [30, 40, 50], "country": ["US", "DE", "FR"]})
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m")
        def predict(frame: Any) -> Any:
            return np.array([0.1, 0.2, 0.3])

        predict(df)
        tel.flush()
        (span,) = tel.spans()
        batch = tel.records[0][1]
    assert span.attributes["ml.batch.size"] == 3  # type: ignore[index]
    assert batch.columns["age"].tolist() == [30, 40, 50]
    assert batch.columns["country"].tolist() == ["US", "DE", "FR"]
    assert batch.outputs is not None and batch.outputs.tolist() == [0.1, 0.2, 0.3]


def test_not_initialised_or_disabled_agent_calls_straight_through(tmp_path: Any) -> None:
    @agent.monitor(model="m")
    def predict(x: int) -> int:
        return x + 1

    assert predict(1) == 2
    agent.init(agent={"disabled": True, "data_dir": str(tmp_path)})
    assert not agent.is_running()
    assert predict(2) == 3


def test_monitor_rejects_bad_arguments_at_decoration() -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        agent.monitor(model="")
    with pytest.raises(ValueError, match="between 0 and 1"):
        agent.monitor(model="m", sample_rate=1.5)


def test_decorated_function_keeps_its_name_and_docstring() -> None:
    @agent.monitor(model="m")
    def predict(x: int) -> int:
        """Predict things."""
        return x

    assert predict.__name__ == "predict"
    assert predict.__doc__ == "Predict things."


def test_long_stream_counts_every_item_but_captures_a_bounded_prefix() -> None:
    with capture_telemetry(models={"llm": {"capture": True}}) as tel:

        @agent.monitor(model="llm")
        def stream(prompt: str) -> Any:
            yield from range(5_000)

        assert sum(stream("go")) == sum(range(5_000))
        tel.flush()
        (span,) = tel.spans()
        batch = tel.records[0][1]
    assert span.attributes["ml.stream.chunks"] == 5_000  # type: ignore[index]
    assert batch.outputs is not None and len(batch.outputs[0]) == 1_000


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ raises")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ raises")


def test_a_model_raising_an_unprintable_exception_still_gets_its_span_and_metrics() -> None:
    from agent.testing import capture_telemetry

    with capture_telemetry() as tel:

        @agent.monitor(model="m")
        def predict(x: float) -> float:
            raise _UnprintableError()

        with pytest.raises(_UnprintableError):
            predict(1.0)
        assert tel.flush()
        spans = tel.spans()
        errors = tel.metric_points("ml.inference.errors")
    assert len(spans) == 1 and spans[0].attributes["error.type"] == "_UnprintableError"
    assert errors and errors[0].value == 1
