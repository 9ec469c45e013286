"""Report section "which inputs make the model fail": flagged edge-case slices with their top attributions,
and attribution drift per window.

The validation plugin flags a slice of one input's values where the error of labelled
predictions is a multiple of the overall error (``ml.validation.edge_case``: size, slice
error, overall error, ratio); the attribution plugin answers each flag with the slice's top
attributions among its recent rows (``ml.attribution.edge_case``: mean |attribution|, share
and lift per feature, as a JSON list). Both are re-logged as labels and windows arrive: the
latest of each (model, version, feature, slice) is shown, joined on that key. Feature names
and slice labels come from request data: every one goes through ``html.escape``.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from plugins.report import reads as r
from plugins.report import series as ts
from plugins.report.collect import Event, Telemetry
from plugins.report.page import Cell, FigureWriter, Section, fmt, human_time, para, table, tiles

__all__ = ["MAX_SLICES", "Attribution", "EdgeSlice", "attribution_section", "edge_slices", "parse_top"]

MAX_SLICES = 25  # slices listed (largest error ratio first); the rest are counted in a note
MAX_BARS = 6  # features drawn per slice (the attribution plugin's top_k may be larger)

SliceKey = tuple[str, str, str, str]  # model, version, feature, slice label


@dataclass(frozen=True, slots=True)
class Attribution:
    """One feature's attribution in a slice (or a window): mean |attribution|, share of the total, lift."""

    feature: str
    mean_abs: float
    share: float
    lift: float | None = None


@dataclass
class EdgeSlice:
    """A flagged slice: the validation plugin's latest finding joined with the attribution plugin's latest answer."""

    model: str
    version: str
    feature: str
    label: str
    size: int | None = None  # labelled rows in the slice (validation)
    error: float | None = None
    overall_error: float | None = None
    ratio: float | None = None
    flagged_at: float | None = None
    attributed_rows: int | None = None  # recent attributed rows in the slice (attribution)
    top: tuple[Attribution, ...] = ()

    @property
    def sort_key(self) -> tuple[float, float]:
        """Largest error ratio first; slices without a known ratio last."""
        ratio = self.ratio if self.ratio is not None and math.isfinite(self.ratio) else -1.0
        if self.ratio is not None and math.isinf(self.ratio):
            ratio = math.inf
        return (-ratio, -(self.attributed_rows or 0))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _count(value: Any) -> int | None:
    x = _number(value)
    return int(x) if x is not None and math.isfinite(x) else None


def parse_top(value: Any) -> tuple[Attribution, ...] | None:
    """The attributions in an ``ml.attribution.*top`` attribute (a JSON list), or None when it is malformed.

    Malformed: not JSON, not a list, or an entry without a string ``feature`` and finite
    numbers ``mean_abs`` and ``share`` (``lift`` may be null).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("feature"), str):
            return None
        mean_abs, share = _number(item.get("mean_abs")), _number(item.get("share"))
        if mean_abs is None or share is None or not (math.isfinite(mean_abs) and math.isfinite(share)):
            return None
        lift = _number(item.get("lift"))
        out.append(Attribution(item["feature"], mean_abs, share, lift if lift is None or math.isfinite(lift) else None))
    return tuple(out)


def _key(attrs: dict[str, Any], slice_attr: str) -> SliceKey:
    return (str(attrs.get(r.MODEL, "")), str(attrs.get(r.VERSION, "")), str(attrs.get(r.FEATURE, "")),
            str(attrs.get(slice_attr, "")))


def edge_slices(tel: Telemetry) -> tuple[list[EdgeSlice], int]:
    """Every flagged slice (largest error ratio first) and the attribution events skipped as malformed."""
    slices: dict[SliceKey, EdgeSlice] = {}

    def get(key: SliceKey) -> EdgeSlice:
        found = slices.get(key)
        if found is None:
            found = slices[key] = EdgeSlice(*key)
        return found

    for e in _in_order(tel.events.get(r.validation.EVENT_EDGE_CASE, ())):
        s = get(_key(e.attrs, r.validation.ATTR_SLICE))
        s.size = _count(e.attrs.get(r.validation.ATTR_SLICE_SIZE))
        s.error = _number(e.attrs.get(r.validation.ATTR_SLICE_ERROR))
        s.overall_error = _number(e.attrs.get(r.validation.ATTR_OVERALL_ERROR))
        s.ratio = _number(e.attrs.get(r.validation.ATTR_ERROR_RATIO))
        s.flagged_at = e.time
    malformed = 0
    for e in _in_order(tel.events.get(r.attribution.EVENT_EDGE_CASE, ())):
        top = parse_top(e.attrs.get(r.attribution.ATTR_SLICE_TOP))
        if top is None:
            malformed += 1
            continue
        s = get(_key(e.attrs, r.attribution.ATTR_SLICE))
        s.attributed_rows = _count(e.attrs.get(r.attribution.ATTR_SLICE_ROWS))
        s.top = top
    return sorted(slices.values(), key=lambda s: s.sort_key), malformed


def _in_order(events: Any) -> list[Event]:
    return sorted(events, key=lambda e: e.time)


@dataclass
class _DriftSeries:
    """Attribution windows of one (model, version, method)."""

    windows: int = 0
    drifted: int = 0
    points: list[tuple[float, float | None, float | None]] | None = None  # (time, distance, rank correlation)
    threshold: float | None = None
    top: tuple[Attribution, ...] = ()
    reference_top: tuple[Attribution, ...] = ()
    rows: int | None = None


def _drift_series(tel: Telemetry) -> tuple[dict[tuple[str, str, str], _DriftSeries], int]:
    out: dict[tuple[str, str, str], _DriftSeries] = defaultdict(_DriftSeries)
    malformed = 0
    a = r.attribution
    for e in _in_order(tel.events.get(a.EVENT_WINDOW, ())):
        key = (str(e.attrs.get(r.MODEL, "")), str(e.attrs.get(r.VERSION, "")), str(e.attrs.get(a.ATTR_METHOD, "")))
        s = out[key]
        s.windows += 1
        s.drifted += e.attrs.get(a.ATTR_DRIFTED) is True
        if s.points is None:
            s.points = []
        s.points.append((e.time, _number(e.attrs.get(a.ATTR_L1_DISTANCE)), _number(e.attrs.get(a.ATTR_SPEARMAN))))
        s.threshold = _number(e.attrs.get(a.ATTR_MAX_DISTANCE))
        s.rows = _count(e.attrs.get(a.ATTR_WINDOW_ROWS))
        top = parse_top(e.attrs.get(a.ATTR_TOP, "[]"))
        ref = parse_top(e.attrs.get(a.ATTR_REFERENCE_TOP, "[]"))
        if top is None or ref is None:
            malformed += 1
        s.top, s.reference_top = top or (), ref or ()
    return dict(out), malformed


def _top_text(top: tuple[Attribution, ...]) -> str:
    if not top:
        return "-"
    first = top[0]
    lift = f", lift {first.lift:.2f}x" if first.lift is not None else ""
    return f"{first.feature} ({first.share:.0%}{lift})"


def _bars(s: EdgeSlice) -> str:
    """A small bar list of one slice's top attributions: width = share, text = share and lift."""
    where = f"{s.model}" + (f" v{s.version}" if s.version else "")
    error = ""
    if s.error is not None:
        error = f": error {fmt(s.error, 3)}"
        if s.ratio is not None:
            error += f" ({fmt(s.ratio, 3)}x overall)"
    rows = f", {s.attributed_rows:,} attributed rows" if s.attributed_rows is not None else ""
    head = f"{where} · {s.feature} in {s.label}{error}{rows}"
    items = []
    for a in s.top[:MAX_BARS]:
        width = max(0.0, min(1.0, a.share)) * 100
        lift = f" · lift {a.lift:.2f}x" if a.lift is not None else ""
        items.append(
            f'<div class="bar-row"><span class="bar-label" title="{html.escape(a.feature, quote=True)}">'
            f"{html.escape(a.feature)}</span>"
            f'<span class="bar"><span style="width:{width:.1f}%"></span></span>'
            f'<span class="bar-value">{a.share:.0%}{html.escape(lift)}</span></div>'
        )
    return f'<div class="barlist"><h4>{html.escape(head)}</h4>{"".join(items)}</div>'


def attribution_section(tel: Telemetry, figure: FigureWriter, *, max_slices: int = MAX_SLICES) -> Section:
    """Flagged edge-case slices with their top attributions; attribution drift per window."""
    sec = Section("edge-cases", "Edge cases and attributions")
    slices, bad_slices = edge_slices(tel)
    drift, bad_windows = _drift_series(tel)
    checked = tel.event_counts[r.validation.EVENT_EDGE_CASES]
    if not slices and not drift:
        note = f"no edge-case slice flagged ({r.validation.EVENT_EDGE_CASE}) and no attribution window closed"
        if checked:
            note += f"; the validation plugin checked labelled rows {checked:,} times and found no slice"
        sec.parts.append(tel.missing(note, "logs", (
            "Enable the validation plugin and log labels (agent.log_feedback(prediction_id, \"label\", y)) so it "
            "finds the slices where the model fails; enable the attribution plugin with an explainer "
            "(plugins.attribution.set_explainer) or attributions in the model's output to see which features "
            "drive the predictions there.")))
        if bad_slices:
            sec.parts.append(para(f"{bad_slices} {r.attribution.EVENT_EDGE_CASE} event(s) skipped: unreadable "
                                  f"{r.attribution.ATTR_SLICE_TOP}.", "note"))
        sec.has_data = bool(checked)
        return sec
    sec.has_data = True
    explained = [s for s in slices if s.top]
    sec.parts.append(tiles([
        (str(len(slices)), "slices flagged"),
        (str(len(explained)), "with attributions"),
        (str(sum(d.windows for d in drift.values())), "attribution windows"),
        (str(sum(d.drifted for d in drift.values())), "windows with attribution drift"),
    ]))
    _slices_part(sec, slices, bad_slices, max_slices, attribution_seen=bool(
        tel.event_counts[r.attribution.EVENT_EDGE_CASE] or tel.event_counts[r.attribution.EVENT_WINDOW]
        or tel.event_counts[r.attribution.EVENT_REFERENCE]))
    _drift_part(sec, figure, drift, bad_windows)
    return sec


def _slices_part(sec: Section, slices: list[EdgeSlice], malformed: int, max_slices: int, *,
                 attribution_seen: bool) -> None:
    sec.parts.append("<h3>Where the model fails: flagged slices and their top attributions</h3>")
    if not slices:
        sec.parts.append(para("No edge-case slice flagged yet: the validation plugin flags a slice of one input's "
                              "values once enough labelled predictions fall in it and their error is a multiple of "
                              "the overall error (validation.edge_cases).", "note"))
    else:
        sec.parts.append(para(
            "Slices of one input's values where the error of labelled predictions is at least edge_cases.factor "
            "times the overall error (validation plugin; latest finding), largest ratio first. Top attributions "
            "(attribution plugin): mean |attribution| over the slice's recent rows; share = the feature's part of "
            "the slice's total, lift = the slice's mean |attribution| over the mean of all recent rows (above 1: "
            "the model leans on that feature more where it fails).", "note"))
        shown = slices[:max_slices]
        sec.parts.append(table(
            ("model", "version", "feature", "slice", "labelled rows", "slice error", "overall error", "error ratio",
             "attributed rows", "top attribution", "last flagged"),
            [(s.model, s.version, s.feature, s.label, _opt(s.size), _opt(s.error), _opt(s.overall_error),
              _ratio_cell(s.ratio), _opt(s.attributed_rows), _top_text(s.top),
              Cell(human_time(s.flagged_at), s.flagged_at) if s.flagged_at else Cell("-"))
             for s in shown],
            css_id="edge-case-table",
        ))
        if len(slices) > len(shown):
            sec.parts.append(para(f"{len(slices) - len(shown)} more slice(s) not shown: the table lists the "
                                  f"{len(shown)} with the largest error ratio.", "note"))
        bars = [s for s in shown if s.top]
        if bars:
            sec.parts.append('<div class="barlists" id="edge-case-attributions">'
                             + "".join(_bars(s) for s in bars) + "</div>")
        elif not attribution_seen:
            sec.parts.append(para(
                f"No attribution events ({r.attribution.EVENT_EDGE_CASE}): enable the attribution plugin with an "
                "explainer (plugins.attribution.set_explainer) or attributions in the model's output to see which "
                "features the model relies on in these slices.", "note"))
        else:
            sec.parts.append(para(
                "The attribution plugin explained none of these slices yet: it needs edge_cases.min_rows recent "
                "attributed rows inside a slice.", "note"))
    if malformed:
        sec.parts.append(para(f"{malformed} {r.attribution.EVENT_EDGE_CASE} event(s) skipped: unreadable "
                              f"{r.attribution.ATTR_SLICE_TOP}.", "note"))


def _opt(value: float | int | None) -> Cell | float | int:
    return Cell("-") if value is None else value


def _ratio_cell(ratio: float | None) -> Cell:
    if ratio is None:
        return Cell("-")
    if math.isinf(ratio):
        return Cell("inf", 1e300, "bad")
    return Cell(f"{fmt(ratio, 3)}x", ratio, "bad")


def _drift_part(sec: Section, figure: FigureWriter, drift: dict[tuple[str, str, str], _DriftSeries],
                malformed: int) -> None:
    sec.parts.append("<h3>Attribution drift per window</h3>")
    if not drift:
        sec.parts.append(para(f"No attribution window closed ({r.attribution.EVENT_WINDOW}).", "note"))
        return
    sec.parts.append(para(
        "Each window's mean |attribution| per feature against the reference's: half the L1 distance of the "
        "normalised vectors (0 = same reliance, 1 = disjoint; drift at the threshold) and Spearman's rank "
        "correlation.", "note"))
    rows = []
    for (model, version, method), d in sorted(drift.items()):
        latest = (d.points or [(0.0, None, None)])[-1]
        rows.append((model, version, method, d.windows,
                     Cell(str(d.drifted), d.drifted, "bad" if d.drifted else "ok"),
                     _opt(latest[1]), _opt(latest[2]), _opt(d.threshold), _top_text(d.top),
                     _top_text(d.reference_top)))
    sec.parts.append(table(
        ("model", "version", "method", "windows", "windows drifted", "latest distance", "latest rank correlation",
         "threshold", "latest top feature", "reference top feature"),
        rows, css_id="attribution-drift-table",
    ))
    if malformed:
        sec.parts.append(para(f"{malformed} {r.attribution.EVENT_WINDOW} event(s) with an unreadable top-feature "
                              "list (shown as -).", "note"))
    sec.parts.append(figure(_drift_figure(drift), height=420))


def _drift_figure(drift: dict[tuple[str, str, str], _DriftSeries]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from plugins.report.charts import SERIES_COLOURS
    from plugins.report.page import iso

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("distance (½ L1 of normalised mean |attribution|)", "rank correlation"))
    for i, ((model, version, method), d) in enumerate(sorted(drift.items())):
        name = f"{model}" + (f" v{version}" if version else "") + f" ({method})"
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        for panel in (1, 2):
            pts = ts.downsample([(t, value) for t, *v in d.points or () if (value := v[panel - 1]) is not None])
            fig.add_trace(go.Scatter(x=[iso(t) for t, _ in pts], y=[v for _, v in pts], name=name, legendgroup=name,
                                     showlegend=panel == 1, mode="lines+markers", line={"color": colour}),
                          row=panel, col=1)
        if d.threshold is not None:
            fig.add_hline(y=d.threshold, line={"dash": "dot", "color": colour}, row=1, col=1)
    fig.update_layout(title="Attribution drift per window")
    return fig
