"""End to end: what ``@agent.monitor`` exports over OTLP (gRPC and HTTP), to files and to the console."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanContext, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import agent
from agent import _state
from agent.semconv import LATENCY_BUCKETS
from tests.agent.conftest import NO_PLUGINS, Protocol, Receiver, latest_points, running_agent, start_agent
from tests.support.otlp_json import parse_otlp_json, read_log_records, read_metric_points, read_spans, to_otlp_json

MODEL = "fraud"
MODELS = {MODEL: {"version": "3.2", "task": "classification"}}
MODEL_ATTRS = {"ml.model.name": MODEL, "ml.model.version": "3.2"}
SECRET = "s3cr3t-token"


class Recorder:
    """What the monitored function saw from inside its own span."""

    def __init__(self) -> None:
        self.prediction_ids: list[str] = []
        self.contexts: list[SpanContext] = []

    def note(self) -> None:
        pid = agent.current_prediction_id()
        assert pid is not None
        self.prediction_ids.append(pid)
        self.contexts.append(get_current_span().get_span_context())


def make_predict(seen: Recorder) -> Any:
    """A monitored model: scores a row (or each row of a batch); raises for a row asking it to."""

    @agent.monitor(MODEL)
    def predict(rows: Any) -> Any:
        seen.note()
        if isinstance(rows, dict) and "raise" in rows:
            raise rows["raise"]
        if isinstance(rows, list):
            return [r["amount"] * 2 for r in rows]
        return rows["amount"] * 2

    return predict


def start(receiver: Receiver, protocol: Protocol, tmp_path: Path, **kwargs: Any) -> None:
    start_agent(receiver.endpoint, protocol, tmp_path, models=MODELS, **kwargs)


def test_spans_carry_model_attributes_and_resource(receiver: Receiver, protocol: Protocol, tmp_path: Path) -> None:
    start(receiver, protocol, tmp_path, service={"name": "fraud-api"})
    seen = Recorder()
    predict = make_predict(seen)

    assert predict({"amount": 2.0}) == 4.0
    assert predict([{"amount": 1.0}, {"amount": 2.0}, {"amount": 3.0}]) == [2.0, 4.0, 6.0]
    assert agent.flush()

    spans = receiver.wait_for_spans(2)
    assert [s.name for s in spans] == [f"predict {MODEL}"] * 2
    assert {s.kind for s in spans} == {"INTERNAL"}
    assert [s.attributes for s in spans] == [
        {**MODEL_ATTRS, "ml.task": "classification", "ml.prediction.id": seen.prediction_ids[0], "ml.batch.size": 1},
        {**MODEL_ATTRS, "ml.task": "classification", "ml.prediction.id": seen.prediction_ids[1], "ml.batch.size": 3},
    ]
    assert [s.span_id for s in spans] == [format(c.span_id, "016x") for c in seen.contexts]
    assert {s.status_code for s in spans} == {"UNSET"}
    instance = running_agent().settings.service["instance_id"]
    for span in spans:
        assert span.resource["service.name"] == "fraud-api"
        assert span.resource["service.instance.id"] == instance
        assert span.scope == "infersight"


def test_exception_is_recorded_on_span_and_reraised_unchanged(
    receiver: Receiver, protocol: Protocol, tmp_path: Path
) -> None:
    start(receiver, protocol, tmp_path)
    predict = make_predict(Recorder())
    error = ValueError("amount missing")

    with pytest.raises(ValueError) as raised:
        predict({"raise": error})
    assert raised.value is error
    assert agent.flush()

    (span,) = receiver.wait_for_spans(1)
    assert span.status_code == "ERROR"
    assert span.attributes["error.type"] == "ValueError"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "amount missing"
    assert "Traceback" in event.attributes["exception.stacktrace"]


def test_metrics_count_calls_errors_and_latency(receiver: Receiver, protocol: Protocol, tmp_path: Path) -> None:
    start(receiver, protocol, tmp_path)
    predict = make_predict(Recorder())
    for amount in range(4):
        predict({"amount": float(amount)})
    for exc in (ValueError("a"), KeyError("b"), KeyError("c")):
        with pytest.raises(type(exc)):
            predict({"raise": exc})
    assert agent.flush()

    receiver.wait_for_metric("ml.inference.errors")
    (duration,) = latest_points(receiver.metric_points("ml.inference.duration")).values()
    assert duration.type == "histogram"
    assert duration.unit == "s"
    assert duration.attributes == MODEL_ATTRS
    assert duration.count == 7
    assert duration.sum is not None and 0 < duration.sum < 7
    assert duration.explicit_bounds == LATENCY_BUCKETS
    assert sum(duration.bucket_counts) == 7

    (calls,) = latest_points(receiver.metric_points("ml.inference.calls")).values()
    assert (calls.type, calls.is_monotonic, calls.value) == ("sum", True, 7)
    assert calls.attributes == MODEL_ATTRS

    errors = {p.attributes["error.type"]: p for p in receiver.metric_points("ml.inference.errors")}
    assert {k: p.value for k, p in errors.items()} == {"ValueError": 1, "KeyError": 2}
    for etype, point in errors.items():
        assert point.attributes == {**MODEL_ATTRS, "error.type": etype}
    assert duration.resource["service.instance.id"] == running_agent().settings.service["instance_id"]


def test_log_records_arrive_and_carry_the_calls_trace_context(
    receiver: Receiver, protocol: Protocol, tmp_path: Path
) -> None:
    start(receiver, protocol, tmp_path)
    seen = Recorder()

    @agent.monitor(MODEL)
    def predict(row: dict[str, float]) -> float:
        seen.note()
        running = _state.AGENT
        assert running is not None
        running.log.info("model.scored", amount=row["amount"])
        return row["amount"]

    predict({"amount": 5.0})
    assert agent.flush()

    records = receiver.wait_for(lambda: [r for r in receiver.log_records() if r.body == "model.scored"])
    started = [r for r in receiver.log_records() if r.body == "ml.agent.started"]
    assert len(started) == 1
    assert started[0].severity_text == "INFO"
    assert started[0].resource["service.instance.id"] == running_agent().settings.service["instance_id"]
    (scored,) = records
    assert scored.trace_id == format(seen.contexts[0].trace_id, "032x")
    assert scored.span_id == format(seen.contexts[0].span_id, "016x")
    assert scored.attributes["amount"] == 5.0
    (span,) = receiver.wait_for_spans(1)
    assert (scored.trace_id, scored.span_id) == (span.trace_id, span.span_id)


def test_span_joins_the_callers_trace(receiver: Receiver, protocol: Protocol, tmp_path: Path) -> None:
    start(receiver, protocol, tmp_path)
    predict = make_predict(Recorder())
    caller = TracerProvider().get_tracer("caller-app")  # the application's own, separate, provider
    with caller.start_as_current_span("POST /score") as outer:
        predict({"amount": 1.0})
    outer_ctx = outer.get_span_context()

    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    carrier = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    for extracted in (TraceContextTextMapPropagator().extract(carrier), propagate.extract(carrier)):
        token = otel_context.attach(extracted)
        try:
            predict({"amount": 2.0})
        finally:
            otel_context.detach(token)
    predict({"amount": 3.0})
    assert agent.flush()

    first, second, third, root = receiver.wait_for_spans(4)
    assert (first.trace_id, first.parent_span_id) == (
        format(outer_ctx.trace_id, "032x"),
        format(outer_ctx.span_id, "016x"),
    )
    assert (second.trace_id, second.parent_span_id) == (trace_id, parent_id)
    assert (third.trace_id, third.parent_span_id) == (trace_id, parent_id)
    assert root.parent_span_id == ""
    assert root.trace_id not in (trace_id, first.trace_id)


def test_headers_reach_the_collector_but_never_the_logs(
    receiver: Receiver, protocol: Protocol, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start(
        receiver,
        protocol,
        tmp_path,
        headers={"authorization": f"Bearer {SECRET}"},
        agent_options={"stderr_level": "debug", "log_level": "debug"},
    )
    predict = make_predict(Recorder())
    predict({"amount": 1.0})
    assert agent.flush()

    receiver.wait_for_logs(1)
    assert receiver.received
    assert {r.headers.get("authorization") for r in receiver.received} == {f"Bearer {SECRET}"}
    records = receiver.log_records()
    assert all(SECRET not in repr((r.body, r.attributes, r.resource)) for r in records)
    (started,) = [r for r in records if r.body == "ml.agent.started"]
    config = json.loads(started.attributes["config"])
    masked = config["exporter"]["headers"]
    assert list(masked) == ["authorization"]  # the header is shown...
    assert masked["authorization"] and SECRET not in masked["authorization"]  # ...with its value masked
    assert all(SECRET not in repr((s.attributes, s.resource)) for s in receiver.spans())
    agent.shutdown()
    out, err = capsys.readouterr()
    assert "ml.agent.started" in err  # stderr did get the agent's events...
    assert SECRET not in err  # ...without the secret
    assert SECRET not in out


def test_file_exporter_is_the_default_and_writes_otlp_json(tmp_path: Path) -> None:
    agent.init(
        agent={"data_dir": str(tmp_path), "stderr_level": "off"},
        metrics={"export_interval": 60},
        plugins=NO_PLUGINS,
        models=MODELS,
    )
    assert running_agent().settings.exporter_type == "file"
    seen = Recorder()
    predict = make_predict(seen)
    for amount in range(3):
        predict({"amount": float(amount)})
    assert agent.flush()

    telemetry = tmp_path / "telemetry"
    assert sorted(p.name for p in telemetry.iterdir()) == ["logs.jsonl", "metrics.jsonl", "traces.jsonl"]
    for signal in ("traces", "metrics", "logs"):
        for line in (telemetry / f"{signal}.jsonl").read_text().splitlines():
            assert to_otlp_json(parse_otlp_json(line, signal)) == line  # exactly the collector's encoding
    spans = read_spans(telemetry / "traces.jsonl")
    assert [s.attributes["ml.prediction.id"] for s in spans] == seen.prediction_ids
    assert [(s.trace_id, s.span_id) for s in spans] == [
        (format(c.trace_id, "032x"), format(c.span_id, "016x")) for c in seen.contexts
    ]
    assert {s.name for s in spans} == {f"predict {MODEL}"}
    (calls,) = read_metric_points(telemetry / "metrics.jsonl", "ml.inference.calls")
    assert (calls.value, calls.attributes) == (3, MODEL_ATTRS)
    assert "ml.agent.started" in [r.body for r in read_log_records(telemetry / "logs.jsonl")]


def test_file_exporter_rotation_keeps_at_most_max_files(tmp_path: Path) -> None:
    max_bytes, max_files = 4096, 3
    agent.init(
        exporter={"type": "file", "max_file_bytes": max_bytes, "max_files": max_files},
        agent={"data_dir": str(tmp_path), "stderr_level": "off"},
        metrics={"export_interval": 60},
        plugins=NO_PLUGINS,
        models=MODELS,
    )
    seen = Recorder()
    predict = make_predict(seen)
    for round_ in range(25):
        for amount in range(3):
            predict({"amount": float(round_ * 3 + amount)})
        assert agent.flush()

    telemetry = tmp_path / "telemetry"
    traces = sorted(p.name for p in telemetry.glob("traces.jsonl*"))
    assert traces == ["traces.jsonl", "traces.jsonl.1", "traces.jsonl.2"]
    assert len(list(telemetry.glob("metrics.jsonl*"))) == max_files
    for path in telemetry.iterdir():
        lines = path.read_text().splitlines()
        assert path.stat().st_size <= max_bytes or len(lines) == 1
    kept = [s.attributes["ml.prediction.id"] for name in reversed(traces) for s in read_spans(telemetry / name)]
    assert 0 < len(kept) < len(seen.prediction_ids)
    assert kept == seen.prediction_ids[-len(kept) :]  # the newest spans survive, in order


def test_console_exporter_writes_to_stdout(tmp_path: Path) -> None:
    # A child process: the SDK's console exporters bind sys.stdout when first imported, before any capture.
    script = f"""
import agent
agent.init(exporter={{"type": "console"}}, agent={{"data_dir": {str(tmp_path)!r}, "stderr_level": "off"}},
           metrics={{"export_interval": 60}}, plugins={NO_PLUGINS!r}, models={MODELS!r})

@agent.monitor({MODEL!r})
def predict(row):
    print("prediction-id", agent.current_prediction_id())
    return row["amount"]

predict({{"amount": 1.0}})
assert agent.flush()
agent.shutdown()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERSIGHT_"))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    pid = re.search(r"prediction-id ([0-9a-f]{32})", out)
    assert pid is not None, out
    assert f'"name": "predict {MODEL}"' in out
    assert f'"ml.prediction.id": "{pid.group(1)}"' in out
    assert '"name": "ml.inference.calls"' in out
    assert '"body": "ml.agent.started"' in out


def test_per_signal_otel_variables_send_traces_to_their_own_endpoint_and_nothing_else(
    protocol: Protocol, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.agent.conftest import make_receiver

    with make_receiver(protocol) as shared, make_receiver(protocol) as traces_only:
        traces_endpoint = traces_only.endpoint + ("/v1/traces" if protocol == "http/protobuf" else "")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", shared.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_endpoint)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
        agent.init(agent={"data_dir": str(tmp_path), "stderr_level": "off"}, plugins=NO_PLUGINS, models=MODELS)
        predict = make_predict(Recorder())
        predict({"amount": 2.0})
        assert agent.flush(10)
        agent.shutdown()
        spans = traces_only.wait_for_spans(1)
        received_elsewhere = shared.received
        traces_kinds = {r.signal for r in traces_only.received}
    assert spans[0].attributes["ml.model.name"] == MODEL
    assert received_elsewhere == []  # metrics and logs are off: nothing was sent to the shared endpoint
    assert traces_kinds == {"traces"}
    assert not (tmp_path / "telemetry").exists()  # and no local files either


def test_otlp_and_file_exporters_at_once(receiver: Receiver, protocol: Protocol, tmp_path: Path) -> None:
    agent.init(exporter={"type": ["otlp", "file"], "endpoint": receiver.endpoint, "protocol": protocol},
               agent={"data_dir": str(tmp_path), "stderr_level": "off"}, plugins=NO_PLUGINS, models=MODELS)
    predict = make_predict(Recorder())
    predict({"amount": 2.0})
    assert agent.flush(10)
    agent.shutdown()
    remote = receiver.wait_for_spans(1)
    local = read_spans(tmp_path / "telemetry" / "traces.jsonl")
    assert remote[0].attributes["ml.model.name"] == MODEL
    assert [s.name for s in local] == [remote[0].name]
    assert receiver.wait_for_metric("ml.inference.calls")
    assert read_metric_points(tmp_path / "telemetry" / "metrics.jsonl", "ml.inference.calls")


def test_data_directory_and_telemetry_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    agent.init(agent={"data_dir": str(data), "stderr_level": "off"}, plugins=NO_PLUGINS, models=MODELS)
    make_predict(Recorder())({"amount": 1.0})
    assert agent.flush(10)
    agent.shutdown()
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "telemetry").stat().st_mode & 0o777 == 0o700
    for f in (data / "telemetry").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600, f


def test_file_mode_can_be_widened_for_a_shared_group(tmp_path: Path) -> None:
    data = tmp_path / "data"
    agent.init(agent={"data_dir": str(data), "stderr_level": "off", "file_mode": 0o640}, plugins=NO_PLUGINS,
               models=MODELS)
    make_predict(Recorder())({"amount": 1.0})
    assert agent.flush(10)
    agent.shutdown()
    assert (data / "telemetry").stat().st_mode & 0o777 == 0o750
    assert (data / "telemetry" / "traces.jsonl").stat().st_mode & 0o777 == 0o640


def test_application_logs_from_get_logger_arrive_with_the_calls_trace_context(
    receiver: Receiver, protocol: Protocol, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = agent.get_logger("fraud-service")  # made before init, as a module-level logger would be
    start(receiver, protocol, tmp_path)
    seen = Recorder()

    @agent.monitor(MODEL)
    def predict(row: dict[str, float]) -> float:
        seen.note()
        log.info("scored", amount=row["amount"], rule="r7")
        return row["amount"]

    predict({"amount": 3.0})
    assert agent.flush(10)
    records = receiver.wait_for(lambda: [r for r in receiver.log_records() if r.body == "scored"])
    (record,) = records
    ctx = seen.contexts[0]
    assert (record.trace_id, record.span_id) == (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    assert record.scope == "fraud-service"
    assert record.attributes["amount"] == 3.0 and record.attributes["rule"] == "r7"
    assert record.attributes["ml.prediction.id"] == seen.prediction_ids[0]
    assert record.attributes["ml.model.name"] == MODEL
    assert "scored" in capsys.readouterr().err  # echoed locally too


def test_application_structlog_with_the_forwarding_processor_exports_its_events(
    receiver: Receiver, protocol: Protocol, tmp_path: Path
) -> None:
    import structlog

    lines: list[str] = []

    class ListLogger:
        def msg(self, message: str) -> None:
            lines.append(message)

        info = warning = error = debug = msg

    app_log = structlog.wrap_logger(
        ListLogger(),
        processors=[structlog.processors.add_log_level, agent.otlp_processor("checkout"),
                    structlog.processors.JSONRenderer()],
    )
    start(receiver, protocol, tmp_path)
    seen = Recorder()

    @agent.monitor(MODEL)
    def predict(row: dict[str, float]) -> float:
        seen.note()
        app_log.warning("slow feature store", ms=140)
        return row["amount"]

    predict({"amount": 1.0})
    assert agent.flush(10)
    (record,) = receiver.wait_for(lambda: [r for r in receiver.log_records() if r.body == "slow feature store"])
    ctx = seen.contexts[0]
    assert (record.trace_id, record.span_id) == (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    assert record.severity_text == "WARNING" and record.attributes["ms"] == 140
    assert record.scope == "checkout"
    assert json.loads(lines[0])["event"] == "slow feature store"  # the application's own output is unchanged
