"""plotly figures shared by the live report and the offline drift report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from plugins.report.page import iso, require_plotly

QUANTILE_STATS = ("p5", "p25", "median", "p75", "p95")
SAMPLE_COLOURS = {"reference": "#7b8794", "first window": "#2f80ed", "current": "#d64545", "latest window": "#d64545"}
SERIES_COLOURS = ("#2f80ed", "#d64545", "#27ae60", "#f2994a", "#9b51e0", "#56ccf2", "#eb5757", "#6fcf97")


def is_numeric(stats: Mapping[str, float]) -> bool:
    """True when a summary carries the quantiles a box needs."""
    return all(k in stats and math.isfinite(stats[k]) for k in ("p25", "median", "p75"))


def distribution_figure(
    features: Sequence[tuple[str, Mapping[str, Mapping[str, float]]]], *, cols: int = 3
) -> tuple[Any, int]:
    """Reference-vs-current distributions, one panel per feature, from summary statistics; returns (figure, height).

    Each feature maps sample labels ("reference", "current", ...) to its summary: numeric
    features become box plots built from p5/p25/median/p75/p95 (whiskers at p5 and p95, not
    min and max, so one outlier does not flatten the box); categorical ones (``freq:<cat>``
    keys) become grouped bars of category shares.
    """
    go = require_plotly()
    from plotly.subplots import make_subplots

    n = len(features)
    ncols = max(1, min(cols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[f for f, _ in features],
                        horizontal_spacing=0.08, vertical_spacing=0.18 if nrows > 1 else 0.1)
    shown: set[str] = set()
    for i, (_, samples) in enumerate(features):
        r, c = i // ncols + 1, i % ncols + 1
        for label, stats in samples.items():
            colour = SAMPLE_COLOURS.get(label, "#2f80ed")
            legend = label not in shown
            shown.add(label)
            if is_numeric(stats):
                fig.add_trace(go.Box(
                    name=label, x=[label], q1=[stats["p25"]], median=[stats["median"]], q3=[stats["p75"]],
                    lowerfence=[stats.get("p5", stats["p25"])], upperfence=[stats.get("p95", stats["p75"])],
                    mean=[stats["mean"]] if math.isfinite(stats.get("mean", math.nan)) else None,
                    marker_color=colour, legendgroup=label, showlegend=legend, boxpoints=False,
                ), row=r, col=c)
            else:
                cats = sorted(k.removeprefix("freq:") for k in stats if k.startswith("freq:"))
                fig.add_trace(go.Bar(
                    name=label, x=cats, y=[stats[f"freq:{k}"] for k in cats], marker_color=colour,
                    legendgroup=label, showlegend=legend,
                ), row=r, col=c)
    fig.update_layout(barmode="group", boxmode="group")
    return fig, 300 * nrows + 60


def effect_bar_figure(rows: Sequence[tuple[str, float, float, bool]]) -> Any:
    """Effect size per feature (bars, red when drifted) against each feature's threshold."""
    go = require_plotly()
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[r[0] for r in rows], y=[r[1] for r in rows], name="effect size",
        marker_color=["#d64545" if r[3] else "#2f80ed" for r in rows],
    ))
    fig.add_trace(go.Scatter(x=[r[0] for r in rows], y=[r[2] for r in rows], name="threshold",
                             mode="markers", marker={"symbol": "line-ew-open", "size": 24, "color": "#1f2933"}))
    fig.update_layout(title="Effect size per feature (red: drifted)", yaxis_title="effect size")
    return fig


def lines_figure(title: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]], *, y_title: str = "",
                 log_y: bool = False, step: bool = False, markers: bool = True) -> Any:
    """One line per named series of (epoch seconds, value) points."""
    go = require_plotly()
    fig = go.Figure()
    for i, (name, pts) in enumerate(series):
        fig.add_trace(go.Scatter(
            x=[iso(t) for t, _ in pts], y=[v for _, v in pts], name=name,
            mode="lines+markers" if markers else "lines", line_shape="hv" if step else "linear",
            line={"color": SERIES_COLOURS[i % len(SERIES_COLOURS)]},
        ))
    fig.update_layout(title=title, yaxis_title=y_title)
    if log_y:
        fig.update_yaxes(type="log")
    return fig
