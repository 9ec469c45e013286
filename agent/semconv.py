"""Every telemetry name InferSight emits: spans, attributes, metrics, log events and signals.

One table, mirrored in the README. OpenTelemetry semantic conventions are used where
they exist (``service.*``, ``error.type``, ``process.*``, ``system.*``); model
inference has none yet, so the agent's own names live under ``ml.``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["span", "attribute", "metric", "log", "signal"]


@dataclass(frozen=True, slots=True)
class Name:
    """One emitted name: what kind of telemetry it is, its unit (metrics) and what it means."""

    name: str
    kind: Kind
    unit: str
    description: str


# -- spans and span attributes ----------------------------------------------------
SPAN_PREDICT = "predict {model}"
ATTR_MODEL_NAME = "ml.model.name"
ATTR_MODEL_VERSION = "ml.model.version"
ATTR_TASK = "ml.task"
ATTR_PREDICTION_ID = "ml.prediction.id"
ATTR_BATCH_SIZE = "ml.batch.size"
ATTR_ARTIFACT_SHA256 = "ml.model.artifact.sha256"
ATTR_STREAM_CHUNKS = "ml.stream.chunks"
ATTR_ERROR_TYPE = "error.type"
ATTR_SERVICE_INSTANCE = "service.instance.id"

# -- core metrics -------------------------------------------------------------------
INFERENCE_DURATION = "ml.inference.duration"
INFERENCE_CALLS = "ml.inference.calls"
INFERENCE_ERRORS = "ml.inference.errors"
INFERENCE_ROWS = "ml.inference.rows"
INFERENCE_IN_FLIGHT = "ml.inference.in_flight"
AGENT_DROPPED = "ml.agent.dropped"
AGENT_PLUGIN_ERRORS = "ml.agent.plugin_errors"
AGENT_EXPORT_FAILURES = "ml.agent.export_failures"
AGENT_QUEUE_SIZE = "ml.agent.queue.size"
AGENT_UNPROCESSABLE = "ml.agent.unprocessable"

# -- core log events ----------------------------------------------------------------
EVENT_STARTED = "ml.agent.started"
EVENT_STOPPED = "ml.agent.stopped"
EVENT_PLUGIN_ERROR = "ml.agent.plugin_error"
EVENT_PLUGIN_DISABLED = "ml.agent.plugin_disabled"
EVENT_PLUGIN_LOAD_FAILED = "ml.agent.plugin_load_failed"
EVENT_DROPPED = "ml.agent.dropped"
EVENT_EXPORT_FAILED = "ml.agent.export_failed"

# -- core signals (operational) -----------------------------------------------------
SIGNAL_ERROR_RATE = "ml.inference.error_rate"
SIGNAL_LATENCY_P50 = "ml.inference.latency.p50"
SIGNAL_LATENCY_P95 = "ml.inference.latency.p95"
SIGNAL_LATENCY_P99 = "ml.inference.latency.p99"
SIGNAL_THROUGHPUT = "ml.inference.throughput"
SIGNAL_DROPS = "ml.agent.dropped"
SIGNAL_PLUGIN_ERRORS = "ml.agent.plugin_errors"
SIGNAL_EXPORT_FAILURES = "ml.agent.export_failures"

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

TABLE: tuple[Name, ...] = (
    Name(SPAN_PREDICT, "span", "", "One span per monitored call (kind INTERNAL)"),
    Name(ATTR_MODEL_NAME, "attribute", "", "Model name (span and metric attribute)"),
    Name(ATTR_MODEL_VERSION, "attribute", "", "Model version (span and metric attribute)"),
    Name(ATTR_TASK, "attribute", "", "Model task: classification, regression, ranking, ..."),
    Name(ATTR_PREDICTION_ID, "attribute", "", "Id of the prediction, for joining feedback"),
    Name(ATTR_BATCH_SIZE, "attribute", "", "Rows in the call (1 for a single prediction)"),
    Name(ATTR_ARTIFACT_SHA256, "attribute", "", "SHA-256 of the model artifact, when recorded (span attribute)"),
    Name(ATTR_STREAM_CHUNKS, "attribute", "", "Items a generator model yielded"),
    Name(ATTR_ERROR_TYPE, "attribute", "", "Exception class of a failed call (OTel semconv)"),
    Name(ATTR_SERVICE_INSTANCE, "attribute", "", "Resource attribute identifying the replica"),
    Name(INFERENCE_DURATION, "metric", "s", "Histogram of call latency"),
    Name(INFERENCE_CALLS, "metric", "{call}", "Counter of monitored calls"),
    Name(INFERENCE_ERRORS, "metric", "{call}", "Counter of calls that raised, by error.type"),
    Name(INFERENCE_ROWS, "metric", "{row}", "Counter of rows predicted (batch calls count N)"),
    Name(INFERENCE_IN_FLIGHT, "metric", "{call}", "Calls currently executing"),
    Name(AGENT_DROPPED, "metric", "{record}", "Captures or stats dropped because a queue was full"),
    Name(AGENT_PLUGIN_ERRORS, "metric", "{error}", "Plugin hook calls that raised, by plugin and hook"),
    Name(AGENT_EXPORT_FAILURES, "metric", "{export}", "Exports that failed, by signal"),
    Name(AGENT_QUEUE_SIZE, "metric", "{record}", "Captured records waiting for the worker"),
    Name(AGENT_UNPROCESSABLE, "metric", "{row}", "Captured inputs that could not be normalised"),
    Name(EVENT_STARTED, "log", "", "Agent started; resolved config without secrets"),
    Name(EVENT_STOPPED, "log", "", "Agent stopped; final counts"),
    Name(EVENT_PLUGIN_ERROR, "log", "", "A plugin hook raised; names plugin and hook"),
    Name(EVENT_PLUGIN_DISABLED, "log", "", "A plugin failed too often and was disabled"),
    Name(EVENT_PLUGIN_LOAD_FAILED, "log", "", "An entry point or import path failed to load"),
    Name(EVENT_DROPPED, "log", "", "Records were dropped (rate-limited event)"),
    Name(EVENT_EXPORT_FAILED, "log", "", "An exporter reported failure (rate-limited event)"),
    Name(SIGNAL_ERROR_RATE, "signal", "1", "Share of calls that raised over the last tick window"),
    Name(SIGNAL_LATENCY_P50, "signal", "s", "Median latency over the signal window"),
    Name(SIGNAL_LATENCY_P95, "signal", "s", "95th percentile latency over the signal window"),
    Name(SIGNAL_LATENCY_P99, "signal", "s", "99th percentile latency over the signal window"),
    Name(SIGNAL_THROUGHPUT, "signal", "{call}/s", "Calls per second over the signal window"),
    Name(SIGNAL_DROPS, "signal", "{record}", "Records dropped since the previous window"),
    Name(SIGNAL_PLUGIN_ERRORS, "signal", "{error}", "Plugin errors since the previous window"),
    Name(SIGNAL_EXPORT_FAILURES, "signal", "{export}", "Export failures since the previous window"),
)
