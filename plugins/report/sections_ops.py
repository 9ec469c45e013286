"""Report sections about serving: the overview (traffic, errors, latency) and alerts."""

from __future__ import annotations

import html
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.report import reads as r
from plugins.report import series as ts
from plugins.report.charts import SERIES_COLOURS, lines_figure
from plugins.report.collect import Attrs, Telemetry, attr, decode_json_list, series_of
from plugins.report.page import Cell, FigureWriter, Section, fmt, human_time, iso, para, table, tiles

DURATION, CALLS, ERRORS, ROWS, DROPPED, FIRING = r.DURATION, r.CALLS, r.ERRORS, r.ROWS, r.DROPPED, r.FIRING
QUANTILES = (0.5, 0.95, 0.99)
_HIDDEN = frozenset({"alertname", "rule", "severity"})  # already shown in their own columns


def _model(attrs: Attrs) -> tuple[str, str]:
    return attr(attrs, r.MODEL), attr(attrs, r.VERSION)


def _label(model: tuple[str, str]) -> str:
    return f"{model[0]} v{model[1]}" if model[1] else model[0]


@dataclass(frozen=True, slots=True)
class ModelRow:
    """Totals of one model version over the whole data directory."""

    model: tuple[str, str]
    predictions: int
    rows: int
    errors: int
    quantiles: tuple[float, float, float]


def _latency_totals(tel: Telemetry) -> dict[tuple[str, str], tuple[tuple[float, ...], list[int]]]:
    out: dict[tuple[str, str], tuple[tuple[float, ...], list[int]]] = {}
    for a, pts in series_of(tel.histograms, DURATION):
        key = _model(a)
        bounds = tel.bounds[(DURATION, a)]
        total = out.get(key, (bounds, [0] * (len(bounds) + 1)))
        if total[0] != bounds:
            continue
        acc = total[1]
        for _, counts in pts:
            acc = ts.add_counts(acc, counts)
        out[key] = (bounds, acc)
    return out


def model_rows(tel: Telemetry) -> list[ModelRow]:
    """Per model version: predictions, rows and errors (from spans, else counters) and latency quantiles."""
    latency = _latency_totals(tel)
    calls: dict[tuple[str, str], float] = defaultdict(float)
    rows: dict[tuple[str, str], float] = defaultdict(float)
    errors: dict[tuple[str, str], float] = defaultdict(float)
    for name, target in ((CALLS, calls), (ROWS, rows), (ERRORS, errors)):
        for a, pts in series_of(tel.sums, name):
            target[_model(a)] += sum(v for _, v in pts)
    keys = sorted(set(tel.spans) | set(calls) | set(latency))
    out = []
    for k in keys:
        sp = tel.spans.get(k)
        bounds, counts = latency.get(k, ((), []))
        q = tuple(ts.histogram_quantile(p, bounds, counts) for p in QUANTILES) if counts else (math.nan,) * 3
        out.append(ModelRow(
            model=k,
            predictions=sp.spans if sp else int(calls[k]),
            rows=sp.rows if sp else int(rows[k]),
            errors=sp.errors if sp else int(errors[k]),
            quantiles=(q[0], q[1], q[2]),
        ))
    return out


def _traffic_figure(tel: Telemetry) -> Any:
    """Predictions per time bin (bars, per model version) and the error rate (line, right axis)."""
    import plotly.graph_objects as go

    per: dict[tuple[str, str], list[tuple[float, float, float]]] = defaultdict(list)
    width = tel.span_bin_seconds
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for (m, v, b, failed), n in tel.span_bins.items():
        counts[(m, v, b)][1 if failed else 0] += n
    if counts:
        for (m, v, b), (ok, bad) in counts.items():
            per[(m, v)].append((b * width + width / 2, float(ok + bad), float(bad)))
    else:  # no spans (traces not exported): fall back on the call and error counters
        for name, idx in ((CALLS, 1), (ERRORS, 2)):
            for a, pts in series_of(tel.sums, name):
                for t, d in pts:
                    per[_model(a)].append((t, d if idx == 1 else 0.0, d if idx == 2 else 0.0))
    if not per:
        return None
    t0 = min(t for pts in per.values() for t, _, _ in pts)
    t1 = max(t for pts in per.values() for t, _, _ in pts)
    n_points = max(len({t for t, _, _ in pts}) for pts in per.values())
    edges = ts.bin_edges(t0, t1, n_points)
    x = [iso(t) for t in ts.bin_centres(edges)]
    fig = go.Figure()
    top = 0.0
    for i, (key, pts) in enumerate(sorted(per.items())):
        total = ts.bin_sums([(t, c) for t, c, _ in pts], edges)
        errors_per_bin = ts.bin_sums([(t, e) for t, _, e in pts], edges)
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        fig.add_trace(go.Bar(x=x, y=total, name=f"{_label(key)} predictions", marker_color=colour, opacity=0.6))
        rate = [f / c if c else None for f, c in zip(errors_per_bin, total, strict=True)]
        top = max([top, *(r for r in rate if r is not None)])
        fig.add_trace(go.Scatter(x=x, y=rate, name=f"{_label(key)} error rate", yaxis="y2", mode="lines+markers",
                                 line={"color": colour}))
    fig.update_layout(title="Predictions and error rate over time", barmode="stack", yaxis_title="predictions",
                      yaxis2={"title": "error rate", "overlaying": "y", "side": "right",
                              "range": [0, max(top * 1.2, 0.01)], "tickformat": ".1%", "showgrid": False})
    return fig


def _latency_figure(tel: Telemetry) -> Any:
    """p50/p95/p99 latency (ms) per time bin, from the histogram's bucket counts."""
    per: dict[tuple[str, str], list[tuple[float, tuple[int, ...]]]] = defaultdict(list)
    bounds: dict[tuple[str, str], tuple[float, ...]] = {}
    for a, pts in series_of(tel.histograms, DURATION):
        key = _model(a)
        b = tel.bounds[(DURATION, a)]
        if bounds.setdefault(key, b) != b:
            continue
        per[key].extend(pts)
    if not per:
        return None
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    for key, pts in sorted(per.items()):
        times = [t for t, _ in pts]
        edges = ts.bin_edges(min(times), max(times), len(set(times)))
        binned = ts.bin_histograms(pts, edges, len(bounds[key]) + 1)
        centres = ts.bin_centres(edges)
        for q in QUANTILES:
            vals = [(t, ts.histogram_quantile(q, bounds[key], c) * 1000) for t, c in zip(centres, binned, strict=True)
                    if sum(c)]
            lines.append((f"{_label(key)} p{round(q * 100)}", vals))
    return lines_figure("Latency quantiles over time (from the ml.inference.duration histogram)", lines,
                        y_title="latency (ms)", log_y=True)


def overview_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Models, time range, predictions, error rate and latency over time."""
    sec = Section("overview", "Overview")
    rows = model_rows(tel)
    if not rows and not tel.has_time:
        sec.parts.append(tel.missing("no spans or inference metrics", "traces",
                                     "Decorate the model with @agent.monitor(model=...) and run it with the agent."))
        return sec
    sec.has_data = True
    preds = sum(r.predictions for r in rows)
    errs = sum(r.errors for r in rows)
    dropped = sum(v for _, pts in series_of(tel.sums, DROPPED) for _, v in pts)
    span = f"{human_time(tel.t_min)} → {human_time(tel.t_max)}" if tel.has_time else "-"
    sec.parts.append(tiles([
        (str(len({r.model[0] for r in rows})), "models"),
        (f"{preds:,}", "predictions"),
        (f"{errs / preds:.2%}" if preds else "-", "error rate"),
        (fmt(rows[0].quantiles[1] * 1000, 3) + " ms" if len(rows) == 1 else f"{len(rows)} versions",
         "p95 latency" if len(rows) == 1 else "model versions"),
        (f"{int(dropped):,}", "captures dropped"),
        (str(max(1, len(tel.instances))), "replicas"),
    ]))
    sec.parts.append(para(f"Time range: {span}.", "note"))
    sec.parts.append(table(
        ("model", "version", "predictions", "rows", "errors", "error rate", "p50 (ms)", "p95 (ms)", "p99 (ms)"),
        [(r.model[0], r.model[1], r.predictions, r.rows, r.errors,
          Cell(f"{r.errors / r.predictions:.2%}" if r.predictions else "-",
               r.errors / r.predictions if r.predictions else None),
          *(q * 1000 for q in r.quantiles)) for r in rows],
        css_id="models-table",
    ))
    error_types = {k: v for sp in tel.spans.values() for k, v in sp.error_types.items()}
    if error_types:
        sec.parts.append(table(("error type", "calls"), sorted(error_types.items(), key=lambda kv: -kv[1]),
                               css_id="error-types-table"))
    for fig in (_traffic_figure(tel), _latency_figure(tel)):
        if fig is not None:
            sec.parts.append(figure(fig))
    return sec


# -- alerts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert state change as notified: when, which alert, and its description."""

    time: float
    rule: str
    severity: str
    status: str
    fingerprint: str
    summary: str
    description: str
    labels: str
    value: float


def alert_events(tel: Telemetry) -> list[AlertEvent]:
    """Alert state changes from the otlp channel's per-alert events and the log channel's notification events."""
    out: dict[tuple[str, str, float], AlertEvent] = {}
    n = r.notifiers
    label = r.ALERT_LABEL_PREFIX
    for e in tel.events.get(r.EVENT_ALERT, ()):
        a = e.attrs
        labels = " ".join(f"{k.removeprefix(label)}={v}" for k, v in sorted(a.items())
                          if k.startswith(label) and k.removeprefix(label) not in _HIDDEN)
        ev = AlertEvent(e.time, str(a.get(n.ATTR_RULE, "")), str(a.get(n.ATTR_SEVERITY, "")),
                        str(a.get(n.ATTR_STATUS, "")), str(a.get(n.ATTR_FINGERPRINT, "")),
                        str(a.get(n.ATTR_SUMMARY, "")), str(a.get(n.ATTR_DESCRIPTION, "")), labels,
                        _float(a.get(n.ATTR_VALUE)))
        out[(ev.fingerprint, ev.status, round(ev.time, 1))] = ev
    for e in tel.events.get(r.EVENT_NOTIFICATION, ()):
        for a in decode_json_list(e.attrs.get(r.notifiers.ATTR_ALERTS)):
            lab: dict[str, Any] = a["labels"] if isinstance(a.get("labels"), dict) else {}
            labels = " ".join(f"{k}={v}" for k, v in sorted(lab.items()) if k not in _HIDDEN)
            ev = AlertEvent(e.time, str(a.get("rule", "")), str(a.get("severity", "")), str(a.get("status", "")),
                            str(a.get("fingerprint", "")), str(a.get("summary", "")), str(a.get("description", "")),
                            labels, _float(a.get("value")))
            out.setdefault((ev.fingerprint, ev.status, round(ev.time, 1)), ev)
    return sorted(out.values(), key=lambda ev: ev.time)


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def alert_intervals(events: list[AlertEvent], end: float) -> list[tuple[AlertEvent, float, float, bool]]:
    """(first firing event, start, end, resolved) per firing episode of each alert fingerprint."""
    open_: dict[str, tuple[AlertEvent, float]] = {}
    out: list[tuple[AlertEvent, float, float, bool]] = []
    for ev in events:
        key = ev.fingerprint or f"{ev.rule}|{ev.labels}"
        if ev.status == "firing":
            open_.setdefault(key, (ev, ev.time))
        elif ev.status == "resolved" and key in open_:
            first, start = open_.pop(key)
            out.append((first, start, ev.time, True))
    out.extend((first, start, max(end, start), False) for first, start in open_.values())
    return sorted(out, key=lambda x: x[1])


def _timeline_figure(intervals: list[tuple[AlertEvent, float, float, bool]]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for resolved, colour, name in ((True, "#7b8794", "resolved"), (False, "#d64545", "still firing")):
        chosen = [iv for iv in intervals if iv[3] is resolved]
        if not chosen:
            continue
        fig.add_trace(go.Bar(
            base=[iso(s) for _, s, _, _ in chosen], x=[max((e - s) * 1000, 1000.0) for _, s, e, _ in chosen],
            y=[f"{ev.rule} {ev.labels}".strip() for ev, _, _, _ in chosen], orientation="h", name=name,
            marker_color=colour, hovertext=[ev.summary or ev.description for ev, _, _, _ in chosen],
        ))
    fig.update_layout(title="Alert timeline (firing → resolved)", barmode="overlay", xaxis={"type": "date"},
                      yaxis={"automargin": True})
    return fig


def alerts_section(tel: Telemetry, figure: FigureWriter, data_dir: Path) -> Section:
    """Timeline of firing and resolved alerts with their descriptions."""
    sec = Section("alerts", "Alerts")
    events = alert_events(tel)
    firing_now = 0.0
    for _, pts in series_of(tel.gauges, FIRING):
        firing_now += pts[-1][1] if pts else 0.0
    if not events:
        state = _state_rows(data_dir)
        if state:
            sec.has_data = True
            sec.parts.append(table(("state", "severity", "rule", "labels", "summary"), state, css_id="alert-state"))
        else:
            sec.parts.append(tel.missing(
                f"no alert notifications ({r.EVENT_ALERT} or {r.EVENT_NOTIFICATION} events) and no "
                f"{data_dir / 'alerts' / 'state.json'}", "logs",
                "Enable the alerts plugin with [[alerts.rules]] sending to a log or otlp channel."))
        return sec
    sec.has_data = True
    intervals = alert_intervals(events, tel.t_max if tel.has_time else events[-1].time)
    sec.parts.append(tiles([
        (str(len(intervals)), "firing episodes"),
        (str(sum(1 for iv in intervals if not iv[3])), "unresolved at end"),
        (fmt(firing_now), f"firing ({FIRING}, last export)"),
    ]))
    sec.parts.append(figure(_timeline_figure(intervals), height=max(260, 60 + 28 * len({iv[0].rule for iv in
                                                                                        intervals}))))
    sec.parts.append(table(
        ("time", "status", "severity", "rule", "labels", "value", "description"),
        [(Cell(human_time(ev.time), ev.time), Cell(ev.status, ev.status, "bad" if ev.status == "firing" else "ok"),
          ev.severity, ev.rule, ev.labels, ev.value, ev.description or ev.summary) for ev in events[-500:]],
        css_id="alerts-table",
    ))
    return sec


def _state_rows(data_dir: Path) -> list[tuple[str, str, str, str, str]]:
    """Current alerts from ``alerts/state.json`` when no notification events were exported."""
    import json

    try:
        doc = json.loads((data_dir / "alerts" / "state.json").read_text())
    except (OSError, ValueError):
        return []
    rows = []
    for a in doc.get("alerts", []) if isinstance(doc, dict) else []:
        if isinstance(a, dict):
            labels: dict[str, Any] = a["labels"] if isinstance(a.get("labels"), dict) else {}
            rows.append((str(a.get("state", "")), str(a.get("severity", "")), str(a.get("rule", "")),
                         html.unescape(" ".join(f"{k}={v}" for k, v in sorted(labels.items()))),
                         str((a.get("annotations") or {}).get("summary", "")) if isinstance(a.get("annotations"),
                                                                                         dict) else ""))
    return rows
