"""The HTML page of an offline drift comparison (``infersight drift REFERENCE CURRENT --html out.html``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins.report.charts import distribution_figure, effect_bar_figure
from plugins.report.page import Cell, FigureWriter, Section, no_data, para, render, require_plotly, table, tiles

if TYPE_CHECKING:
    from plugins.drift.offline import OfflineReport
    from plugins.drift.summary import FeatureSummary

MAX_DISTRIBUTIONS = 12


def _stats(s: FeatureSummary) -> dict[str, float]:
    out = dict(s.numeric_stats())
    out.update({f"freq:{k}": v for k, v in s.frequencies.items()})
    return out


def _verdict(r: Any) -> Cell:
    if r.skipped:
        return Cell(f"skipped: {r.skipped}", -1)
    if r.drifted:
        return Cell("DRIFT", 2, "bad")
    if r.significant:
        return Cell("significant, small", 1)
    return Cell("ok", 0, "ok")


def drift_report_html(report: OfflineReport, *, title: str = "InferSight drift report") -> str:
    """The whole page for ``report``: verdict, per-feature table, joint test, schema changes, distributions."""
    require_plotly()
    figure = FigureWriter()
    results = [r for r in report.results if r.feature != "multivariate"]
    joint = report.multivariate
    drifted = [r for r in results if r.drifted]
    summary = Section("summary", "Verdict", has_data=True)
    summary.parts.append(tiles([
        ("DRIFT" if report.drifted else "no drift", "verdict"),
        (str(len(results)), "features tested"),
        (str(len(drifted)), "features drifted"),
        ("DRIFT" if joint is not None and joint.drifted else ("ok" if joint is not None else "not run"),
         "multivariate"),
    ]))
    if drifted:
        summary.parts.append(para("Drifted: " + ", ".join(r.feature for r in drifted) + "."))
    features = Section("features", "Per-feature results", has_data=bool(results))
    if results:
        ordered = sorted(results, key=lambda r: -(r.effect_size if math.isfinite(r.effect_size) else -1))
        features.parts.append(table(
            ("feature", "test", "effect", "effect size", "threshold", "statistic", "p-value", "corrected p-value",
             "n reference", "n current", "verdict"),
            [(r.feature, r.test, r.effect_name, r.effect_size, r.threshold, r.statistic, r.p_value,
              r.corrected_p_value, r.n_reference, r.n_window, _verdict(r)) for r in ordered],
            css_id="drift-table",
        ))
        features.parts.append(figure(effect_bar_figure(
            [(r.feature, r.effect_size if math.isfinite(r.effect_size) else 0.0, r.threshold, r.drifted)
             for r in ordered])))
    else:
        features.parts.append(no_data("no per-feature results"))
    multi = Section("multivariate", "Multivariate (joint) test", has_data=joint is not None)
    if joint is not None:
        multi.parts.append(table(("test", "statistic", "p-value", "corrected p-value", "n reference", "n current",
                                  "verdict"),
                                 [(joint.test, joint.statistic, joint.p_value, joint.corrected_p_value,
                                   joint.n_reference, joint.n_window, _verdict(joint))], css_id="multivariate-table"))
    else:
        multi.parts.append(no_data("the joint test did not run"))
    schema = Section("schema", "Schema changes", has_data=bool(report.schema))
    if report.schema:
        schema.parts.append(table(("kind", "feature", "rows", "examples"),
                                  [(c.kind, c.feature, c.count, ", ".join(c.examples)) for c in report.schema],
                                  css_id="schema-table"))
    else:
        schema.parts.append(para("No features added or missing, no unseen categories.", "note"))
    dist = Section("distributions", "Reference vs current distributions")
    shown = drifted or sorted(results, key=lambda r: -(r.effect_size if math.isfinite(r.effect_size) else -1))[:3]
    panels: list[tuple[str, Mapping[str, Mapping[str, float]]]] = []
    for r in shown[:MAX_DISTRIBUTIONS]:
        ref, cur = report.reference_summaries.get(r.feature), report.current_summaries.get(r.feature)
        if ref is not None and cur is not None:
            panels.append((r.feature, {"reference": _stats(ref), "current": _stats(cur)}))
    if panels:
        dist.has_data = True
        dist.parts.append(para(("Drifted features" if drifted else "Features with the largest effects")
                               + ": whiskers p5-p95, box p25-p75, line median; categorical features show shares.",
                               "note"))
        fig, height = distribution_figure(panels)
        dist.parts.append(figure(fig, height=height))
    else:
        dist.parts.append(no_data("no summaries to compare"))
    subtitle = f"{len(results)} features compared" + (f"; drift in {len(drifted)}" if drifted else "; no drift")
    return render(title, subtitle, [summary, features, multi, schema, dist])


def build_drift_report(offline_report: OfflineReport, output: str | Path) -> Path:
    """Write the offline drift comparison as a self-contained HTML file; returns its path."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(drift_report_html(offline_report), encoding="utf-8")
    return path
