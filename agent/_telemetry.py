"""Telemetry pipelines: resource, tracer/meter/logger providers and their exporters.

The agent never overrides a global provider the application already configured: when
one is an SDK provider it is reused and the agent adds no exporter of its own for that
signal (the application's pipeline already exports it). Otherwise the agent builds
private providers, and sets them as global only when ``agent.set_global_providers``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import _logs as logs_api
from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from agent import _fileexport
from agent._config import Settings
from agent.semconv import ATTR_SERVICE_INSTANCE

SCOPE = "infersight"


def build_resource(settings: Settings) -> Resource:
    """The resource every signal carries: service name, instance id and configured attributes."""
    attrs: dict[str, Any] = dict(settings.service["attributes"])
    attrs["service.name"] = settings.service["name"]
    attrs[ATTR_SERVICE_INSTANCE] = settings.service["instance_id"]
    attrs.setdefault("telemetry.distro.name", "infersight")
    return Resource.create(attrs)


def build_sampler(settings: Settings) -> Sampler:
    """The trace sampler from ``traces.sampler`` / OTEL_TRACES_SAMPLER."""
    name, arg = settings.traces["sampler"], settings.traces["sampler_arg"]
    base: Sampler = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(arg),
    }.get(name.removeprefix("parentbased_"), ALWAYS_ON)
    return ParentBased(base) if name.startswith("parentbased_") else base


class FailureCounter:
    """Counts failed exports per signal; read by the worker for metrics and signals."""

    def __init__(self) -> None:
        self._counts = {s: itertools.count() for s in ("traces", "metrics", "logs")}

    def failed(self, signal: str) -> None:
        """Record one failed export of ``signal``."""
        next(self._counts[signal])

    def total(self, signal: str) -> int:
        """Failed exports of ``signal`` so far."""
        return int(repr(self._counts[signal])[6:-1])  # "count(N)"


class _CountingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, failures: FailureCounter) -> None:
        self.inner, self.failures = inner, failures

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self.failures.failed("traces")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _CountingMetricExporter(MetricExporter):
    """Counts failed exports and adds the worker-aggregated metrics (the latency histogram) to each export."""

    def __init__(
        self,
        inner: MetricExporter,
        failures: FailureCounter,
        extra: Callable[[MetricsData], MetricsData | None] | None = None,
    ) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner, self.failures, self.extra = inner, failures, extra

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            if self.extra is not None:
                metrics_data = self.extra(metrics_data) or metrics_data
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:
            result = MetricExportResult.FAILURE
        if result is not MetricExportResult.SUCCESS:
            self.failures.failed("metrics")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _CountingLogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter, failures: FailureCounter) -> None:
        self.inner, self.failures = inner, failures

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            result = self.inner.export(batch)
        except Exception:
            result = LogRecordExportResult.FAILURE
        if result is not LogRecordExportResult.SUCCESS:
            self.failures.failed("logs")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _queue_full(processor: Any) -> bool:
    """Whether the SDK batch processor's queue is full (its next item would be dropped)."""
    queue = getattr(getattr(processor, "_batch_processor", None), "_queue", None)
    return queue is not None and queue.maxlen is not None and len(queue) >= queue.maxlen


class _QueueFullFilter(logging.Filter):
    """Drops the SDK's per-item "Queue full, dropping" warning: the agent counts those drops instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Queue full, dropping")


logging.getLogger("opentelemetry.sdk._shared_internal").addFilter(_QueueFullFilter())


class _DropCountingSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts the spans its full queue drops (the SDK only logs them)."""

    def __init__(self, exporter: SpanExporter, on_drop: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._on_drop = on_drop

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled and _queue_full(self):
            self._on_drop("spans")
        super().on_end(span)


class _DropCountingLogProcessor(BatchLogRecordProcessor):
    """A BatchLogRecordProcessor that counts the records its full queue drops."""

    def __init__(self, exporter: LogRecordExporter, on_drop: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._on_drop = on_drop

    def on_emit(self, log_record: Any) -> None:
        if _queue_full(self):
            self._on_drop("logs")
        super().on_emit(log_record)


@dataclass
class Exporters:
    """Factories of the exporters configured for each signal (empty lists when a signal is off)."""

    span: list[Callable[[], SpanExporter]]
    metric: list[Callable[[], MetricExporter]]
    log: list[Callable[[], LogRecordExporter]]
    log_types: tuple[str, ...] = ()


def _otlp_kwargs(exp: dict[str, Any], signal: str) -> dict[str, Any]:
    """Keyword arguments for the SDK's OTLP exporter of ``signal`` from its effective settings."""
    endpoint = str(exp["endpoint"]).rstrip("/")
    kwargs: dict[str, Any] = {"headers": dict(exp["headers"]) or None, "timeout": exp["timeout"]}
    if exp["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression

        kwargs["endpoint"] = endpoint
        insecure = exp["insecure"]
        kwargs["insecure"] = endpoint.startswith("http://") if insecure is None else insecure
        if exp["compression"] == "gzip":
            kwargs["compression"] = GrpcCompression.Gzip
        if exp["certificate"]:
            import grpc

            with open(exp["certificate"], "rb") as fh:
                kwargs["credentials"] = grpc.ssl_channel_credentials(fh.read())
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression

        # A per-signal endpoint is used as given (OTLP specification); the shared one gets the path.
        kwargs["endpoint"] = str(exp["endpoint"]) if exp.get("endpoint_is_full") else f"{endpoint}/v1/{signal}"
        if exp["compression"] == "gzip":
            kwargs["compression"] = HttpCompression.Gzip
        if exp["certificate"]:
            kwargs["certificate_file"] = exp["certificate"]
    return kwargs


def _otlp_factory(exp: dict[str, Any], signal: str) -> Callable[[], Any]:
    grpc = exp["protocol"] == "grpc"
    if signal == "traces":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GSpan

            return lambda: GSpan(**_otlp_kwargs(exp, signal))
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HSpan

        return lambda: HSpan(**_otlp_kwargs(exp, signal))
    if signal == "metrics":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GMetric

            return lambda: GMetric(**_otlp_kwargs(exp, signal))
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HMetric

        return lambda: HMetric(**_otlp_kwargs(exp, signal))
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GLog

        return lambda: GLog(**_otlp_kwargs(exp, signal))
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HLog

    return lambda: HLog(**_otlp_kwargs(exp, signal))


_CONSOLE: dict[str, Callable[[], Any]] = {
    # Bound to the sys.stdout of build time, not of the SDK's import, so redirection works.
    "traces": lambda: ConsoleSpanExporter(out=sys.stdout),
    "metrics": lambda: ConsoleMetricExporter(out=sys.stdout),
    "logs": lambda: ConsoleLogRecordExporter(out=sys.stdout),
}
_FILE: dict[str, Callable[[Any], Any]] = {
    "traces": _fileexport.FileSpanExporter,
    "metrics": _fileexport.FileMetricExporter,
    "logs": _fileexport.FileLogExporter,
}


def build_exporters(settings: Settings) -> Exporters:
    """Exporter factories per signal: otlp (gRPC or HTTP), console, file, several at once, or none."""
    out: dict[str, list[Callable[[], Any]]] = {"traces": [], "metrics": [], "logs": []}
    writers: dict[str, Any] | None = None
    for signal in ("traces", "metrics", "logs"):
        exp = settings.signal_exporter(signal)
        for kind in exp["type"]:
            if kind == "otlp":
                out[signal].append(_otlp_factory(exp, signal))
            elif kind == "console":
                out[signal].append(_CONSOLE[signal])
            elif kind == "file":
                if writers is None:
                    writers = _fileexport.file_writers(
                        settings.data_dir, settings.exporter["max_file_bytes"], settings.exporter["max_files"],
                        settings.agent["file_mode"],
                    )
                out[signal].append(functools.partial(_FILE[signal], writers[signal]))
    log_types = tuple(t for t in settings.signal_exporter("logs")["type"] if t != "none")
    return Exporters(out["traces"], out["metrics"], out["logs"], log_types)


@dataclass
class Pipelines:
    """The providers the agent uses, and which of them it owns (must flush and shut down)."""

    tracer_provider: trace_api.TracerProvider
    meter_provider: metrics_api.MeterProvider
    logger_provider: logs_api.LoggerProvider
    resource: Resource
    exporters: Exporters
    failures: FailureCounter
    owned: list[Any] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def new_log_exporter(self) -> LogRecordExporter | None:
        """A fresh counting log exporter, for plugins that track export success themselves.

        With several log exporters, the one that leaves the process: otlp, else file, else console.
        """
        if not self.exporters.log:
            return None
        ranked = sorted(range(len(self.exporters.log)),
                        key=lambda i: ("otlp", "file", "console").index(self.exporters.log_types[i])
                        if i < len(self.exporters.log_types) else 3)
        return _CountingLogExporter(self.exporters.log[ranked[0]](), self.failures)

    def force_flush(self, timeout_s: float) -> bool:
        """Flush every owned provider in parallel; all share the one ``timeout_s`` budget."""
        millis = int(timeout_s * 1000)
        results = _run_all_with_timeout(
            [functools.partial(provider.force_flush, millis) for provider in self.owned], timeout_s
        )
        return all(bool(r) for r in results)

    def shutdown(self, timeout_s: float) -> None:
        """Shut down every owned provider in parallel, never waiting longer than ``timeout_s`` in all."""
        _run_all_with_timeout([provider.shutdown for provider in self.owned], timeout_s)


def _run_all_with_timeout(fns: Sequence[Callable[[], Any]], timeout_s: float) -> list[Any]:
    """Run each of ``fns`` on its own daemon thread; wait at most ``timeout_s`` for all (None for late ones).

    In parallel, not in turn: one hung exporter must neither starve the other signals
    nor multiply the wait (three providers in turn took up to three times the budget).
    """
    boxes: list[list[Any]] = [[] for _ in fns]

    def run(fn: Callable[[], Any], box: list[Any]) -> None:
        try:
            box.append(fn())
        except Exception:  # the SDK raises when a reader times out: that is a flush that did not finish
            box.append(False)

    threads = [
        threading.Thread(target=run, args=(fn, box), name="infersight-flush", daemon=True)
        for fn, box in zip(fns, boxes, strict=True)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [box[0] if box else None for box in boxes]


def build_pipelines(
    settings: Settings,
    extra_metric_readers: Sequence[MetricReader] = (),
    extra_metrics: Callable[[MetricsData], MetricsData | None] | None = None,
    on_drop: Callable[[str], None] = lambda reason: None,
) -> Pipelines:
    """Create (or reuse) the three providers with the configured exporters."""
    resource = build_resource(settings)
    exporters = build_exporters(settings)
    failures = FailureCounter()
    owned: list[Any] = []
    reused: list[str] = []

    global_tp = trace_api.get_tracer_provider()
    if isinstance(global_tp, TracerProvider):
        tracer_provider: trace_api.TracerProvider = global_tp
        reused.append("traces")
    else:
        # shutdown_on_exit=False: the agent's own atexit hook shuts them down in order, and
        # each SDK atexit handler would keep a provider alive until exit after every re-init.
        tp = TracerProvider(resource=resource, sampler=build_sampler(settings), shutdown_on_exit=False)
        for make_span in exporters.span:
            tp.add_span_processor(
                _DropCountingSpanProcessor(
                    _CountingSpanExporter(make_span(), failures), on_drop, max_queue_size=8192
                )
            )
        tracer_provider = tp
        owned.append(tp)

    global_mp = metrics_api.get_meter_provider()
    if isinstance(global_mp, MeterProvider):
        meter_provider: metrics_api.MeterProvider = global_mp
        reused.append("metrics")
    else:
        readers: list[MetricReader] = list(extra_metric_readers)
        for make_metric in exporters.metric:
            readers.append(
                PeriodicExportingMetricReader(
                    _CountingMetricExporter(make_metric(), failures, extra_metrics),
                    export_interval_millis=settings.metrics["export_interval"] * 1000,
                    export_timeout_millis=settings.exporter["timeout"] * 1000,
                )
            )
        mp = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
        meter_provider = mp
        owned.append(mp)

    global_lp = logs_api.get_logger_provider()
    if isinstance(global_lp, LoggerProvider):
        logger_provider: logs_api.LoggerProvider = global_lp
        reused.append("logs")
    else:
        lp = LoggerProvider(resource=resource, shutdown_on_exit=False)
        for make_log in exporters.log:
            lp.add_log_record_processor(
                _DropCountingLogProcessor(
                    _CountingLogExporter(make_log(), failures), on_drop, max_queue_size=8192
                )
            )
        logger_provider = lp
        owned.append(lp)

    if settings.agent["set_global_providers"]:
        if "traces" not in reused:
            trace_api.set_tracer_provider(tracer_provider)
        if "metrics" not in reused:
            metrics_api.set_meter_provider(meter_provider)
        if "logs" not in reused:
            logs_api.set_logger_provider(logger_provider)

    return Pipelines(tracer_provider, meter_provider, logger_provider, resource, exporters, failures, owned, reused)
