"""Report sections about the model's data and outcomes: drift, validation, performance, feedback loops."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from plugins.report import series as ts
from plugins.report.charts import QUANTILE_STATS, distribution_figure, lines_figure
from plugins.report.collect import Telemetry, attr, series_of
from plugins.report.page import Cell, FigureWriter, Section, fmt, no_data, para, table, tiles

MULTIVARIATE = "multivariate"
MAX_LINES = 8  # features drawn per over-time chart: the largest effects; the table lists them all
MAX_DISTRIBUTIONS = 6


@dataclass(frozen=True, slots=True)
class DriftRow:
    """The latest drift result of one (model, version, feature, test) and its history."""

    model: str
    version: str
    feature: str
    test: str
    statistic: float
    p_value: float
    effect_size: float
    drifted: bool
    windows: int
    drift_windows: int
    effect_history: tuple[tuple[float, float], ...]
    statistic_history: tuple[tuple[float, float], ...]
    p_history: tuple[tuple[float, float], ...]


def _last(pts: list[tuple[float, float]] | None) -> float:
    return pts[-1][1] if pts else math.nan


def drift_rows(tel: Telemetry) -> list[DriftRow]:
    """One row per drift series, from the ml.drift.* gauges (a point per closed window)."""
    by: dict[tuple[str, str, str, str], dict[str, list[tuple[float, float]]]] = defaultdict(dict)
    for metric in ("statistic", "p_value", "effect_size", "detected"):
        for a, pts in series_of(tel.gauges, f"ml.drift.{metric}"):
            key = (attr(a, "ml.model.name"), attr(a, "ml.model.version"), attr(a, "ml.feature.name"),
                   attr(a, "ml.drift.test"))
            by[key].setdefault(metric, []).extend(pts)
    events: dict[tuple[str, str], int] = defaultdict(int)
    for e in tel.events.get("ml.drift.detected", ()):
        events[(str(e.attrs.get("model", "")), str(e.attrs.get("feature", "")))] += 1
    out = []
    for (model, version, feature, test), m in by.items():
        for pts in m.values():
            pts.sort()
        detected = m.get("detected", [])
        out.append(DriftRow(
            model, version, feature, test, _last(m.get("statistic")), _last(m.get("p_value")),
            _last(m.get("effect_size")), _last(detected) == 1.0,
            max(len(m.get("statistic", [])), len(m.get("effect_size", []))),
            max(events.get((model, feature), 0), sum(1 for _, v in detected if v == 1.0)),
            tuple(m.get("effect_size", [])), tuple(m.get("statistic", [])), tuple(m.get("p_value", [])),
        ))
    return sorted(out, key=lambda r: -(r.effect_size if math.isfinite(r.effect_size) else -1))


def _summaries(tel: Telemetry, model: str, feature: str) -> dict[str, dict[str, float]]:
    """Reference, first-window and latest-window summary statistics of one feature (ml.drift.summary)."""
    first: dict[str, float] = {}
    latest: dict[str, float] = {}
    reference: dict[str, float] = {}
    for a, pts in series_of(tel.gauges, "ml.drift.summary"):
        if attr(a, "ml.feature.name") != feature or attr(a, "ml.model.name") != model or not pts:
            continue
        stat = attr(a, "ml.drift.stat")
        if stat not in (*QUANTILE_STATS, "mean") and not stat.startswith("freq:"):
            continue
        if attr(a, "ml.drift.sample") == "reference":
            reference[stat] = pts[-1][1]
        else:
            first[stat] = pts[0][1]
            latest[stat] = pts[-1][1]
    out = {}
    if reference:
        out["reference"] = reference
    if first and first != latest:
        out["first window"] = first
    if latest:
        out["latest window"] = latest
    return out


def drift_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Verdict table, statistic/p-value over windows, distributions of drifted features, joint test."""
    sec = Section("drift", "Drift")
    rows = drift_rows(tel)
    if not rows:
        sec.parts.append(no_data("no drift windows closed (ml.drift.* metrics)"))
        return sec
    sec.has_data = True
    features = [r for r in rows if r.feature != MULTIVARIATE]
    joint = [r for r in rows if r.feature == MULTIVARIATE]
    drifted = [r for r in features if r.drifted]
    sec.parts.append(tiles([
        (str(len({r.feature for r in features})), "features tested"),
        (str(len(drifted)), "drifted in the latest window"),
        (str(max((r.windows for r in rows), default=0)), "windows"),
        ("DRIFT" if any(r.drifted for r in joint) else ("ok" if joint else "-"), "multivariate verdict"),
    ]))
    sec.parts.append(para("Latest window per feature; sorted by effect size (click a header to re-sort). "
                          "Verdict: drift when the corrected p-value is significant and the effect size is at "
                          "least the threshold.", "note"))
    sec.parts.append(table(
        ("model", "version", "feature", "test", "effect size", "statistic", "corrected p-value", "verdict",
         "windows", "windows drifted"),
        [(r.model, r.version, r.feature, r.test, r.effect_size, r.statistic, r.p_value,
          Cell("DRIFT" if r.drifted else "ok", int(r.drifted), "bad" if r.drifted else "ok"), r.windows,
          r.drift_windows) for r in features],
        css_id="drift-table",
    ))
    if joint:
        sec.parts.append("<h3>Multivariate (joint) test</h3>")
        sec.parts.append(table(
            ("model", "test", "statistic", "corrected p-value", "verdict", "windows", "windows drifted"),
            [(r.model, r.test, r.statistic, r.p_value,
              Cell("DRIFT" if r.drifted else "ok", int(r.drifted), "bad" if r.drifted else "ok"), r.windows,
              r.drift_windows) for r in joint],
            css_id="multivariate-table",
        ))
    top = sorted(rows, key=lambda r: -(r.effect_size if math.isfinite(r.effect_size) else -1))[:MAX_LINES]
    sec.parts.append(figure(_over_windows_figure(top), height=620))
    chosen = [r for r in features if r.drifted or r.drift_windows][:MAX_DISTRIBUTIONS]
    dists = [(f"{r.feature}", s) for r in chosen if (s := _summaries(tel, r.model, r.feature))]
    if dists:
        sec.parts.append("<h3>Distributions of drifted features</h3>")
        has_ref = any("reference" in s for _, s in dists)
        sec.parts.append(para(
            "Boxes from the exported summary statistics (whiskers p5-p95, box p25-p75, line median); categorical "
            "features show category shares." + ("" if has_ref else " The reference sample's summary is not in "
                                                 "the telemetry, so the first window stands in for it."), "note"))
        fig, height = distribution_figure(dists)
        sec.parts.append(figure(fig, height=height))
    return sec


def _over_windows_figure(rows: list[DriftRow]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from plugins.report.charts import SERIES_COLOURS
    from plugins.report.page import iso

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("effect size", "test statistic", "corrected p-value (log)"))
    for i, r in enumerate(rows):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        name = f"{r.feature} ({r.test})"
        for row, pts in ((1, r.effect_history), (2, r.statistic_history), (3, r.p_history)):
            pts2 = ts.downsample([(t, max(v, 1e-300) if row == 3 else v) for t, v in pts])
            fig.add_trace(go.Scatter(x=[iso(t) for t, _ in pts2], y=[v for _, v in pts2], name=name,
                                     legendgroup=name, showlegend=row == 1, mode="lines+markers",
                                     line={"color": colour}), row=row, col=1)
    fig.update_yaxes(type="log", row=3, col=1)
    fig.update_layout(title="Drift over windows (largest effects)")
    return fig


def validation_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Violations by feature and kind (totals) with the rows checked."""
    import plotly.graph_objects as go

    sec = Section("validation", "Validation")
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for a, pts in series_of(tel.sums, "ml.validation.violations"):
        key = (attr(a, "ml.model.name"), attr(a, "ml.feature.name"), attr(a, "ml.validation.kind"))
        totals[key] += sum(v for _, v in pts)
    checked: dict[str, float] = defaultdict(float)
    for a, pts in series_of(tel.sums, "ml.validation.rows"):
        checked[attr(a, "ml.model.name")] += sum(v for _, v in pts)
    if not totals:
        note = "no violations counted (ml.validation.violations)"
        if checked:
            note += f"; {int(sum(checked.values())):,} rows were validated"
        sec.parts.append(no_data(note))
        sec.has_data = bool(checked)
        return sec
    sec.has_data = True
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    sec.parts.append(table(
        ("model", "feature", "kind", "violations", "share of rows checked"),
        [(m, f, k, int(n), Cell(f"{n / checked[m]:.2%}" if checked.get(m) else "-",
                                n / checked[m] if checked.get(m) else None)) for (m, f, k), n in rows],
        css_id="validation-table",
    ))
    fig = go.Figure()
    for kind in sorted({k for _, _, k in totals}):
        feats = [(f, n) for (_, f, k), n in rows if k == kind]
        fig.add_trace(go.Bar(x=[f for f, _ in feats], y=[n for _, n in feats], name=kind))
    fig.update_layout(title="Violations by feature and kind", barmode="stack", yaxis_title="violations")
    sec.parts.append(figure(fig))
    return sec


def performance_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Realized performance per window (ml.performance.*) and label delay (ml.feedback.label_delay)."""
    sec = Section("performance", "Performance from feedback")
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    table_rows = []
    for (name, a), pts in sorted(tel.gauges.items()):
        if not name.startswith("ml.performance.") or not pts:
            continue
        metric = name.removeprefix("ml.performance.")
        label = f"{attr(a, 'ml.model.name')} {metric}"
        lines.append((label, ts.downsample(pts)))
        table_rows.append((attr(a, "ml.model.name"), attr(a, "ml.model.version"), metric, pts[0][1], pts[-1][1],
                           pts[-1][1] - pts[0][1], len(pts)))
    delay_bounds: tuple[float, ...] = ()
    delay: list[int] = []
    for a, pts in series_of(tel.histograms, "ml.feedback.label_delay"):
        b = tel.bounds[("ml.feedback.label_delay", a)]
        if not delay:
            delay_bounds, delay = b, [0] * (len(b) + 1)
        if b == delay_bounds:
            for _, c in pts:
                delay = ts.add_counts(delay, c)
    ratio = [(attr(a, "ml.model.name"), pts[-1][1]) for a, pts in series_of(tel.gauges, "ml.feedback.labelled_ratio")
             if pts]
    if not lines and not sum(delay):
        note = "no labelled windows closed (ml.performance.* metrics)"
        if ratio:
            note += "; labelled share so far: " + ", ".join(f"{m} {v:.1%}" for m, v in ratio)
        sec.parts.append(no_data(note))
        return sec
    sec.has_data = True
    items = [(f"{v:.1%}", f"{m} labelled") for m, v in ratio]
    if sum(delay):
        for q in (0.5, 0.9):
            items.append((fmt(ts.histogram_quantile(q, delay_bounds, delay), 3) + " s", f"label delay p{int(q * 100)}"))
    sec.parts.append(tiles(items))
    if table_rows:
        sec.parts.append(table(("model", "version", "metric", "first window", "latest window", "change", "windows"),
                               table_rows, css_id="performance-table"))
        sec.parts.append(figure(lines_figure("Realized performance per window", lines, y_title="value")))
    for e in tel.events.get("ml.performance.degraded", ())[-20:]:
        sec.parts.append(para(f"Degraded: {e.attrs}", "note"))
    return sec


def loops_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Coverage, Gini, long-tail share over windows and CTR by position (ml.recsys.*)."""
    import plotly.graph_objects as go

    sec = Section("loops", "Feedback loops")
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    ctr: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    other: list[tuple[str, str, float]] = []
    for (name, a), pts in sorted(tel.gauges.items()):
        if not name.startswith("ml.recsys.") or not pts:
            continue
        metric = name.removeprefix("ml.recsys.")
        traffic = attr(a, "ml.traffic", "all")
        model = attr(a, "ml.model.name")
        if metric == "ctr_by_position":
            pos = attr(a, "position")
            if pos.lstrip("-").isdigit():
                ctr[(model, traffic)][int(pos)] = pts[-1][1]
        elif metric in ("coverage", "gini", "long_tail_share"):
            lines.append((f"{model} {metric}" + ("" if traffic == "all" else f" ({traffic})"), ts.downsample(pts)))
        else:
            other.append((f"{model} {metric}", traffic, pts[-1][1]))
    if not lines and not ctr and not other:
        sec.parts.append(no_data("no recommendation windows closed (ml.recsys.* metrics)"))
        return sec
    sec.has_data = True
    if lines:
        sec.parts.append(figure(lines_figure("Coverage, exposure Gini and long-tail share per window", lines,
                                             y_title="share")))
    if ctr:
        fig = go.Figure()
        for (model, traffic), by_pos in sorted(ctr.items()):
            xs = sorted(by_pos)
            fig.add_trace(go.Bar(x=xs, y=[by_pos[p] for p in xs], name=f"{model} ({traffic})"))
        fig.update_layout(title="CTR by position (latest window)", xaxis_title="position", yaxis_title="CTR",
                          barmode="group")
        sec.parts.append(figure(fig))
    if other:
        sec.parts.append(table(("measure", "traffic", "latest"), other, css_id="loops-table"))
    return sec
