"""One streaming pass over each signal's files, keeping only aggregates (never the spans themselves).

Metrics arrive cumulative: every export repeats each series' running total. Sums and
histograms are turned into per-export differences as they are read (a total that goes
down, or a new start time, means the process restarted: the new total is the delta).
Gauges keep a value only when it changed, which is when a plugin closed a window.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.report.otlp import LineReader, attributes, number, string_attributes, telemetry_files

Attrs = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Attrs]
ModelKey = tuple[str, str]

MODEL = "ml.model.name"
VERSION = "ml.model.version"
INSTANCE = "service.instance.id"
MAX_TIME_BINS = 50_000  # span-count bins kept before coarsening them tenfold
MAX_EVENTS = 5_000  # kept per event name (all are counted)
# Log events the report reads; everything else is only counted.
EVENTS = frozenset({
    "ml.drift.detected", "ml.drift.schema_change", "ml.alert", "ml.alerts.notification",
    "ml.validation.violation", "ml.performance.degraded",
})


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
    event_counts: Counter[str] = field(default_factory=Counter)
    metric_names: set[str] = field(default_factory=set)
    instances: set[str] = field(default_factory=set)
    t_min: float = float("inf")
    t_max: float = float("-inf")
    bad_lines: int = 0
    bad_spans: int = 0
    files: list[Path] = field(default_factory=list)

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
        if kv.get("key") == INSTANCE:
            return str(kv.get("value", {}).get("stringValue", ""))
    return ""


def read_spans(tel: Telemetry, paths: list[Path]) -> None:
    """Count spans of monitored calls per model version and per time bin (errors, rows, time range)."""
    reader = LineReader(paths)
    spans, bins = tel.spans, tel.span_bins
    for doc in reader:
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
    for t in tel.spans.values():
        tel.touch(t.first_ns / 1e9)
        tel.touch(t.last_ns / 1e9)
    tel.bad_lines += reader.bad_lines


def _span_fields(attrs: Iterable[dict[str, Any]]) -> tuple[str | None, str, int, str | None]:
    """(model, version, rows, error type) from a span's attribute list; runs once per span, so kept tight."""
    model: str | None = None
    version = ""
    rows = 1
    etype: str | None = None
    for kv in attrs:
        k = kv["key"]
        if k == MODEL:
            model = kv["value"]["stringValue"]
        elif k == VERSION:
            version = kv["value"]["stringValue"]
        elif k == "ml.batch.size":
            rows = int(kv["value"]["intValue"])
        elif k == "error.type":
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
    reader = LineReader(paths)
    last_sum: dict[tuple[str, SeriesKey], tuple[str, float]] = {}
    last_hist: dict[tuple[str, SeriesKey], tuple[str, tuple[int, ...]]] = {}
    last_gauge: dict[tuple[str, SeriesKey], float] = {}
    for doc in reader:
        for rm in doc.get("resourceMetrics", ()):
            inst = _resource_instance(rm.get("resource", {}))
            tel.instances.add(inst)
            for sm in rm.get("scopeMetrics", ()):
                for m in sm.get("metrics", ()):
                    name = m.get("name", "")
                    if not name.startswith("ml."):
                        continue  # process/system metrics belong to the health dashboards, not this report
                    tel.metric_names.add(name)
                    if "histogram" in m:
                        _histogram(tel, name, inst, m["histogram"], last_hist)
                    elif "sum" in m and m["sum"].get("isMonotonic"):
                        _sum(tel, name, inst, m["sum"], last_sum)
                    elif "gauge" in m or "sum" in m:
                        _gauge(tel, name, inst, (m.get("gauge") or m.get("sum") or {}), last_gauge)
    tel.bad_lines += reader.bad_lines


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
    reader = LineReader(paths)
    for doc in reader:
        for rl in doc.get("resourceLogs", ()):
            for sl in rl.get("scopeLogs", ()):
                for rec in sl.get("logRecords", ()):
                    name = rec.get("eventName") or rec.get("body", {}).get("stringValue", "")
                    tel.event_counts[name] += 1
                    if name not in EVENTS:
                        continue
                    kept = tel.events[name]
                    if len(kept) >= MAX_EVENTS:
                        del kept[: MAX_EVENTS // 2]  # keep the most recent half; counts stay exact
                    t = int(rec.get("timeUnixNano") or rec.get("observedTimeUnixNano") or 0) / 1e9
                    kept.append(Event(t, str(rec.get("severityText", "")), attributes(rec.get("attributes"))))
                    tel.touch(t)
    tel.bad_lines += reader.bad_lines


def collect(data_dir: Path) -> Telemetry:
    """Read the data directory's traces, metrics and logs into a :class:`Telemetry`."""
    tel = Telemetry()
    traces, metrics, logs = (telemetry_files(data_dir, s) for s in ("traces", "metrics", "logs"))
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
