"""Loopback OTLP receivers (gRPC and HTTP) that keep every export request real exporters send.

Both receivers share one query API (flattened span, metric point and log record views)
and three behaviour modes: ``"ok"`` answers success, ``"error"`` answers UNAVAILABLE
(HTTP 503), ``"hang"`` accepts the request and never answers until the mode changes or
the receiver stops, like a collector that accepts connections but is stuck.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.support._base import LoopbackServer

Mode = Literal["ok", "hang", "error"]
SignalName = Literal["traces", "metrics", "logs"]
ExportRequest = (
    trace_service_pb2.ExportTraceServiceRequest
    | metrics_service_pb2.ExportMetricsServiceRequest
    | logs_service_pb2.ExportLogsServiceRequest
)
T = TypeVar("T")

REQUEST_TYPES: dict[str, type[Any]] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSE_TYPES: dict[str, type[Any]] = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}
_MODES = ("ok", "hang", "error")
_TEMPORALITY = {0: "unspecified", 1: "delta", 2: "cumulative"}


# ---------------------------------------------------------------- flattened views


@dataclass(frozen=True)
class Received:
    """One export request as it arrived, with the mode that decided its answer."""

    signal: SignalName
    message: ExportRequest
    headers: Mapping[str, str]
    outcome: Mode


@dataclass(frozen=True)
class EventView:
    """A span event: name, attributes and time."""

    name: str
    attributes: dict[str, Any]
    time_unix_nano: int


@dataclass(frozen=True)
class SpanView:
    """One span with its resource and scope, ids as lowercase hex ("" when absent)."""

    name: str
    kind: str  # "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER", "UNSPECIFIED"
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: str  # "UNSET", "OK", "ERROR"
    status_message: str
    events: tuple[EventView, ...]
    resource: dict[str, Any]
    scope: str
    start_time_unix_nano: int
    end_time_unix_nano: int


@dataclass(frozen=True)
class MetricPoint:
    """One metric data point with its metric's name, unit, type and resource."""

    name: str
    unit: str
    description: str
    type: str  # "sum", "gauge", "histogram", "exponential_histogram", "summary"
    attributes: dict[str, Any]
    value: float | int | None  # sum and gauge points only
    count: int | None
    sum: float | None
    bucket_counts: tuple[int, ...]
    explicit_bounds: tuple[float, ...]
    min: float | None
    max: float | None
    is_monotonic: bool | None  # sum only
    temporality: str | None  # "delta" / "cumulative" for sum and histograms
    resource: dict[str, Any]
    scope: str
    time_unix_nano: int


@dataclass(frozen=True)
class LogView:
    """One log record with its resource and scope, ids as lowercase hex ("" when absent)."""

    body: Any
    severity_number: int
    severity_text: str
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    event_name: str
    resource: dict[str, Any]
    scope: str
    time_unix_nano: int


def any_value(value: AnyValue) -> Any:
    """Convert an OTLP AnyValue to the matching Python value (None when unset)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Convert repeated OTLP KeyValue attributes to a plain dict."""
    return {kv.key: any_value(kv.value) for kv in attributes}


def flatten_spans(requests: Iterable[trace_service_pb2.ExportTraceServiceRequest]) -> list[SpanView]:
    """Every span in ``requests``, in arrival order, as a flat view."""
    views: list[SpanView] = []
    for request in requests:
        for rs in request.resource_spans:
            resource = attributes_dict(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    events = tuple(
                        EventView(e.name, attributes_dict(e.attributes), e.time_unix_nano) for e in span.events
                    )
                    views.append(
                        SpanView(
                            name=span.name,
                            kind=trace_pb2.Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=attributes_dict(span.attributes),
                            status_code=trace_pb2.Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                            status_message=span.status.message,
                            events=events,
                            resource=resource,
                            scope=ss.scope.name,
                            start_time_unix_nano=span.start_time_unix_nano,
                            end_time_unix_nano=span.end_time_unix_nano,
                        )
                    )
    return views


def _point_view(metric: metrics_pb2.Metric, kind: str, point: Any, resource: dict[str, Any], scope: str) -> MetricPoint:
    """Flatten one data point of any metric type."""
    data = getattr(metric, kind)
    value = count = total = low = high = None
    bucket_counts: tuple[int, ...] = ()
    bounds: tuple[float, ...] = ()
    if kind in ("sum", "gauge"):
        which = point.WhichOneof("value")
        value = getattr(point, which) if which else None
    else:
        count = point.count
        total = point.sum if kind == "summary" or point.HasField("sum") else None
        if kind != "summary":
            low = point.min if point.HasField("min") else None
            high = point.max if point.HasField("max") else None
        if kind == "histogram":
            bucket_counts = tuple(point.bucket_counts)
            bounds = tuple(point.explicit_bounds)
        elif kind == "exponential_histogram":
            bucket_counts = tuple(point.positive.bucket_counts)
    temporality = data.aggregation_temporality if hasattr(data, "aggregation_temporality") else None
    return MetricPoint(
        name=metric.name,
        unit=metric.unit,
        description=metric.description,
        type=kind,
        attributes=attributes_dict(point.attributes),
        value=value,
        count=count,
        sum=total,
        bucket_counts=bucket_counts,
        explicit_bounds=bounds,
        min=low,
        max=high,
        is_monotonic=data.is_monotonic if kind == "sum" else None,
        temporality=None if temporality is None else _TEMPORALITY.get(temporality, str(temporality)),
        resource=resource,
        scope=scope,
        time_unix_nano=point.time_unix_nano,
    )


def flatten_metric_points(
    requests: Iterable[metrics_service_pb2.ExportMetricsServiceRequest], name: str | None = None
) -> list[MetricPoint]:
    """Every data point in ``requests`` (only metric ``name`` when given), in arrival order."""
    points: list[MetricPoint] = []
    for request in requests:
        for rm in request.resource_metrics:
            resource = attributes_dict(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if name is not None and metric.name != name:
                        continue
                    kind = metric.WhichOneof("data")
                    if kind is None:
                        continue
                    for point in getattr(metric, kind).data_points:
                        points.append(_point_view(metric, kind, point, resource, sm.scope.name))
    return points


def flatten_log_records(requests: Iterable[logs_service_pb2.ExportLogsServiceRequest]) -> list[LogView]:
    """Every log record in ``requests``, in arrival order, as a flat view."""
    views: list[LogView] = []
    for request in requests:
        for rl in request.resource_logs:
            resource = attributes_dict(rl.resource.attributes)
            for sl in rl.scope_logs:
                for rec in sl.log_records:
                    views.append(
                        LogView(
                            body=any_value(rec.body),
                            severity_number=rec.severity_number,
                            severity_text=rec.severity_text,
                            attributes=attributes_dict(rec.attributes),
                            trace_id=rec.trace_id.hex(),
                            span_id=rec.span_id.hex(),
                            event_name=rec.event_name,
                            resource=resource,
                            scope=sl.scope.name,
                            time_unix_nano=rec.time_unix_nano,
                        )
                    )
    return views


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------- shared receiver state


class _ReceiverBase(LoopbackServer):
    """Request store, mode switch and query API shared by the gRPC and HTTP receivers."""

    def __init__(self, mode: Mode, port: int) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r}: expected one of {_MODES}")
        super().__init__(port)
        self._mode: Mode = mode
        # RLock so predicates passed to wait_for may call the query methods, which lock too.
        self._cond = threading.Condition(threading.RLock())
        self._received: list[Received] = []
        self._held: set[threading.Event] = set()
        self._running = False

    @property
    def endpoint(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def mode(self) -> Mode:
        """Current behaviour: "ok", "hang" or "error"."""
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r}: expected one of {_MODES}")
        with self._cond:
            self._mode = mode
            if mode != "hang":
                self._release_held()

    # request handling --------------------------------------------------
    def _record(self, signal: SignalName, message: ExportRequest, headers: Mapping[str, str]) -> Mode:
        """Store one arrival and wake waiters; returns the mode that decides the answer."""
        with self._cond:
            outcome = self._mode
            self._received.append(Received(signal, message, dict(headers), outcome))
            self._cond.notify_all()
            return outcome

    def _hold(self, on_cancel: Callable[[Callable[[], None]], Any] | None = None) -> Mode | None:
        """Block a "hang" request until released; returns the mode to answer with, None when stopping."""
        released = threading.Event()
        with self._cond:
            if not self._running or self._mode != "hang":
                return self._mode if self._running else None
            self._held.add(released)
        # A client that gives up frees the handler thread; add_callback is False if it already has.
        if on_cancel is not None and on_cancel(released.set) is False:
            released.set()
        released.wait()
        with self._cond:
            self._held.discard(released)
            return self._mode if self._running else None

    def _release_held(self) -> None:
        with self._cond:
            for event in self._held:
                event.set()

    # queries -------------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        """Every request that arrived, whatever its answer, in arrival order."""
        with self._cond:
            return list(self._received)

    def _accepted(self, signal: SignalName) -> list[Any]:
        with self._cond:
            return [r.message for r in self._received if r.signal == signal and r.outcome == "ok"]

    @property
    def trace_requests(self) -> list[trace_service_pb2.ExportTraceServiceRequest]:
        """Trace export requests answered with success."""
        return self._accepted("traces")

    @property
    def metric_requests(self) -> list[metrics_service_pb2.ExportMetricsServiceRequest]:
        """Metric export requests answered with success."""
        return self._accepted("metrics")

    @property
    def log_requests(self) -> list[logs_service_pb2.ExportLogsServiceRequest]:
        """Log export requests answered with success."""
        return self._accepted("logs")

    def spans(self) -> list[SpanView]:
        """Every span of the accepted trace requests."""
        return flatten_spans(self.trace_requests)

    def metric_points(self, name: str | None = None) -> list[MetricPoint]:
        """Data points of metric ``name`` (all metrics when None) from accepted requests."""
        return flatten_metric_points(self.metric_requests, name)

    def metric_names(self) -> set[str]:
        """Names of every metric received in accepted requests."""
        return {p.name for p in flatten_metric_points(self.metric_requests)}

    def log_records(self) -> list[LogView]:
        """Every log record of the accepted log requests."""
        return flatten_log_records(self.log_requests)

    def clear(self) -> None:
        """Forget everything received so far."""
        with self._cond:
            self._received.clear()

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on each arrival); return its value.

        Raises AssertionError with a summary of what arrived when ``timeout`` passes first.
        """
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
            if not result:
                raise AssertionError(f"condition not met within {timeout} s; {self.summary()}")
            return result

    def wait_for_spans(self, count: int = 1, name: str | None = None, timeout: float = 10.0) -> list[SpanView]:
        """Wait until at least ``count`` spans (named ``name`` when given) arrived; return them."""

        def enough() -> list[SpanView]:
            found = [s for s in self.spans() if name is None or s.name == name]
            return found if len(found) >= count else []

        return self.wait_for(enough, timeout)

    def wait_for_metric(self, name: str, timeout: float = 10.0) -> list[MetricPoint]:
        """Wait until at least one point of metric ``name`` arrived; return all its points."""
        return self.wait_for(lambda: self.metric_points(name), timeout)

    def wait_for_logs(self, count: int = 1, timeout: float = 10.0) -> list[LogView]:
        """Wait until at least ``count`` log records arrived; return them."""

        def enough() -> list[LogView]:
            found = self.log_records()
            return found if len(found) >= count else []

        return self.wait_for(enough, timeout)

    def summary(self) -> str:
        """One-line account of what arrived, for assertion messages."""
        with self._cond:
            outcomes = [r.outcome for r in self._received]
            spans = sorted({s.name for s in self.spans()})
            return (
                f"received {len(outcomes)} requests ({outcomes.count('ok')} ok, {outcomes.count('error')} "
                f"error, {outcomes.count('hang')} hang); span names {spans}; metric names "
                f"{sorted(self.metric_names())}; {len(self.log_records())} log records"
            )


# ---------------------------------------------------------------- gRPC


class _Servicer:
    """One Export RPC for one signal, delegating to the receiver."""

    def __init__(self, receiver: OTLPGrpcReceiver, signal: SignalName) -> None:
        self._receiver = receiver
        self._signal: SignalName = signal

    def Export(self, request: ExportRequest, context: Any) -> Any:
        """Record the request and answer according to the receiver's mode."""
        return self._receiver._answer(self._signal, request, context)


class OTLPGrpcReceiver(_ReceiverBase):
    """A real grpcio OTLP server (traces, metrics, logs) on 127.0.0.1."""

    def __init__(self, mode: Mode = "ok", port: int = 0) -> None:
        super().__init__(mode, port)
        self._server: Any = None
        self._executor: futures.ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start serving; on restart, binds the port used before."""
        if self._running:
            return
        self._executor = futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc-receiver")
        # so_reuseport off: a restarted receiver must own its port alone, never share it.
        server = grpc.server(
            self._executor,
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Servicer(self, "traces"), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Servicer(self, "metrics"), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Servicer(self, "logs"), server)
        self._port = server.add_insecure_port(f"127.0.0.1:{self._port}")
        server.start()
        self._server = server
        with self._cond:
            self._running = True

    def stop(self) -> None:
        """Stop serving; held "hang" requests are released and in-flight RPCs cancelled."""
        if not self._running:
            return
        with self._cond:
            self._running = False
            self._release_held()
        self._server.stop(grace=0).wait(5.0)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._server = None
        self._executor = None

    def _answer(self, signal: SignalName, request: ExportRequest, context: Any) -> Any:
        """Record, then succeed, fail with UNAVAILABLE, or hold, per the mode."""
        headers = {k.lower(): v if isinstance(v, str) else repr(v) for k, v in context.invocation_metadata()}
        mode: Mode | None = self._record(signal, request, headers)
        if mode == "hang":
            mode = self._hold(context.add_callback)
        if mode is None or mode == "hang":
            # Stopping, or the client cancelled: nobody is listening for an answer.
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver stopped")
        if mode == "error":
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver in error mode")
        return RESPONSE_TYPES[signal]()


# ---------------------------------------------------------------- HTTP

_PATHS: dict[str, SignalName] = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}


class _OTLPHandler(BaseHTTPRequestHandler):
    """POST /v1/{traces,metrics,logs} with protobuf (or JSON) bodies, gzip/deflate optional."""

    server: _OTLPHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging."""

    def do_POST(self) -> None:
        """Decode an export request, record it, and answer per the receiver's mode."""
        receiver = self.server.receiver
        signal = _PATHS.get(self.path.split("?", 1)[0])
        if signal is None:
            self._reply(404, b"unknown path", "text/plain")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if content_type == "application/json":
                from tests.support.otlp_json import parse_otlp_json

                message = parse_otlp_json(body.decode("utf-8"), signal)
            elif content_type == "application/x-protobuf":
                message = REQUEST_TYPES[signal].FromString(body)
            else:
                self._reply(415, f"unsupported Content-Type {content_type!r}".encode(), "text/plain")
                return
        except Exception as exc:  # the exporter under test sent garbage: tell it, as a collector would
            self._reply(400, f"cannot decode request: {exc}".encode(), "text/plain")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        mode: Mode | None = receiver._record(signal, message, headers)
        if mode == "hang":
            mode = receiver._hold()
        if mode is None or mode == "hang":
            return  # stopping: close the connection without an answer
        if mode == "error":
            self._reply(503, b"receiver in error mode", "text/plain")
        elif content_type == "application/json":
            self._reply(200, b"{}", "application/json")
        else:
            self._reply(200, RESPONSE_TYPES[signal]().SerializeToString(), "application/x-protobuf")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout) before the answer: nothing to tell it


class _OTLPHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, receiver: OTLPHttpReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _OTLPHandler)


class OTLPHttpReceiver(_ReceiverBase):
    """An OTLP/HTTP server (stdlib http.server) on 127.0.0.1; records request headers too."""

    def __init__(self, mode: Mode = "ok", port: int = 0) -> None:
        super().__init__(mode, port)
        self._server: _OTLPHttpServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, signal: SignalName) -> str:
        """Full URL for one signal, e.g. ``http://127.0.0.1:PORT/v1/traces``."""
        return f"{self.endpoint}/v1/{signal}"

    def start(self) -> None:
        """Start serving; on restart, binds the port used before."""
        if self._running:
            return
        self._server = _OTLPHttpServer(self._port, self)
        self._port = self._server.server_address[1]
        with self._cond:
            self._running = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="otlp-http-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; held "hang" requests are released and their connections closed unanswered."""
        if not self._running or self._server is None:
            return
        with self._cond:
            self._running = False
            self._release_held()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = None
        self._thread = None
