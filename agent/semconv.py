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
ATTR_FEATURE_NAME = "ml.feature.name"  # attribute of plugins' per-feature metrics and events
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
EVENT_PLUGIN_TIMEOUT = "ml.agent.plugin_timeout"
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
    Name(EVENT_PLUGIN_TIMEOUT, "log", "", "A plugin hook overran its time limit; the plugin was disabled"),
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
    # -- built-in plugins (their constants live in plugins/*/names.py; a test keeps both in step) --
    Name("ml.drift.statistic", "metric", "1", "Gauge; attributes model, version, feature, test"),
    Name("ml.drift.p_value", "metric", "1", "Gauge; attributes model, version, feature, test (corrected p-value)"),
    Name("ml.drift.effect_size", "metric", "1", "Gauge; attributes model, version, feature, test"),
    Name("ml.drift.detected", "metric", "1", "Gauge; attributes (0/1): model, version, feature, test"),
    Name("ml.drift.summary", "metric", "1", "Gauge; attributes model, version, feature, stat, sample"),
    Name("ml.drift.skipped", "metric", "{test}", "Counter; attributes model, version, feature, reason"),
    Name("ml.drift.bad_values", "metric", "{value}", "Counter; attributes model, version, feature, reason"),
    Name("ml.drift.windows", "metric", "{window}", "Counter; attributes model, version, stream"),
    Name("ml.feature.name", "attribute", "", "Attribute: feature"),
    Name("ml.drift.test", "attribute", "", "Attribute: test"),
    Name("ml.drift.stat", "attribute", "", "count, missing_rate, min, ..., kurtosis, or freq:<category>"),
    Name("ml.drift.sample", "attribute", "", "window | reference"),
    Name("ml.drift.reason", "attribute", "", "Attribute: reason"),
    Name("ml.drift.stream", "attribute", "", "inputs | outputs | labels"),
    Name("ml.drift.detected", "log", "", "warning, one per drifted result"),
    Name("ml.drift.schema_change", "log", "", "warning, one per schema change"),
    Name("ml.drift.reference_set", "log", "", "info, reference summarised"),
    Name("ml.drift.detected", "signal", "", "0/1; labels model, version, feature, test"),
    Name("ml.drift.effect_size", "signal", "", "labels model, version, feature, test"),
    Name("ml.drift.feature_added", "signal", "", "1; labels model, version, feature"),
    Name("ml.drift.feature_missing", "signal", "", "1; labels model, version, feature"),
    Name("ml.drift.new_category", "signal", "", "rows with unseen values; labels + feature"),
    Name("ml.drift.new_output_class", "signal", "", "rows with an unseen output class"),
    Name("ml.drift.output_out_of_range", "signal", "", "share of outputs outside ref range"),
    Name("ml.validation.violations", "metric", "{violation}", "Counter; attributes model, feature, kind"),
    Name("ml.validation.rows", "metric", "{row}", "Counter; attributes model"),
    Name("ml.validation.unprocessable", "metric", "{row}", "Counter; attributes model, reason"),
    Name("ml.validation.outlier_rate", "metric", "1", "Gauge; attributes model, feature (per closed window)"),
    Name("ml.validation.labels", "metric", "{label}", "Counter; attributes model, outcome (edge-case joins)"),
    Name("ml.validation.kind", "attribute", "", "Attribute: kind"),
    Name("ml.validation.reason", "attribute", "", "Attribute: reason"),
    Name("ml.validation.label_outcome", "attribute", "", "Attribute: outcome"),
    Name("ml.validation.violation", "log", "", "warning, one per (feature, kind) per window"),
    Name("ml.validation.edge_case", "log", "", "warning, one per edge-case slice"),
    Name("ml.validation.edge_cases", "log", "", "info, summary of the labelled window"),
    Name("ml.validation.violation_rate", "signal", "", "labels model, feature, kind"),
    Name("ml.validation.outlier_rate", "signal", "", "labels model, feature"),
    Name("ml.validation.edge_case", "signal", "", "labels model, feature, slice; value = error ratio"),
    Name("process.cpu.time", "metric", "s", "Process CPU time by cpu.mode (OTel semconv)"),
    Name("process.cpu.utilization", "metric", "1", "Process CPU utilisation by cpu.mode (OTel semconv)"),
    Name("process.memory.usage", "metric", "By", "Resident set size (OTel semconv)"),
    Name("process.memory.virtual", "metric", "By", "Virtual memory size (OTel semconv)"),
    Name("process.unix.file_descriptor.count", "metric", "{file_descriptor}", "Open file descriptors (OTel semconv)"),
    Name("process.thread.count", "metric", "{thread}", "Threads of the process (OTel semconv)"),
    Name("cpython.gc.collections", "metric", "{collection}", "GC collections by generation (OTel semconv)"),
    Name("cpython.gc.collected_objects", "metric", "{object}", "Objects collected by the GC (OTel semconv)"),
    Name("cpython.gc.uncollectable_objects", "metric", "{object}", "Uncollectable objects (OTel semconv)"),
    Name("ml.runtime.gc.pause_time", "metric", "s", "Time spent in GC pauses"),
    Name("system.cpu.utilization", "metric", "1", "System CPU utilisation (OTel semconv)"),
    Name("system.memory.usage", "metric", "By", "System memory by state (OTel semconv)"),
    Name("system.memory.limit", "metric", "By", "Total system memory (OTel semconv)"),
    Name("system.memory.utilization", "metric", "1", "System memory utilisation (OTel semconv)"),
    Name("system.filesystem.usage", "metric", "By", "Data-directory filesystem usage by state (OTel semconv)"),
    Name("system.filesystem.utilization", "metric", "1", "Data-directory filesystem utilisation (OTel semconv)"),
    Name("hw.gpu.utilization", "metric", "1", "GPU utilisation, when NVML is available (OTel semconv)"),
    Name("hw.gpu.memory.usage", "metric", "By", "GPU memory used (OTel semconv)"),
    Name("hw.gpu.memory.limit", "metric", "By", "GPU memory size (OTel semconv)"),
    Name("hw.gpu.memory.utilization", "metric", "1", "GPU memory utilisation (OTel semconv)"),
    Name("hw.temperature", "metric", "Cel", "GPU temperature (OTel semconv)"),
    Name("cpu.mode", "attribute", "", "Attribute: cpu mode"),
    Name("cpython.gc.generation", "attribute", "", "Attribute: gc generation"),
    Name("system.memory.state", "attribute", "", "Attribute: memory state"),
    Name("system.filesystem.state", "attribute", "", "Attribute: fs state"),
    Name("system.filesystem.mountpoint", "attribute", "", "Attribute: fs mountpoint"),
    Name("hw.id", "attribute", "", "Attribute: hw id"),
    Name("hw.name", "attribute", "", "Attribute: hw name"),
    Name("hw.type", "attribute", "", "Attribute: hw type"),
    Name("hw.vendor", "attribute", "", "Attribute: hw vendor"),
    Name("hw.gpu.task", "attribute", "", "Attribute: hw gpu task"),
    Name("ml.agent.up", "metric", "", "Heartbeat: 1 while the agent runs; alert on absence"),
    Name("ml.agent.start_time", "attribute", "", "Attribute: start time"),
    Name("ml.dependency.info", "metric", "", "1 per installed dependency, labelled with its version"),
    Name("ml.dependency.package", "attribute", "", "Attribute: package"),
    Name("ml.dependency.version", "attribute", "", "Attribute: package version"),
    Name("ml.deployment.digest_mismatch", "signal", "", "Health signal: digest mismatch"),
    Name("ml.deployment.version_mismatch", "signal", "", "Health signal: version mismatch"),
    Name("ml.dependency.version_mismatch", "signal", "", "Health signal: dependency mismatch"),
    Name("ml.dependency.import_error", "signal", "", "Health signal: import error"),
    Name("ml.agent.path_problem", "signal", "", "Health signal: path problem"),
    Name("ml.deployment.artifact", "log", "", "Health event: artifact"),
    Name("ml.deployment.mismatch", "log", "", "Health event: deployment mismatch"),
    Name("ml.dependency.inventory", "log", "", "Health event: inventory"),
    Name("ml.dependency.mismatch", "log", "", "Health event: dependency mismatch"),
    Name("ml.dependency.import_error", "log", "", "Health event: import error"),
    Name("ml.agent.path_problem", "log", "", "Health event: path problem"),
    Name("ml.agent.health.collection_failed", "log", "", "Health event: collection failed"),
    Name("ml.feedback.count", "metric", "{event}", "Counter of feedback events made durable; by ml.feedback.kind"),
    Name("ml.feedback.joined", "metric", "{event}", "Counter of feedback events joined to their prediction"),
    Name("ml.feedback.orphans", "metric", "{event}", "Counter of orphaned feedback (unknown or pruned prediction)"),
    Name("ml.feedback.duplicates", "metric", "{event}", "Counter of repeated event ids or labels; by what"),
    Name("ml.feedback.late", "metric", "{event}", "Counter of clicks that arrived after their window was scored"),
    Name("ml.feedback.pending", "metric", "{event}", "Gauge: feedback waiting for its prediction record"),
    Name("ml.feedback.label_delay", "metric", "s", "Histogram of time from prediction to label"),
    Name("ml.feedback.labelled_ratio", "metric", "1", "Gauge: share of a window's predictions labelled so far"),
    Name("ml.feedback.exported", "metric", "{event}", "Counter of feedback events exported as OTLP log records"),
    Name("ml.feedback.export_failures", "metric", "{export}", "Counter of failed feedback exports (retried)"),
    Name("ml.feedback.kind", "attribute", "", "Feedback kind: click, hide, purchase, ..., label, or a custom kind"),
    Name("ml.feedback", "log", "", "One OTLP log record per feedback event, parented to the prediction's span"),
    Name("ml.performance.accuracy", "metric", "1", "Gauge: realized accuracy per window (classification)"),
    Name("ml.performance.precision", "metric", "1", "Gauge: realized precision per window"),
    Name("ml.performance.recall", "metric", "1", "Gauge: realized recall per window"),
    Name("ml.performance.f1", "metric", "1", "Gauge: realized F1 per window"),
    Name("ml.performance.auc_roc", "metric", "1", "Gauge: realized AUC-ROC from scores per window"),
    Name("ml.performance.log_loss", "metric", "1", "Gauge: realized log loss per window"),
    Name("ml.performance.mae", "metric", "1", "Gauge: realized mean absolute error per window (regression)"),
    Name("ml.performance.rmse", "metric", "1", "Gauge: realized root mean squared error per window"),
    Name("ml.performance.mape", "metric", "1", "Gauge: realized mean absolute percentage error per window"),
    Name("ml.performance.ctr", "metric", "1", "Gauge: click-through rate per window (ranking)"),
    Name("ml.performance.precision_at_<k>", "metric", "1", "Gauge: precision@k from clicks per window"),
    Name("ml.performance.ndcg_at_<k>", "metric", "1", "Gauge: nDCG@k from clicks per window"),
    Name("ml.performance.<metric>", "signal", "", "Each realized performance metric per window"),
    Name("ml.performance.degraded", "signal", "", "A metric dropped beyond its threshold vs the baseline window"),
    Name("ml.recsys.coverage", "metric", "1", "Gauge: catalog coverage of the window's impressions; by ml.traffic"),
    Name("ml.recsys.gini", "metric", "1", "Gauge: gini index of exposure over the whole catalog; by ml.traffic"),
    Name("ml.recsys.arp", "metric", "1", "Gauge: average recommendation popularity; by ml.traffic"),
    Name("ml.recsys.long_tail_share", "metric", "1", "Gauge: share of long-tail items in lists (APLT); by ml.traffic"),
    Name("ml.recsys.head_tail_ctr_ratio", "metric", "1", "Gauge: cTR on head items ÷ CTR on tail items; by ml.traffic"),
    Name("ml.recsys.ctr_by_position", "metric", "1", "Gauge: click-through rate by position (position bias curve)"),
    Name("ml.recsys.late_clicks", "metric", "{click}", "Counter of clicks after their window was scored"),
    Name("ml.recsys.unmatched_clicks", "metric", "{click}", "Counter of clicks whose list was never seen"),
    Name("ml.recsys.gini", "signal", "", "Gini of exposure per window"),
    Name("ml.recsys.coverage", "signal", "", "Catalog coverage per window"),
    Name("ml.recsys.feedback_loop", "signal", "", "1 when Gini rises while coverage falls over the trend windows"),
    Name("ml.alerts.firing", "metric", "{alert}", "Gauge of firing alerts; attributes rule, severity"),
    Name("ml.alerts.notifications", "metric", "{notification}", "Notifications sent; by channel, status"),
    Name("ml.alerts.notification_failures", "metric", "{notification}", "Failed deliveries; by channel, reason"),
    Name("ml.alerts.started", "log", "", "Alert engine started: rules and channels (secrets masked)"),
    Name("ml.alerts.notification", "log", "", "log channel: one event per notification"),
    Name("ml.alerts.notification_retry", "log", "", "A delivery failed and will be retried"),
    Name("ml.alerts.notification_sent", "log", "", "A notification was delivered (debug)"),
    Name("ml.alerts.notification_failed", "log", "", "A delivery gave up after its retries (kept in the outbox)"),
    Name("ml.alerts.queue_full", "log", "", "The delivery queue was full; the notification stays in the outbox"),
    Name("ml.alerts.delivery_error", "log", "", "Unexpected error on the delivery thread"),
    Name("ml.alerts.outbox_error", "log", "", "The persisted outbox could not be read or written"),
    Name("ml.alerts.outbox_expired", "log", "", "Undelivered notifications older than outbox_max_age were discarded"),
    Name("ml.alerts.skipped_signals", "metric", "{signal}", "Counter: Signals the rules could not evaluate, by ml.alerts.reason"),
    Name("ml.alerts.outbox_errors", "metric", "{error}", "Counter: Outbox or state-file errors, by ml.alerts.reason"),
    Name("ml.alerts.delivery_errors", "metric", "{error}", "Counter: Unexpected errors caught on a channel's delivery thread, by ml.alerts.channel"),
    Name("ml.alerts.rule", "attribute", "", "Attribute (alerts): rule"),
    Name("ml.alerts.severity", "attribute", "", "Attribute (alerts): severity"),
    Name("ml.alerts.channel", "attribute", "", "Attribute (alerts): channel"),
    Name("ml.alerts.channel_type", "attribute", "", "Attribute (alerts): channel type"),
    Name("ml.alerts.status", "attribute", "", "Attribute (alerts): status"),
    Name("ml.alerts.reason", "attribute", "", "Attribute (alerts): reason"),
    Name("ml.alerts.error", "attribute", "", "Attribute (alerts): error"),
    Name("ml.alerts.url", "attribute", "", "Attribute (alerts): url"),
    Name("ml.alerts.group_key", "attribute", "", "Attribute (alerts): group key"),
    Name("ml.alerts.alert_count", "attribute", "", "Attribute (alerts): alert count"),
    Name("ml.alerts.attempts", "attribute", "", "Attribute (alerts): attempts"),
    Name("ml.alerts.retry_delay", "attribute", "s", "Attribute (alerts): retry delay"),
    Name("ml.alerts.kept_in_outbox", "attribute", "", "Attribute (alerts): kept in outbox"),
    Name("ml.alerts.queue_size", "attribute", "", "Attribute (alerts): queue size"),
    Name("ml.alerts.rule_count", "attribute", "", "Attribute (alerts): rule count"),
    Name("ml.alerts.channels", "attribute", "", "Attribute (alerts): channels"),
    Name("ml.alerts.redelivering", "attribute", "", "Attribute (alerts): redelivering"),
    Name("ml.alerts.expired", "attribute", "", "Attribute (alerts): expired"),
    Name("ml.alerts.outbox_max_age", "attribute", "s", "Attribute (alerts): outbox max age"),
    Name("ml.drift.rows.received", "metric", "{row}", "Counter: Rows handed to the drift plugin; by model, version, ml.drift.stream"),
    Name("ml.drift.rows.tested", "metric", "{row}", "Counter: Rows of closed windows tested against the reference"),
    Name("ml.drift.rows.dropped", "metric", "{row}", "Counter: Rows received but not tested, by ml.drift.reason"),
    Name("ml.drift.corrected_p_value", "attribute", "", "Attribute (drift): corrected p value"),
    Name("ml.drift.effect_name", "attribute", "", "Attribute (drift): effect name"),
    Name("ml.drift.threshold", "attribute", "", "Attribute (drift): threshold"),
    Name("ml.drift.reference_rows", "attribute", "", "Attribute (drift): reference rows"),
    Name("ml.drift.window.number", "attribute", "", "Attribute (drift): window.number"),
    Name("ml.drift.window.start", "attribute", "s", "Attribute (drift): window.start"),
    Name("ml.drift.window.end", "attribute", "s", "Attribute (drift): window.end"),
    Name("ml.drift.window.rows", "attribute", "", "Attribute (drift): window.rows"),
    Name("ml.drift.window.rows_seen", "attribute", "", "Attribute (drift): window.rows seen"),
    Name("ml.drift.drifted", "attribute", "", "Attribute (drift): drifted"),
    Name("ml.drift.drifted_features", "attribute", "", "Attribute (drift): drifted features"),
    Name("ml.drift.results", "attribute", "", "Attribute (drift): results"),
    Name("ml.drift.schema_changes", "attribute", "", "Attribute (drift): schema changes"),
    Name("ml.drift.change", "attribute", "", "Attribute (drift): change"),
    Name("ml.drift.count", "attribute", "", "Attribute (drift): count"),
    Name("ml.drift.examples", "attribute", "", "Attribute (drift): examples"),
    Name("ml.drift.reference_source", "attribute", "", "Attribute (drift): reference source"),
    Name("ml.drift.features", "attribute", "", "Attribute (drift): features"),
    Name("ml.drift.vector_features", "attribute", "", "Attribute (drift): vector features"),
    Name("ml.drift.summaries", "attribute", "", "Attribute (drift): summaries"),
    Name("ml.drift.window", "log", "", "info, one per closed window per stream: every test's result as JSON (the report reads it)"),
    Name("ml.feedback.received", "metric", "{event}", "Counter: feedback events handed to log_feedback"),
    Name("ml.feedback.dropped", "metric", "{event}", "Counter: events not stored, by ml.feedback.reason (invalid, duplicate, store_error)"),
    Name("ml.feedback.prediction_rows", "metric", "{row}", "Counter: captured rows received for the feedback join"),
    Name("ml.feedback.prediction_rows_stored", "metric", "{row}", "Counter: captured rows remembered for the join"),
    Name("ml.feedback.prediction_rows_dropped", "metric", "{row}", "Counter: rows not remembered, by ml.feedback.reason"),
    Name("ml.feedback.reason", "attribute", "", "Attribute (feedback): reason"),
    Name("ml.feedback.duplicate", "attribute", "", "Attribute (feedback): duplicate"),
    Name("ml.feedback.event_id", "attribute", "", "Attribute (feedback): event id"),
    Name("ml.feedback.value", "attribute", "", "Attribute (feedback): value"),
    Name("ml.feedback.item_id", "attribute", "", "Attribute (feedback): item id"),
    Name("ml.feedback.position", "attribute", "", "Attribute (feedback): position"),
    Name("ml.performance.metric", "attribute", "", "Attribute (feedback): metric"),
    Name("ml.performance.drop", "attribute", "", "Attribute (feedback): drop"),
    Name("ml.performance.baseline", "attribute", "", "Attribute (feedback): baseline"),
    Name("ml.performance.current", "attribute", "", "Attribute (feedback): current"),
    Name("ml.performance.threshold", "attribute", "", "Attribute (feedback): threshold"),
    Name("ml.performance.window_rows", "attribute", "", "Attribute (feedback): window rows"),
    Name("ml.feedback.operation", "attribute", "", "Attribute (feedback): operation"),
    Name("exception.type", "attribute", "", "Attribute (feedback): type"),
    Name("exception.message", "attribute", "", "Attribute (feedback): message"),
    Name("ml.feedback.store_error", "log", "", "warning: the feedback store failed (adding predictions, export, permissions)"),
    Name("process.runtime.version", "attribute", "", "Attribute (health): version"),
    Name("error.message", "attribute", "", "Attribute (health): message"),
    Name("ml.agent.health.collection_failures", "metric", "{failure}", "Counter: Readings of process, system or GPU metrics that failed, by ml.agent.health.instrument"),
    Name("ml.model.artifact.size", "attribute", "By", "Attribute (health): artifact.size"),
    Name("ml.model.artifact.path", "attribute", "", "Attribute (health): artifact.path"),
    Name("ml.deployment.kind", "attribute", "", "Attribute (health): kind"),
    Name("ml.deployment.expected", "attribute", "", "Attribute (health): expected"),
    Name("ml.deployment.actual", "attribute", "", "Attribute (health): actual"),
    Name("ml.dependency.pin", "attribute", "", "Attribute (health): pin"),
    Name("ml.dependency.packages", "attribute", "", "Attribute (health): packages"),
    Name("ml.path.location", "attribute", "", "Attribute (health): location"),
    Name("ml.path.role", "attribute", "", "Attribute (health): role"),
    Name("ml.path.access", "attribute", "", "Attribute (health): access"),
    Name("ml.agent.health.instrument", "attribute", "", "Attribute (health): health.instrument"),
    Name("ml.alerts.alert", "log", "", "otlp channel: one event per alert, attributes ml.alerts.*, level from the rule's severity"),
    Name("ml.alerts.headline", "attribute", "", "Attribute (notifiers): headline"),
    Name("ml.alerts.alerts", "attribute", "", "Attribute (notifiers): alerts"),
    Name("ml.alerts.fingerprint", "attribute", "", "Attribute (notifiers): fingerprint"),
    Name("ml.alerts.value", "attribute", "", "Attribute (notifiers): value"),
    Name("ml.alerts.threshold", "attribute", "", "Attribute (notifiers): threshold"),
    Name("ml.alerts.starts_at", "attribute", "", "Attribute (notifiers): starts at"),
    Name("ml.alerts.ends_at", "attribute", "", "Attribute (notifiers): ends at"),
    Name("ml.alerts.summary", "attribute", "", "Attribute (notifiers): summary"),
    Name("ml.alerts.description", "attribute", "", "Attribute (notifiers): description"),
    Name("ml.alerts.label.<name>", "attribute", "", "Attribute (notifiers): label.<name>"),
    Name("ml.recsys.lists", "metric", "{list}", "Counter: captured rows (lists) of ranking models"),
    Name("ml.recsys.lists_scored", "metric", "{list}", "Counter: lists in scored windows"),
    Name("ml.recsys.lists_dropped", "metric", "{list}", "Counter: lists not scored, by ml.recsys.reason"),
    Name("ml.recsys.clicks", "metric", "{click}", "Counter: click feedback received"),
    Name("ml.recsys.clicks_attributed", "metric", "{click}", "Counter: clicks attributed to a shown slot"),
    Name("ml.recsys.traffic", "attribute", "", "Attribute (recsys): traffic"),
    Name("ml.recsys.position", "attribute", "", "Attribute (recsys): position"),
    Name("ml.recsys.reason", "attribute", "", "Attribute (recsys): reason"),
    Name("ml.recsys.window", "attribute", "", "Attribute (recsys): window"),
    Name("ml.recsys.gini_change", "attribute", "", "Attribute (recsys): gini change"),
    Name("ml.recsys.coverage_change", "attribute", "", "Attribute (recsys): coverage change"),
    Name("ml.recsys.trend_windows", "attribute", "", "Attribute (recsys): trend windows"),
    Name("ml.validation.count", "attribute", "", "Attribute (validation): count"),
    Name("ml.validation.window_rows", "attribute", "", "Attribute (validation): window rows"),
    Name("ml.validation.rate", "attribute", "", "Attribute (validation): rate"),
    Name("ml.validation.examples", "attribute", "", "Attribute (validation): examples"),
    Name("ml.validation.range_low", "attribute", "", "Attribute (validation): range low"),
    Name("ml.validation.range_high", "attribute", "", "Attribute (validation): range high"),
    Name("ml.validation.labelled", "attribute", "", "Attribute (validation): labelled"),
    Name("ml.validation.overall_error", "attribute", "", "Attribute (validation): overall error"),
    Name("ml.validation.outlier_rows", "attribute", "", "Attribute (validation): outlier rows"),
    Name("ml.validation.outlier_error", "attribute", "", "Attribute (validation): outlier error"),
    Name("ml.validation.inlier_error", "attribute", "", "Attribute (validation): inlier error"),
    Name("ml.validation.slices", "attribute", "", "Attribute (validation): slices"),
    Name("ml.validation.slice", "attribute", "", "Attribute (validation): slice"),
    Name("ml.validation.slice_size", "attribute", "", "Attribute (validation): slice size"),
    Name("ml.validation.slice_error", "attribute", "", "Attribute (validation): slice error"),
    Name("ml.validation.error_ratio", "attribute", "", "Attribute (validation): error ratio"),
    Name("ml.validation.rows_skipped", "log", "", "info: rows whose values made a check raise were skipped alone (count, reason)"),
    Name("ml.performance.degraded", "log", "", "info, one per degraded metric per window"),
    Name("ml.recsys.feedback_loop", "log", "", "info, one per window flagged as a feedback loop"),
)


def markdown_table() -> str:
    """The README's telemetry-names table, generated from ``TABLE`` (``python -m agent.semconv``)."""
    rows = ["| name | kind | unit | meaning |", "|---|---|---|---|"]
    rows += [f"| `{n.name}` | {n.kind} | {n.unit} | {n.description} |" for n in TABLE]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
