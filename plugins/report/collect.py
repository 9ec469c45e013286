"""One streaming pass over each signal's files, keeping only aggregates (never the spans themselves).

Metrics arrive cumulative: every export repeats each series' running total. Sums and
histograms are turned into per-export differences as they are read (a total that goes
down, or a new start time, means the process restarted: the new total is the delta).
Gauges keep a value only when it changed. Gauges are sampled once per export, so
several windows closing between two exports leave one point: per-window results are
read from the plugins' window log events instead (``ml.drift.window``, reduced into
``Telemetry.drift`` as they stream by).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.report import reads as r
from plugins.report.drift_windows import DriftWindows, parse_window
from plugins.report.otlp import TELEMETRY_DIR, LineReader, attributes, number, string_attributes, telemetry_files
from plugins.report.page import no_data

Attrs = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Attrs]
ModelKey = tuple[str, str]

MAX_TIME_BINS = 50_000  # span-count bins kept before coarsening them tenfold
MAX_EVENTS = 5_000  # kept per event name (all are counted)
# Log events the report keeps (the window events are reduced as they stream by); the rest are counted.
EVENTS = frozenset({r.EVENT_ALERT, r.EVENT_NOTIFICATION, r.feedback.EVENT_DEGRADED, *r.EDGE_CASE_EVENTS})
_SHAPE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)  # a field of the wrong JSON type or content
NO_FILES_HINT = (
    "The agent writes these OTLP/JSON files when exporter.type includes \"file\" (the default when no OTLP endpoint "
    "is set) and agent.data_dir is this directory; next to a collector, set exporter.type = [\"otlp\", \"file\"] "
    "to keep both."
)


@dataclass
class SpanTotals:
    """Counts over the spans of one model version."""

    spans: int = 0
    errors: int = 0
    rows: int = 0
    first_ns: int = 0
    last_ns: int = 0
    error_types: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Event:
    """One log event: time (s), severity text and decoded attributes."""

    time: float
    severity: str
    attrs: dict[str, Any]


@dataclass
class Telemetry:
    """Everything the report needs, reduced while streaming."""

    spans: dict[ModelKey, SpanTotals] = field(default_factory=dict)
    span_bins: Counter[tuple[str, str, int, bool]] = field(default_factory=Counter)
    span_bin_seconds: int = 1
    sums: dict[SeriesKey, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    histograms: dict[SeriesKey, list[tuple[float, tuple[int, ...]]]] = field(default_factory=lambda: defaultdict(list))
    bounds: dict[SeriesKey, tuple[float, ...]] = field(default_factory=dict)
    gauges: dict[SeriesKey, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    events: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    # The performance plugin's window events, as {"event": name, **attributes}, in order (bounded).
    performance: list[dict[str, Any]] = field(default_factory=list)
    event_counts: Counter[str] = field(default_factory=Counter)
    metric_names: set[str] = field(default_factory=set)
    instances: set[str] = field(default_factory=set)
    t_min: float = float("inf")
    t_max: float = float("-inf")
    bad_lines: int = 0
    bad_spans: int = 0
    files: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files listed but not opened, with the reason
    drift: DriftWindows = field(default_factory=DriftWindows)
    directory: Path = Path()
    signal_files: dict[str, list[Path]] = field(default_factory=dict)

    def missing(self, what: str, signal: str, hint: str) -> str:
        """The "No data recorded" note of a section: what is missing, the files read, what to configure."""
        files = self.signal_files.get(signal, [])
        if files:
            where = ", ".join(str(p) for p in files[-2:]) + (f" (and {len(files) - 2} older)" if len(files) > 2 else "")
        else:
            where = f"{self.directory / TELEMETRY_DIR / (signal + '.jsonl')} (no such file)"
        return no_data(what, where=where, hint=hint if self.files else NO_FILES_HINT)

    def touch(self, t: float) -> None:
        """Widen the observed time range to include ``t`` (seconds)."""
        self.t_min = min(self.t_min, t)
        self.t_max = max(self.t_max, t)

    @property
    def has_time(self) -> bool:
        """True once any timestamp was seen."""
        return self.t_min <= self.t_max


def _resource_instance(resource: dict[str, Any]) -> str:
    for kv in resource.get("attributes", ()):
        if kv.get("key") == r.INSTANCE:
            return str(kv.get("value", {}).get("stringValue", ""))
    return ""


def read_spans(tel: Telemetry, paths: list[Path]) -> None:
    """Count spans of monitored calls per model version and per time bin (errors, rows, time range)."""
    reader = LineReader(paths, "traces")
    for doc in reader:
        try:
            _spans_of(tel, doc)
        except _SHAPE_ERRORS as exc:
            raise reader.shape_error(f"{type(exc).__name__}: {exc}") from None
    for t in tel.spans.values():
        tel.touch(t.first_ns / 1e9)
        tel.touch(t.last_ns / 1e9)
    tel.bad_lines += reader.bad_lines
    tel.unreadable += reader.unreadable


def _spans_of(tel: Telemetry, doc: dict[str, Any]) -> None:
    spans, bins = tel.spans, tel.span_bins
    for rs in doc.get("resourceSpans", ()):
        tel.instances.add(_resource_instance(rs.get("resource", {})))
        for ss in rs.get("scopeSpans", ()):
            for sp in ss.get("spans", ()):
                try:
                    model, version, rows, etype = _span_fields(sp.get("attributes", ()))
                except (KeyError, TypeError, ValueError):
                    tel.bad_spans += 1
                    continue
                if model is None:
                    continue  # not a monitored call (the application's own span)
                key = (model, version)
                totals = spans.get(key)
                if totals is None:
                    totals = spans[key] = SpanTotals()
                start = int(sp.get("startTimeUnixNano", 0))
                failed = etype is not None or sp.get("status", {}).get("code") == 2
                totals.spans += 1
                totals.rows += rows
                if failed:
                    totals.errors += 1
                    totals.error_types[etype or "error"] += 1
                if not totals.first_ns or start < totals.first_ns:
                    totals.first_ns = start
                totals.last_ns = max(totals.last_ns, start)
                bins[(model, version, start // (tel.span_bin_seconds * 1_000_000_000), failed)] += 1
                if len(bins) > MAX_TIME_BINS:
                    _coarsen(tel)
                    bins = tel.span_bins


def _span_fields(attrs: Iterable[dict[str, Any]]) -> tuple[str | None, str, int, str | None]:
    """(model, version, rows, error type) from a span's attribute list; runs once per span, so kept tight."""
    model: str | None = None
    version = ""
    rows = 1
    etype: str | None = None
    for kv in attrs:
        k = kv["key"]
        if k == r.MODEL:
            model = kv["value"]["stringValue"]
        elif k == r.VERSION:
            version = kv["value"]["stringValue"]
        elif k == r.BATCH_SIZE:
            rows = int(kv["value"]["intValue"])
        elif k == r.ERROR_TYPE:
            etype = kv["value"]["stringValue"]
    return model, version, rows, etype


def _coarsen(tel: Telemetry) -> None:
    """Merge span-count bins tenfold so memory stays bounded however long the data spans."""
    merged: Counter[tuple[str, str, int, bool]] = Counter()
    for (m, v, b, failed), n in tel.span_bins.items():
        merged[(m, v, b // 10, failed)] += n
    tel.span_bins = merged
    tel.span_bin_seconds *= 10


def read_metrics(tel: Telemetry, paths: list[Path]) -> None:
    """Turn cumulative sums and histograms into per-export deltas; keep gauges when they change."""
    reader = LineReader(paths, "metrics")
    last = _Last()
    for doc in reader:
        try:
            _metrics_of(tel, doc, last)
        except _SHAPE_ERRORS as exc:
            raise reader.shape_error(f"{type(exc).__name__}: {exc}") from None
    tel.bad_lines += reader.bad_lines
    tel.unreadable += reader.unreadable


@dataclass
class _Last:
    """The previous point of each series per instance, to turn cumulative points into deltas."""

    sums: dict[tuple[str, SeriesKey], tuple[str, float]] = field(default_factory=dict)
    hists: dict[tuple[str, SeriesKey], tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    gauges: dict[tuple[str, SeriesKey], float] = field(default_factory=dict)


def _metrics_of(tel: Telemetry, doc: dict[str, Any], last: _Last) -> None:
    for rm in doc.get("resourceMetrics", ()):
        inst = _resource_instance(rm.get("resource", {}))
        tel.instances.add(inst)
        for sm in rm.get("scopeMetrics", ()):
            for m in sm.get("metrics", ()):
                name = m.get("name", "")
                if not name.startswith(r.OWN_NAMESPACE):
                    continue  # process/system metrics belong to the health dashboards, not this report
                tel.metric_names.add(name)
                if "histogram" in m:
                    _histogram(tel, name, inst, m["histogram"], last.hists)
                elif "sum" in m and m["sum"].get("isMonotonic"):
                    _sum(tel, name, inst, m["sum"], last.sums)
                elif "gauge" in m or "sum" in m:
                    _gauge(tel, name, inst, (m.get("gauge") or m.get("sum") or {}), last.gauges)


def _sum(tel: Telemetry, name: str, inst: str, body: dict[str, Any],
         last: dict[tuple[str, SeriesKey], tuple[str, float]]) -> None:
    for p in body.get("dataPoints", ()):
        key = (name, string_attributes(p.get("attributes")))
        t = int(p.get("timeUnixNano", 0)) / 1e9
        start = str(p.get("startTimeUnixNano", ""))
        value = number(p)
        prev = last.get((inst, key))
        last[(inst, key)] = (start, value)
        delta = value if prev is None or prev[0] != start or value < prev[1] else value - prev[1]
        if delta:
            tel.sums[key].append((t, delta))
            tel.touch(t)


def _histogram(tel: Telemetry, name: str, inst: str, body: dict[str, Any],
               last: dict[tuple[str, SeriesKey], tuple[str, tuple[int, ...]]]) -> None:
    for p in body.get("dataPoints", ()):
        key = (name, string_attributes(p.get("attributes")))
        counts = tuple(int(c) for c in p.get("bucketCounts", ()))
        bounds = tuple(float(b) for b in p.get("explicitBounds", ()))
        if len(counts) != len(bounds) + 1:
            continue  # malformed point: no bucket layout to interpret it with
        known = tel.bounds.setdefault(key, bounds)
        if known != bounds:
            continue  # a changed bucket layout cannot be merged with the old one
        t = int(p.get("timeUnixNano", 0)) / 1e9
        start = str(p.get("startTimeUnixNano", ""))
        prev = last.get((inst, key))
        last[(inst, key)] = (start, counts)
        if prev is None or prev[0] != start or sum(counts) < sum(prev[1]):
            delta = counts
        else:
            delta = tuple(a - b for a, b in zip(counts, prev[1], strict=True))
        if any(delta):
            tel.histograms[key].append((t, delta))
            tel.touch(t)


def _gauge(tel: Telemetry, name: str, inst: str, body: dict[str, Any],
           last: dict[tuple[str, SeriesKey], float]) -> None:
    for p in body.get("dataPoints", ()):
        key = (name, string_attributes(p.get("attributes")))
        value = number(p)
        if last.get((inst, key)) == value:
            continue  # a last-value gauge repeats until the next window closes
        last[(inst, key)] = value
        t = int(p.get("timeUnixNano", 0)) / 1e9
        tel.gauges[key].append((t, value))
        tel.touch(t)


def read_logs(tel: Telemetry, paths: list[Path]) -> None:
    """Count every event name; keep the attributes of the events the report shows."""
    reader = LineReader(paths, "logs")
    for doc in reader:
        try:
            _logs_of(tel, doc)
        except _SHAPE_ERRORS as exc:
            raise reader.shape_error(f"{type(exc).__name__}: {exc}") from None
    tel.bad_lines += reader.bad_lines
    tel.unreadable += reader.unreadable


def _logs_of(tel: Telemetry, doc: dict[str, Any]) -> None:
    for rl in doc.get("resourceLogs", ()):
        for sl in rl.get("scopeLogs", ()):
            for rec in sl.get("logRecords", ()):
                name = rec.get("eventName") or rec.get("body", {}).get("stringValue", "")
                tel.event_counts[name] += 1
                if name == r.drift.EVENT_WINDOW:
                    window = parse_window(attributes(rec.get("attributes")))
                    if window is not None:
                        tel.drift.add(window)
                        tel.touch(window.end)
                    continue
                if name == r.drift.EVENT_REFERENCE:
                    tel.drift.add_reference(attributes(rec.get("attributes")))
                    continue
                if name in r.PERFORMANCE_EVENTS:
                    if len(tel.performance) >= 4 * MAX_EVENTS:
                        del tel.performance[: MAX_EVENTS]  # the oldest windows go first; the section says so
                    tel.performance.append({"event": name, **attributes(rec.get("attributes"))})
                    continue
                if name not in EVENTS:
                    continue
                kept = tel.events[name]
                if len(kept) >= MAX_EVENTS:
                    del kept[: MAX_EVENTS // 2]  # keep the most recent half; counts stay exact
                t = int(rec.get("timeUnixNano") or rec.get("observedTimeUnixNano") or 0) / 1e9
                kept.append(Event(t, str(rec.get("severityText", "")), attributes(rec.get("attributes"))))
                tel.touch(t)


def collect(data_dir: Path) -> Telemetry:
    """Read the data directory's traces, metrics and logs into a :class:`Telemetry`."""
    tel = Telemetry(directory=data_dir)
    traces, metrics, logs = (telemetry_files(data_dir, s) for s in ("traces", "metrics", "logs"))
    tel.signal_files = {"traces": traces, "metrics": metrics, "logs": logs}
    tel.files = [*traces, *metrics, *logs]
    read_spans(tel, traces)
    read_metrics(tel, metrics)
    read_logs(tel, logs)
    tel.instances.discard("")
    return tel


def decode_json_list(value: Any) -> list[dict[str, Any]]:
    """A list of dicts from an attribute that the agent's logger stored as a JSON string (or a list)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def attr(attrs: Attrs, key: str, default: str = "") -> str:
    """The value of ``key`` in a series' attribute tuple."""
    for k, v in attrs:
        if k == key:
            return v
    return default


def series_of(series: dict[SeriesKey, Any], name: str) -> Iterable[tuple[Attrs, Any]]:
    """The (attributes, points) of every series of metric ``name``."""
    return ((a, pts) for (n, a), pts in series.items() if n == name)
