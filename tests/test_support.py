"""The shared loopback receivers in tests/support receive real telemetry from the real SDK exporters."""

from __future__ import annotations

import json
import smtplib
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._internal._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.support.otlp import OTLPGrpcReceiver, OTLPHttpReceiver, closed_port, flatten_spans
from tests.support.otlp_json import (
    flatten_log_records,
    flatten_metric_points,
    read_otlp_json_lines,
    read_spans,
    to_otlp_json,
)
from tests.support.smtp import SMTPReceiver
from tests.support.webhook import WebhookReceiver

RESOURCE = Resource.create({"service.name": "support-test", "service.instance.id": "replica-1"})


# ---------------------------------------------------------------- real SDK telemetry


def make_spans() -> list[ReadableSpan]:
    """A server span with a child, an event, typed attributes and an error status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("support.tests")
    with tracer.start_as_current_span("ml.predict", kind=SpanKind.SERVER) as span:
        span.set_attribute("ml.model.name", "fraud")
        span.set_attribute("ml.batch.size", 3)
        span.set_attribute("ml.score", 0.25)
        span.set_attribute("ml.cached", True)
        span.set_attribute("ml.features", ["age", "amount"])
        span.add_event("ml.capture.dropped", {"ml.reason": "queue_full"})
        with tracer.start_as_current_span("ml.preprocess"):
            pass
        span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def make_metrics() -> MetricsData:
    """One counter point and one histogram point with attributes, collected by the SDK."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("support.tests")
    tracer = TracerProvider(resource=RESOURCE).get_tracer("support.tests")
    with tracer.start_as_current_span("ml.predict"):  # a sampled span: the point carries an exemplar
        meter.create_counter("ml.predictions", unit="{prediction}").add(5, {"ml.model.name": "fraud"})
    histogram = meter.create_histogram("ml.latency", unit="s")
    for value in (0.003, 0.02, 0.4):
        histogram.record(value, {"ml.model.name": "fraud"})
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


def make_logs() -> list[ReadableLogRecord]:
    """One structured event log record with a dict body, emitted inside no span."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("support.tests").emit(
        body={"msg": "drift detected", "psi": 0.31},
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        attributes={"ml.model.name": "fraud", "ml.drift.features": ["age"]},
        event_name="ml.drift.detected",
    )
    provider.shutdown()
    return list(memory.get_finished_logs())


def assert_all_signals_arrived(receiver: OTLPGrpcReceiver | OTLPHttpReceiver) -> None:
    """The telemetry of make_spans/make_metrics/make_logs is all in the receiver, attributes intact."""
    spans = {s.name: s for s in receiver.wait_for_spans(2)}
    root, child = spans["ml.predict"], spans["ml.preprocess"]
    assert root.kind == "SERVER" and child.kind == "INTERNAL"
    assert root.attributes == {
        "ml.model.name": "fraud",
        "ml.batch.size": 3,
        "ml.score": 0.25,
        "ml.cached": True,
        "ml.features": ["age", "amount"],
    }
    assert (root.status_code, root.status_message) == ("ERROR", "boom")
    assert [(e.name, e.attributes) for e in root.events] == [("ml.capture.dropped", {"ml.reason": "queue_full"})]
    assert child.parent_span_id == root.span_id and child.trace_id == root.trace_id
    assert len(root.trace_id) == 32 and root.parent_span_id == ""
    assert root.resource["service.instance.id"] == "replica-1" and root.scope == "support.tests"

    (counter,) = receiver.wait_for_metric("ml.predictions")
    assert (counter.type, counter.value, counter.unit) == ("sum", 5, "{prediction}")
    assert counter.is_monotonic and counter.temporality == "cumulative"
    assert counter.attributes == {"ml.model.name": "fraud"}
    (latency,) = receiver.metric_points("ml.latency")
    assert latency.type == "histogram" and latency.count == 3
    assert latency.sum == pytest.approx(0.423) and latency.max == pytest.approx(0.4)
    assert sum(latency.bucket_counts) == 3 and len(latency.bucket_counts) == len(latency.explicit_bounds) + 1
    assert receiver.metric_names() >= {"ml.predictions", "ml.latency"}

    (log,) = receiver.wait_for_logs(1)
    assert log.body == {"msg": "drift detected", "psi": 0.31}
    assert (log.severity_number, log.severity_text, log.event_name) == (13, "WARN", "ml.drift.detected")
    assert log.attributes == {"ml.model.name": "fraud", "ml.drift.features": ["age"]}
    assert log.trace_id == "" and log.resource["service.name"] == "support-test"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def grpc_receiver() -> Iterator[OTLPGrpcReceiver]:
    """A started gRPC receiver, stopped after the test."""
    with OTLPGrpcReceiver() as receiver:
        yield receiver


@pytest.fixture
def http_receiver() -> Iterator[OTLPHttpReceiver]:
    """A started HTTP receiver, stopped after the test."""
    with OTLPHttpReceiver() as receiver:
        yield receiver


def grpc_stub_export(endpoint_port: int, timeout: float = 2.0) -> None:
    """Send one empty trace export with a bare gRPC stub (raises grpc.RpcError on failure)."""
    with grpc.insecure_channel(f"127.0.0.1:{endpoint_port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=timeout)


def post(url: str, body: bytes, content_type: str = "application/json", timeout: float = 5.0) -> int:
    """POST with urllib and return the HTTP status, error statuses included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def run_in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``target()`` in a daemon thread; its return value (or exception) lands in the list."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(target())
        except Exception as exc:  # handed to the test, which asserts on it
            results.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, results


# ---------------------------------------------------------------- OTLP gRPC


def test_grpc_receiver_collects_spans_metrics_and_logs_from_sdk_exporters(
    grpc_receiver: OTLPGrpcReceiver,
) -> None:
    endpoint = grpc_receiver.endpoint
    span_exporter = GrpcSpanExporter(endpoint=endpoint, insecure=True, headers={"x-tenant": "t1"}, timeout=5)
    metric_exporter = GrpcMetricExporter(endpoint=endpoint, insecure=True, timeout=5)
    log_exporter = GrpcLogExporter(endpoint=endpoint, insecure=True, timeout=5)
    try:
        assert span_exporter.export(make_spans()) == SpanExportResult.SUCCESS
        assert metric_exporter.export(make_metrics()) == MetricExportResult.SUCCESS
        assert log_exporter.export(make_logs()).name == "SUCCESS"
    finally:
        for exporter in (span_exporter, metric_exporter, log_exporter):
            exporter.shutdown()
    assert_all_signals_arrived(grpc_receiver)
    assert grpc_receiver.received[0].headers["x-tenant"] == "t1"
    assert grpc_receiver.endpoint == f"http://127.0.0.1:{grpc_receiver.port}"


def test_grpc_hang_mode_fails_a_1s_exporter_and_stop_releases_a_held_rpc() -> None:
    receiver = OTLPGrpcReceiver(mode="hang")
    receiver.start()
    try:
        exporter = GrpcSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=1)
        assert exporter.export(make_spans()) == SpanExportResult.FAILURE
        exporter.shutdown()
        assert receiver.received[0].outcome == "hang" and receiver.spans() == []
        # A second RPC with a long deadline is still held when stop() is called.
        thread, outcome = run_in_thread(lambda: grpc_stub_export(receiver.port, timeout=60))
        receiver.wait_for(lambda: len(receiver.received) == 2)
    finally:
        stopper, _ = run_in_thread(receiver.stop)
        stopper.join(10)
    assert not stopper.is_alive(), "stop() blocked on a held RPC"
    thread.join(10)
    assert not thread.is_alive(), "held RPC was not released by stop()"
    assert isinstance(outcome[0], grpc.RpcError)  # released unanswered, not answered OK


def test_grpc_leaving_hang_mode_answers_the_held_request() -> None:
    with OTLPGrpcReceiver(mode="hang") as receiver:
        exporter = GrpcSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=30)
        thread, results = run_in_thread(lambda: exporter.export(make_spans()))
        receiver.wait_for(lambda: receiver.received)
        receiver.mode = "ok"
        thread.join(10)
        exporter.shutdown()
    assert results == [SpanExportResult.SUCCESS]


def test_grpc_error_mode_answers_unavailable(grpc_receiver: OTLPGrpcReceiver) -> None:
    grpc_receiver.mode = "error"
    with pytest.raises(grpc.RpcError) as failure:
        grpc_stub_export(grpc_receiver.port)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert [r.outcome for r in grpc_receiver.received] == ["error"]
    assert grpc_receiver.trace_requests == []
    grpc_receiver.mode = "ok"
    grpc_stub_export(grpc_receiver.port)
    assert len(grpc_receiver.trace_requests) == 1


def test_grpc_receiver_restarts_on_the_same_port() -> None:
    receiver = OTLPGrpcReceiver()
    receiver.start()
    port = receiver.port
    receiver.stop()
    with pytest.raises(grpc.RpcError) as down:
        grpc_stub_export(port, timeout=1)
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    with receiver:
        assert receiver.port == port
        exporter = GrpcSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=5)
        assert exporter.export(make_spans()) == SpanExportResult.SUCCESS
        exporter.shutdown()
        assert len(receiver.spans()) == 2


# ---------------------------------------------------------------- OTLP HTTP


def test_http_receiver_collects_gzip_protobuf_and_records_headers(http_receiver: OTLPHttpReceiver) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    span_exporter = HttpSpanExporter(
        endpoint=http_receiver.url("traces"), headers=auth, compression=Compression.Gzip, timeout=5
    )
    metric_exporter = HttpMetricExporter(endpoint=http_receiver.url("metrics"), headers=auth, timeout=5)
    log_exporter = HttpLogExporter(endpoint=http_receiver.url("logs"), headers=auth, timeout=5)
    try:
        assert span_exporter.export(make_spans()) == SpanExportResult.SUCCESS
        assert metric_exporter.export(make_metrics()) == MetricExportResult.SUCCESS
        assert log_exporter.export(make_logs()).name == "SUCCESS"
    finally:
        for exporter in (span_exporter, metric_exporter, log_exporter):
            exporter.shutdown()
    assert_all_signals_arrived(http_receiver)
    first = http_receiver.received[0]
    assert first.headers["authorization"] == "Bearer s3cret"
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["content-type"] == "application/x-protobuf"


def test_http_hang_mode_fails_a_1s_exporter_and_stop_returns() -> None:
    receiver = OTLPHttpReceiver(mode="hang")
    receiver.start()
    try:
        exporter = HttpSpanExporter(endpoint=receiver.url("traces"), timeout=1)
        assert exporter.export(make_spans()) == SpanExportResult.FAILURE
        exporter.shutdown()
        assert receiver.received[0].outcome == "hang"
        thread, results = run_in_thread(lambda: post(receiver.url("traces"), b"", "application/x-protobuf", 60))
        receiver.wait_for(lambda: len(receiver.received) >= 2)
    finally:
        stopper, _ = run_in_thread(receiver.stop)
        stopper.join(10)
    assert not stopper.is_alive(), "stop() blocked on a held request"
    thread.join(10)
    assert not thread.is_alive(), "held request was not released by stop()"
    assert isinstance(results[0], ConnectionError)  # closed unanswered


def test_http_error_mode_answers_503_and_unknown_paths_404(http_receiver: OTLPHttpReceiver) -> None:
    empty = trace_service_pb2.ExportTraceServiceRequest().SerializeToString()
    http_receiver.mode = "error"
    assert post(http_receiver.url("traces"), empty, "application/x-protobuf") == 503
    http_receiver.mode = "ok"
    assert post(http_receiver.url("traces"), empty, "application/x-protobuf") == 200
    assert post(f"{http_receiver.endpoint}/v1/profiles", empty, "application/x-protobuf") == 404
    assert [r.outcome for r in http_receiver.received] == ["error", "ok"]


def test_http_receiver_accepts_otlp_json_bodies(http_receiver: OTLPHttpReceiver) -> None:
    line = to_otlp_json(encode_spans(make_spans()))
    assert post(http_receiver.url("traces"), line.encode()) == 200
    assert {s.name for s in http_receiver.wait_for_spans(2)} == {"ml.predict", "ml.preprocess"}


def test_http_receiver_restarts_on_the_same_port() -> None:
    receiver = OTLPHttpReceiver()
    with receiver:
        port = receiver.port
    with pytest.raises(urllib.error.URLError):
        post(receiver.url("traces"), b"", "application/x-protobuf", 2)
    with receiver:
        assert receiver.port == port
        exporter = HttpSpanExporter(endpoint=receiver.url("traces"), timeout=5)
        assert exporter.export(make_spans()) == SpanExportResult.SUCCESS
        exporter.shutdown()


def test_wait_for_times_out_with_a_summary_of_what_arrived(grpc_receiver: OTLPGrpcReceiver) -> None:
    grpc_stub_export(grpc_receiver.port)
    with pytest.raises(AssertionError, match=r"received 1 requests \(1 ok"):
        grpc_receiver.wait_for(grpc_receiver.spans, timeout=0.2)
    grpc_receiver.clear()
    assert grpc_receiver.received == []


def test_closed_port_refuses_connections() -> None:
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", closed_port()), 2):
        pass


# ---------------------------------------------------------------- OTLP/JSON files


def test_otlp_json_round_trips_encoded_requests_through_a_lines_file(tmp_path: Path) -> None:
    spans = make_spans()
    request = encode_spans(spans)
    line = to_otlp_json(request)
    document = json.loads(line)
    span_json = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    by_name = {s["name"]: s for s in span_json}
    root = next(s for s in spans if s.name == "ml.predict")
    assert root.context is not None
    assert by_name["ml.predict"]["traceId"] == f"{root.context.trace_id:032x}"  # hex, not base64
    assert by_name["ml.predict"]["spanId"] == f"{root.context.span_id:016x}"
    assert by_name["ml.preprocess"]["parentSpanId"] == f"{root.context.span_id:016x}"
    assert by_name["ml.predict"]["kind"] == 2  # enums as integers
    assert isinstance(by_name["ml.predict"]["startTimeUnixNano"], str)  # int64 as strings
    assert " " not in line.replace("drift detected", "")  # compact separators

    path = tmp_path / "traces.jsonl"
    path.write_text(f"{line}\n\n{line}\n", encoding="utf-8")
    assert read_otlp_json_lines(path, "traces") == [request, request]
    assert read_spans(path) == flatten_spans([request, request])


def test_otlp_json_round_trips_metrics_and_logs(tmp_path: Path) -> None:
    metrics = encode_metrics(make_metrics())
    logs = encode_logs(make_logs())
    (tmp_path / "metrics.jsonl").write_text(to_otlp_json(metrics) + "\n", encoding="utf-8")
    (tmp_path / "logs.jsonl").write_text(to_otlp_json(logs) + "\n", encoding="utf-8")
    assert read_otlp_json_lines(tmp_path / "metrics.jsonl", "metrics") == [metrics]
    exemplar = metrics.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars[0]
    assert f'"traceId":"{exemplar.trace_id.hex()}"' in to_otlp_json(metrics)  # exemplar ids are hex too
    assert read_otlp_json_lines(tmp_path / "logs.jsonl", "logs") == [logs]
    assert flatten_metric_points([metrics], "ml.predictions")[0].value == 5
    assert flatten_log_records([logs])[0].event_name == "ml.drift.detected"


def test_read_otlp_json_lines_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text('{"resourceSpans":[]}\n{"resourceSpans":[{"bogus":1}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"traces.jsonl:2: not an OTLP/JSON traces request"):
        read_otlp_json_lines(path, "traces")


# ---------------------------------------------------------------- webhook


def statuses_of(url: str, count: int, body: bytes = b'{"a": 1}') -> list[int]:
    """POST ``count`` times and return the statuses answered."""
    return [post(url, body) for _ in range(count)]


def test_webhook_answers_from_its_status_script_and_records_json() -> None:
    with WebhookReceiver(statuses=[500, 500, 200], default_status=202) as hook:
        assert statuses_of(f"{hook.url}/notify?x=1", 4) == [500, 500, 200, 202]
        received = hook.wait_for(4, path="/notify")
    assert [r.status for r in received] == [500, 500, 200, 202]
    assert received[0].json == {"a": 1} and received[0].query == "x=1"
    assert received[0].header("content-type") == "application/json" and received[0].method == "POST"


def test_webhook_records_alertmanager_v2_alerts() -> None:
    alerts = [{"labels": {"alertname": "MLDrift", "model": "fraud"}, "annotations": {"summary": "psi 0.31"}}]
    with WebhookReceiver() as alertmanager:
        assert post(f"{alertmanager.alertmanager_url}/api/v2/alerts", json.dumps(alerts).encode()) == 200
        alertmanager.wait_for(1)
        assert alertmanager.alerts() == alerts


def test_webhook_stop_interrupts_a_delayed_answer_and_restarts_on_same_port() -> None:
    hook = WebhookReceiver(delay=[60.0])
    hook.start()
    port = hook.port
    thread, results = run_in_thread(lambda: statuses_of(hook.url, 1))
    hook.wait_for(1)
    stopper, _ = run_in_thread(hook.stop)
    stopper.join(10)
    assert not stopper.is_alive(), "stop() waited for the delayed answer"
    thread.join(10)
    assert not thread.is_alive() and isinstance(results[0], ConnectionError)
    with hook:
        assert hook.port == port
        assert statuses_of(hook.url, 1) == [200]  # the one scripted delay was used up
    hook.clear()
    with pytest.raises(AssertionError, match="expected 1 requests"):
        hook.wait_for(1, timeout=0.1)


# ---------------------------------------------------------------- SMTP


def make_email(to: Sequence[str]) -> EmailMessage:
    """A small alert e-mail."""
    message = EmailMessage()
    message["From"] = "infersight@example.test"
    message["To"] = ", ".join(to)
    message["Subject"] = "[FIRING] MLDrift fraud"
    message.set_content("psi=0.31 on feature age")
    return message


def test_smtp_receiver_records_envelope_and_parsed_message() -> None:
    with SMTPReceiver() as smtp_server:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
            client.send_message(make_email(["oncall@example.test", "ml@example.test"]))
        (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "infersight@example.test"
    assert received.rcpt_tos == ("oncall@example.test", "ml@example.test")
    assert received.message["Subject"] == "[FIRING] MLDrift fraud"
    assert received.message.get_content().strip() == "psi=0.31 on feature age"
    assert received.login is None


def test_smtp_receiver_with_credentials_accepts_the_login_and_rejects_others() -> None:
    with SMTPReceiver(credentials=("alerts", "pw")) as smtp_server:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alerts", "wrong")
            client.login("alerts", "pw")
            client.send_message(make_email(["oncall@example.test"]))
        (received,) = smtp_server.wait_for(1)
    assert received.login == "alerts"
