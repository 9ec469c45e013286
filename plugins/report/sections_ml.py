"""Report sections about the model's data and outcomes: drift, validation, performance, feedback loops."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugins.report import reads as r
from plugins.report import series as ts
from plugins.report.charts import QUANTILE_STATS, distribution_figure, lines_figure
from plugins.report.collect import Telemetry, attr, series_of
from plugins.report.drift_windows import MULTIVARIATE
from plugins.report.page import Cell, FigureWriter, Section, fmt, human_time, no_data, para, table, tiles

RECSYS_PREFIX = r.recsys.COVERAGE.rsplit(".", 1)[0] + "."  # the recsys plugin's window measures
MAX_LINES = 8  # features drawn per over-time chart: the largest effects; the table lists them all
MAX_DISTRIBUTIONS = 6


@dataclass(frozen=True, slots=True)
class DriftRow:
    """One (model, version, feature, test) over the windows: its latest result, counts and history."""

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
    max_effect: float
    history: tuple[tuple[float, float, float, float], ...]  # (window end, effect, statistic, corrected p)


def _effect_key(x: float) -> float:
    return -(x if math.isfinite(x) else -1.0)


def drift_rows(tel: Telemetry) -> list[DriftRow]:
    """One row per drift series, from the per-window results (largest latest effect first)."""
    out = []
    for (model, version, feature, test), s in tel.drift.series.items():
        latest = s.latest
        if latest is None:
            continue
        out.append(DriftRow(
            model, version, feature, test, latest.statistic, latest.p_value, latest.effect, latest.drifted,
            s.windows, min(s.drifted, s.windows), s.max_effect, tuple(sorted(s.history)),
        ))
    return sorted(out, key=lambda row: _effect_key(row.effect_size))


def _gauge_summary(tel: Telemetry, model: str, feature: str, sample: str, at: float | None) -> dict[str, float]:
    """A feature's ``ml.drift.summary`` gauges: the reference's latest, or a window's first export after ``at``."""
    out: dict[str, float] = {}
    for a, pts in series_of(tel.gauges, r.drift.SUMMARY):
        if attr(a, r.FEATURE) != feature or attr(a, r.MODEL) != model or attr(a, r.drift.ATTR_SAMPLE) != sample:
            continue
        stat = attr(a, r.drift.ATTR_STAT)
        if pts and (stat in (*QUANTILE_STATS, "mean") or stat.startswith("freq:")):
            after = [v for t, v in sorted(pts) if at is None or t >= at]
            out[stat] = after[0] if at is not None and after else pts[-1][1]
    return out


def _plotted(stats: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in stats.items() if k in (*QUANTILE_STATS, "mean") or k.startswith("freq:")}


def most_drifted_panels(tel: Telemetry) -> tuple[list[tuple[str, dict[str, dict[str, float]]]], list[str], bool]:
    """Distribution panels of each model's most drifted window against the reference.

    Returns (panels, one sentence per window drawn, whether every summary came from the
    window events rather than export-time gauges).
    """
    panels: list[tuple[str, dict[str, dict[str, float]]]] = []
    notes: list[str] = []
    exact = True
    for (model, version), w in sorted(tel.drift.most.items()):
        features = [t.feature for t in w.drifted if t.feature != MULTIVARIATE][:MAX_DISTRIBUTIONS]
        if not features:
            continue
        name = f"{model} v{version}" if version else model
        when = human_time(w.end) if math.isfinite(w.end) else "-"
        notes.append(f"{name}: {w.label}, closed {when}, drift in {len(w.drifted)} test(s) "
                     f"({', '.join(t.feature for t in w.drifted)}).")
        reference_of = tel.drift.reference.get((model, version), {})
        for feature in features:
            ref = _plotted(reference_of.get(feature) or _gauge_summary(tel, model, feature, "reference", None))
            win = _plotted(w.summaries.get(feature, {}))
            if not win:
                exact = False
                win = _gauge_summary(tel, model, feature, r.drift.SAMPLE_WINDOW, w.end)
            samples = {label: stats for label, stats in (("reference", ref), (w.label, win)) if stats}
            if samples:
                panels.append((feature if len(tel.drift.most) == 1 else f"{feature} ({name})", samples))
    return panels, notes, exact


def drift_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Verdicts per feature over the windows, statistics over windows, the most drifted window's distributions."""
    sec = Section("drift", "Drift")
    rows = drift_rows(tel)
    if not rows:
        hint = ("Enable the drift plugin and capture a model's inputs ([models.NAME] capture = true) with a "
                "reference ([models.NAME] reference or agent.set_reference).")
        if tel.event_counts[r.drift.EVENT_DETECTED] or r.drift.WINDOWS in tel.metric_names:
            hint = (f"This telemetry has drift results but no {r.drift.EVENT_WINDOW} events: it was written by an "
                    "older agent, whose per-window results the report no longer reads.")
        sec.parts.append(tel.missing(f"no drift window closed (no {r.drift.EVENT_WINDOW} events)", "logs", hint))
        return sec
    sec.has_data = True
    dw = tel.drift
    features = [row for row in rows if row.feature != MULTIVARIATE]
    joint = [row for row in rows if row.feature == MULTIVARIATE]
    inputs = [k for k in dw.windows if k[2] == r.drift.STREAM_INPUTS] or list(dw.windows)
    closed = sum(dw.windows[k] for k in inputs)
    with_drift = min(closed, sum(dw.drifted_windows[k] for k in inputs))
    sec.parts.append(tiles([
        (str(len({(row.model, row.feature) for row in features})), "features tested"),
        (f"{closed:,}", "windows closed"),
        (f"{with_drift:,}", "windows with drift"),
        (str(sum(row.drifted for row in features)), "drifted in the latest window"),
        ("DRIFT" if any(row.drifted for row in joint) else ("ok" if joint else "-"), "multivariate, latest window"),
    ]))
    note = ("Latest window per feature, sorted by effect size (click a header to re-sort); windows counts the "
            "windows each test ran in. Verdict: drift when the corrected p-value is significant and the effect size "
            "is at least the threshold.")
    sec.parts.append(para(note, "note"))
    sec.parts.append(table(
        ("model", "version", "feature", "test", "effect size", "statistic", "corrected p-value", "verdict",
         "windows", "windows drifted", "largest effect"),
        [(row.model, row.version, row.feature, row.test, row.effect_size, row.statistic, row.p_value,
          Cell("DRIFT" if row.drifted else "ok", int(row.drifted), "bad" if row.drifted else "ok"), row.windows,
          row.drift_windows, row.max_effect) for row in features],
        css_id="drift-table",
    ))
    if joint:
        sec.parts.append("<h3>Multivariate (joint) test</h3>")
        sec.parts.append(table(
            ("model", "test", "statistic", "corrected p-value", "verdict", "windows", "windows drifted"),
            [(row.model, row.test, row.statistic, row.p_value,
              Cell("DRIFT" if row.drifted else "ok", int(row.drifted), "bad" if row.drifted else "ok"), row.windows,
              row.drift_windows) for row in joint],
            css_id="multivariate-table",
        ))
    top = sorted(rows, key=lambda row: _effect_key(row.max_effect))[:MAX_LINES]
    sec.parts.append(figure(_over_windows_figure(top), height=620))
    panels, notes, exact = most_drifted_panels(tel)
    if panels:
        sec.parts.append("<h3>Most drifted window against the reference</h3>")
        text = ("Boxes from the summary statistics (whiskers p5-p95, box p25-p75, line median); categorical "
                "features show category shares. " + " ".join(notes))
        if not exact:
            text += (" The window's summaries are not in its drift event: they come from the first metric export "
                     "after it closed, which may already hold a later window.")
        sec.parts.append(para(text, "note"))
        fig, height = distribution_figure(panels)
        sec.parts.append(figure(fig, height=height))
    return sec


def _over_windows_figure(rows: list[DriftRow]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from plugins.report.charts import SERIES_COLOURS
    from plugins.report.page import iso

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("effect size", "test statistic", "corrected p-value (log)"))
    for i, row in enumerate(rows):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        name = f"{row.feature} ({row.test})"
        for panel in (1, 2, 3):
            pts = [(t, values[panel - 1]) for t, *values in row.history if math.isfinite(values[panel - 1])]
            pts = ts.downsample([(t, max(v, 1e-300) if panel == 3 else v) for t, v in pts])
            fig.add_trace(go.Scatter(x=[iso(t) for t, _ in pts], y=[v for _, v in pts], name=name,
                                     legendgroup=name, showlegend=panel == 1, mode="lines+markers",
                                     line={"color": colour}), row=panel, col=1)
    fig.update_yaxes(type="log", row=3, col=1)
    fig.update_layout(title="Drift over windows (largest effects)")
    return fig


def validation_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Violations by feature and kind (totals) with the rows checked."""
    import plotly.graph_objects as go

    sec = Section("validation", "Validation")
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for a, pts in series_of(tel.sums, r.validation.VIOLATIONS):
        key = (attr(a, r.MODEL), attr(a, r.FEATURE), attr(a, r.validation.ATTR_KIND))
        totals[key] += sum(v for _, v in pts)
    checked: dict[str, float] = defaultdict(float)
    for a, pts in series_of(tel.sums, r.validation.ROWS):
        checked[attr(a, r.MODEL)] += sum(v for _, v in pts)
    if not totals:
        note = f"no violations counted ({r.validation.VIOLATIONS})"
        if checked:
            note += f"; {int(sum(checked.values())):,} rows were validated"
            sec.parts.append(no_data(note))
        else:
            sec.parts.append(tel.missing(note, "metrics", "Enable the validation plugin and capture a model's "
                                         "inputs with a schema or a reference."))
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
        if not name.startswith(r.PERFORMANCE_PREFIX) or not pts:
            continue
        metric = name.removeprefix(r.PERFORMANCE_PREFIX)
        label = f"{attr(a, r.MODEL)} {metric}"
        lines.append((label, ts.downsample(pts)))
        table_rows.append((attr(a, r.MODEL), attr(a, r.VERSION), metric, pts[0][1], pts[-1][1],
                           pts[-1][1] - pts[0][1], len(pts)))
    delay_bounds: tuple[float, ...] = ()
    delay: list[int] = []
    for a, pts in series_of(tel.histograms, r.feedback.LABEL_DELAY):
        b = tel.bounds[(r.feedback.LABEL_DELAY, a)]
        if not delay:
            delay_bounds, delay = b, [0] * (len(b) + 1)
        if b == delay_bounds:
            for _, c in pts:
                delay = ts.add_counts(delay, c)
    ratio = [(attr(a, r.MODEL), pts[-1][1]) for a, pts in series_of(tel.gauges, r.feedback.LABELLED_RATIO)
             if pts]
    if not lines and not sum(delay):
        note = f"no labelled windows closed ({r.PERFORMANCE_PREFIX}* metrics)"
        if ratio:
            note += "; labelled share so far: " + ", ".join(f"{m} {v:.1%}" for m, v in ratio)
        sec.parts.append(tel.missing(note, "metrics", "Enable the feedback plugin and log ground truth with "
                                     "agent.log_feedback(prediction_id, \"label\", value)."))
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
    for e in tel.events.get(r.feedback.EVENT_DEGRADED, ())[-20:]:
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
        if not name.startswith(RECSYS_PREFIX) or not pts:
            continue
        metric = name.removeprefix(RECSYS_PREFIX)
        traffic = attr(a, r.recsys.ATTR_TRAFFIC, r.recsys.TRAFFIC_ALL)
        model = attr(a, r.MODEL)
        if metric == "ctr_by_position":
            pos = attr(a, r.recsys.ATTR_POSITION)
            if pos.lstrip("-").isdigit():
                ctr[(model, traffic)][int(pos)] = pts[-1][1]
        elif metric in ("coverage", "gini", "long_tail_share"):
            lines.append((f"{model} {metric}" + ("" if traffic == "all" else f" ({traffic})"), ts.downsample(pts)))
        else:
            other.append((f"{model} {metric}", traffic, pts[-1][1]))
    if not lines and not ctr and not other:
        sec.parts.append(tel.missing(f"no recommendation windows closed ({RECSYS_PREFIX}* metrics)", "metrics",
                                     "Enable the recsys plugin for a ranking or recommendation model with its "
                                     "outputs captured, and log clicks with agent.log_feedback."))
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


_ESTIMATED = ("accuracy", "auc_roc", "f1", "mae", "rmse")


def estimated_performance_section(tel: Telemetry, figure: FigureWriter) -> Section:
    """Estimated vs realized performance per window with bands, the estimated label distribution, the decay curve."""
    from plugins.performance import performance_report

    sec = Section("estimated", "Performance before the labels arrive")
    models = performance_report(tel.performance)
    if not any(m.windows for m in models.values()):
        sec.parts.append(tel.missing("no estimation windows closed (ml.performance.window events)", "logs",
                                     "Enable the performance plugin and set each model's reference with labels and "
                                     "scores ([models.NAME] reference, or agent.set_reference(..., outputs=...))."))
        return sec
    sec.has_data = True
    for name, model in sorted(models.items()):
        if not model.windows:
            continue
        rows: list[tuple[str, ...]] = []
        for method in ("cbpe", "bbse", "dle"):
            for metric in _ESTIMATED:
                ser = model.series(metric, method)
                if not ser["end"]:
                    continue
                points = list(zip(ser["end"], ser["estimate"], ser["lower"], ser["upper"], ser["realized"],
                                  strict=True))
                lines = [(f"{method} estimate", [(t, v) for t, v, *_ in points if v is not None]),
                         ("band low", [(t, lo) for t, _, lo, _, _ in points if lo is not None]),
                         ("band high", [(t, hi) for t, _, _, hi, _ in points if hi is not None]),
                         ("realized", [(t, re) for t, *_, re in points if re is not None])]
                if not rows or rows[-1][0] != method:  # one figure per method (its first metric); the table has all
                    sec.parts.append(figure(lines_figure(f"{name}: {metric} ({method}) estimated vs realized",
                                                         [s for s in lines if s[1]], y_title=metric)))
                last = points[-1]
                inside = [lo <= re <= hi for _, _, lo, hi, re in points
                          if re is not None and lo is not None and hi is not None]
                rows.append((method, metric, fmt(last[1], 3), f"{fmt(last[2], 3)} – {fmt(last[3], 3)}",
                             fmt(last[4], 3) if last[4] is not None else "pending",
                             f"{sum(inside)}/{len(inside)}" if inside else "-"))
        if rows:
            sec.parts.append(table(("method", "metric", "latest estimate", "band", "realized", "realized in band"),
                                   rows, caption=f"{name}: {len(model.windows)} windows"))
        dist = model.label_distribution()
        if dist["end"] and dist["reference"]:
            latest = next((q for q in reversed(dist["q"]) if q), None)
            classes = dist["classes"] or [str(i) for i in range(len(dist["reference"]))]
            if latest:
                sec.parts.append(table(("class", "reference p(y)", "estimated q(y), latest window"),
                                       [(c, fmt(p, 3), fmt(q, 3)) for c, p, q in
                                        zip(classes, dist["reference"], latest, strict=False)],
                                       caption=f"{name}: label distribution (BBSE)"))
        decay = model.decay_points("accuracy") or model.decay_points("mae")
        if decay:
            by_version: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for p in decay:
                if p["estimated"] is not None:
                    by_version[str(p["version"])].append((p["age_days"], p["estimated"]))
            sec.parts.append(table(("version", "windows", "age (days), first → last", "estimate, first → last"),
                                   [(v, len(pts), f"{fmt(pts[0][0], 1)} → {fmt(pts[-1][0], 1)}",
                                     f"{fmt(pts[0][1], 3)} → {fmt(pts[-1][1], 3)}")
                                    for v, pts in sorted(by_version.items())],
                                   caption=f"{name}: performance against model age"))
        if model.recommendation:
            text = model.recommendation.get("description") or model.recommendation.get("summary")
            if text:
                sec.parts.append(para(str(text)))
    return sec
