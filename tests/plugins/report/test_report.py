"""The HTML report built from a data directory the real agent wrote, and the pieces it is built from."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plugins.drift import names as drift
from plugins.drift.offline import compare
from plugins.report import ReportStats, build_drift_report, build_report, run_report_cli
from plugins.report.collect import collect
from plugins.report.otlp import telemetry_files
from plugins.report.sections_ml import most_drifted_panels
from plugins.report.series import bin_edges, bin_of, histogram_quantile
from tests.plugins.report.promnames import emitted_metrics

SECTIONS = ("overview", "drift", "validation", "edge-cases", "performance", "estimated", "loops", "alerts")


def _section(html: str, ident: str) -> str:
    m = re.search(rf'<section id="{ident}"[^>]*>(.*?)</section>', html, re.S)
    assert m, f"section {ident} missing"
    return m.group(1)


def _tiles(section: str) -> dict[str, str]:
    return {label: value for value, label in re.findall(r'<div class="tile"><b>(.*?)</b><span>(.*?)</span>', section)}


def _table(section: str, css_id: str) -> list[list[str]]:
    m = re.search(rf'<table class="sortable" id="{css_id}">(.*?)</table>', section, re.S)
    assert m, f"table {css_id} missing"
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]


def _log_records(data_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, {key: OTLP AnyValue}) of every log record in the files, read without the report's code."""
    for path in telemetry_files(data_dir, "logs"):
        for line in path.read_text().splitlines():
            for rl in json.loads(line).get("resourceLogs", ()):
                for sl in rl["scopeLogs"]:
                    for rec in sl["logRecords"]:
                        name = rec.get("eventName") or rec.get("body", {}).get("stringValue", "")
                        yield name, {kv["key"]: kv["value"] for kv in rec.get("attributes", ())}


def _closed_windows(data_dir: Path) -> tuple[int, int]:
    """(input windows closed, of which with drift), straight from the drift plugin's window events."""
    closed = drifted = 0
    for name, attrs in _log_records(data_dir):
        if name == drift.EVENT_WINDOW and attrs[drift.ATTR_STREAM]["stringValue"] == drift.STREAM_INPUTS:
            closed += 1
            drifted += bool(attrs[drift.ATTR_DRIFTED]["boolValue"])
    return closed, drifted


def test_report_has_every_section_and_the_seeded_data(seeded_report: tuple[ReportStats, str]) -> None:
    stats, html = seeded_report
    for ident in SECTIONS:
        _section(html, ident)
    # the fraud model, the scorer the performance plugin estimates, the classifier's 20 batch calls
    assert stats.predictions == 1800 + 600 + 20
    assert stats.models == ("clf", "fraud", "scorer")
    assert set(stats.sections) >= {"overview", "drift", "validation", "edge-cases", "performance", "estimated",
                                   "alerts"}
    assert stats.empty_sections == ("loops",)
    loops = _section(html, "loops")
    assert "No data recorded" in loops and "Looked in" in loops and "recsys plugin" in loops


def test_overview_counts_predictions_and_errors_from_spans(seeded_report: tuple[ReportStats, str]) -> None:
    _, html = seeded_report
    overview = _section(html, "overview")
    row = re.search(r"<tr><td[^>]*>fraud</td><td[^>]*>1.0</td><td[^>]*>1,800</td>", overview)
    assert row, "model row with 1,800 predictions"
    assert "ValueError" in overview  # the error-types table names the exception class
    assert overview.count('class="figure"') == 2


def test_drift_counts_every_closed_window_and_never_more_drifted_than_closed(
    seeded_dir: Path, seeded_report: tuple[ReportStats, str]
) -> None:
    closed, drifted = _closed_windows(seeded_dir)
    assert closed >= 5 and 1 <= drifted < closed  # the shift is a third of the traffic
    drift_html = _section(seeded_report[1], "drift")
    tiles = _tiles(drift_html)
    assert (tiles["windows closed"], tiles["windows with drift"]) == (str(closed), str(drifted))
    header, *rows = _table(drift_html, "drift-table")
    windows, windows_drifted = header.index("windows"), header.index("windows drifted")
    for cells in rows:
        if cells[2] in ("amount", "age", "country"):
            assert int(cells[windows]) == closed, cells  # every input feature was tested in every window
        assert 0 <= int(cells[windows_drifted]) <= int(cells[windows]) <= closed, cells
    ever = {cells[2] for cells in rows if int(cells[windows_drifted]) > 0}
    assert {"amount", "country"} <= ever and "age" not in ever
    assert 'id="multivariate-table"' in drift_html


def test_distributions_come_from_the_most_drifted_window_against_the_reference(seeded_dir: Path) -> None:
    tel = collect(seeded_dir)
    most = tel.drift.most[("fraud", "1.0")]
    scores = []
    for name, attrs in _log_records(seeded_dir):
        if name == drift.EVENT_WINDOW and attrs[drift.ATTR_STREAM]["stringValue"] == drift.STREAM_INPUTS:
            results = json.loads(attrs[drift.ATTR_RESULTS]["stringValue"])
            scores.append((sum(1 for r in results if r["drifted"] and r["feature"] != "multivariate"),
                           int(attrs[drift.ATTR_WINDOW_NUMBER]["intValue"])))  # fmt: skip
    assert max(scores)[0] == most.score[0] and most.number in {n for s, n in scores if s == max(scores)[0]}
    panels, notes, exact = most_drifted_panels(tel)
    assert exact and notes and most.label in notes[0]
    amount = dict(panels)["amount"]
    assert set(amount) == {"reference", most.label}
    assert amount[most.label]["median"] > 2 * amount["reference"]["median"]  # lognormal mean +1.0: e ≈ 2.7x
    country = dict(panels)["country"]
    assert country[most.label].get("freq:IT", 0) > 0 and "freq:IT" not in country["reference"]


def test_validation_performance_and_alert_sections_show_their_tables(seeded_report: tuple[ReportStats, str]) -> None:
    _, html = seeded_report
    validation = _section(html, "validation")
    assert 'id="validation-table"' in validation and "not_allowed" in validation  # the unseen "IT" country
    performance = _section(html, "performance")
    assert 'id="performance-table"' in performance and "accuracy" in performance
    alerts = _section(html, "alerts")
    assert 'id="alerts-table"' in alerts
    assert "firing" in alerts and "resolved" in alerts
    assert "drifted" in alerts  # the rule's description


def test_plotly_js_is_embedded_once_and_nothing_is_fetched(seeded_report: tuple[ReportStats, str]) -> None:
    stats, html = seeded_report
    # overview 2, drift 2, validation, edge cases, performance, estimated 2, alerts
    assert html.count('class="figure"') == 10
    assert len(re.findall(r"plotly\.js v\d", html)) == 1  # the bundle's banner: embedded exactly once
    assert not re.search(r'<script[^>]+src=', html)
    assert not re.search(r'<link[^>]+href=', html)
    assert stats.bytes < 10_000_000


def test_real_metric_units_and_kinds_match_the_translation_table(seeded_dir: Path) -> None:
    table = emitted_metrics()
    kinds = {"histogram": "histogram", "gauge": "gauge"}
    seen = 0
    for path in telemetry_files(seeded_dir, "metrics"):
        for line in path.read_text().splitlines():
            for rm in json.loads(line)["resourceMetrics"]:
                for sm in rm["scopeMetrics"]:
                    for m in sm["metrics"]:
                        if m["name"] not in table:
                            continue
                        unit, kind = table[m["name"]]
                        body = next(k for k in ("histogram", "gauge", "sum") if k in m)
                        got = kinds.get(body) or ("counter" if m["sum"].get("isMonotonic") else "updown")
                        assert (m.get("unit", ""), got) == (unit, kind), m["name"]
                        seen += 1
    assert seen > 20


def test_report_inside_the_data_dir_is_owner_only_and_elsewhere_keeps_the_umask(
    seeded_dir: Path, tmp_path: Path
) -> None:
    inside = build_report(seeded_dir, seeded_dir / "reports" / "r.html").output
    assert inside.stat().st_mode & 0o777 == 0o600
    assert inside.parent.stat().st_mode & 0o777 == 0o700
    elsewhere = build_report(seeded_dir, tmp_path / "out" / "r.html").output
    assert elsewhere.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_empty_data_dir_says_where_it_looked_and_what_to_configure(tmp_path: Path) -> None:
    stats = build_report(tmp_path, tmp_path / "r.html")
    assert stats.sections == () and stats.files_read == 0
    html = stats.output.read_text()
    notes = re.findall(r'<p class="nodata">(.*?)</p>', html)
    assert len(notes) == len(SECTIONS)
    for note in notes:
        assert note.startswith("No data recorded: ") and f"Looked in {tmp_path / 'telemetry'}" in note
        assert "exporter.type = [&quot;otlp&quot;, &quot;file&quot;]" in note


def test_cli_exits_2_with_the_install_hint_when_plotly_is_missing(
    seeded_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)  # makes `import plotly.graph_objects` fail
    code = run_report_cli(argparse.Namespace(data_dir=str(seeded_dir), output=str(tmp_path / "r.html")))
    assert code == 2
    assert "pip install 'infersight[report]'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def _metric_line(t_ns: int, start_ns: int, calls: int, buckets: list[int]) -> str:
    attrs = [{"key": "ml.model.name", "value": {"stringValue": "m"}},
             {"key": "ml.model.version", "value": {"stringValue": "1"}}]
    return json.dumps({"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
        {"name": "ml.inference.calls", "unit": "{call}", "sum": {"isMonotonic": True, "aggregationTemporality": 2,
         "dataPoints": [{"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "asInt": str(calls),
                         "attributes": attrs}]}},
        {"name": "ml.inference.duration", "unit": "s", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "count": str(sum(buckets)),
             "bucketCounts": [str(b) for b in buckets], "explicitBounds": [0.1, 1.0], "attributes": attrs}]}},
    ]}]}]})


def test_cumulative_points_become_deltas_across_rotation_and_restart(tmp_path: Path) -> None:
    # Rotation and restarts cannot be produced on demand by a running agent: the lines are written here.
    tel_dir = tmp_path / "telemetry"
    tel_dir.mkdir()
    s = 1_000_000_000
    # Oldest in .2, then .1, then the live file; the restart (new start time) resets the totals.
    (tel_dir / "metrics.jsonl.2").write_text(_metric_line(10 * s, 0, 5, [5, 0, 0]) + "\n")
    (tel_dir / "metrics.jsonl.1").write_text(_metric_line(20 * s, 0, 8, [6, 2, 0]) + "\n{truncated\n")
    (tel_dir / "metrics.jsonl").write_text(_metric_line(30 * s, 25 * s, 4, [0, 0, 4]) + "\n")
    assert [p.name for p in telemetry_files(tmp_path, "metrics")] == ["metrics.jsonl.2", "metrics.jsonl.1",
                                                                      "metrics.jsonl"]
    tel = collect(tmp_path)
    calls = next(v for (n, _), v in tel.sums.items() if n == "ml.inference.calls")
    assert calls == [(10.0, 5.0), (20.0, 3.0), (30.0, 4.0)]
    hist = next(v for (n, _), v in tel.histograms.items() if n == "ml.inference.duration")
    assert hist == [(10.0, (5, 0, 0)), (20.0, (1, 2, 0)), (30.0, (0, 0, 4))]
    assert tel.bad_lines == 1


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    bounds = (0.1, 0.2, 0.4)
    assert histogram_quantile(0.5, bounds, [0, 10, 0, 0]) == pytest.approx(0.15)
    assert histogram_quantile(0.25, bounds, [10, 10, 0, 0]) == pytest.approx(0.05)
    assert histogram_quantile(0.99, bounds, [0, 0, 0, 5]) == 0.4  # overflow bucket: the highest finite bound
    assert math.isnan(histogram_quantile(0.5, bounds, [0, 0, 0, 0]))


def test_histogram_quantile_matches_numpy_on_uniform_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 100_000)
    bounds = tuple(np.linspace(0.01, 1.0, 100))
    counts = np.histogram(x, bins=[0.0, *bounds, np.inf])[0].tolist()
    for q in (0.5, 0.95, 0.99):
        assert histogram_quantile(q, bounds, counts) == pytest.approx(float(np.quantile(x, q)), abs=0.01)


def test_time_bins_cover_the_range_and_clamp_the_ends() -> None:
    edges = bin_edges(0.0, 100.0, 1000, max_bins=10)
    assert len(edges) == 11 and edges[0] == 0.0 and edges[-1] == 100.0
    assert [bin_of(t, edges) for t in (-5.0, 0.0, 9.99, 10.0, 99.0, 100.0, 150.0)] == [0, 0, 0, 1, 9, 9, 9]


def test_drift_html_from_an_offline_comparison(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = {"a": rng.normal(0, 1, 2000), "b": rng.normal(0, 1, 2000),
           "c": rng.choice(np.array(["x", "y", "z"]), 2000)}
    cur = {"a": rng.normal(1.0, 1, 2000), "b": rng.normal(0, 1, 2000),
           "c": rng.choice(np.array(["x", "y", "z"]), 2000, p=[0.1, 0.1, 0.8])}
    report = compare(ref, cur)
    path = build_drift_report(report, tmp_path / "drift.html")
    html = path.read_text()
    for ident in ("summary", "features", "multivariate", "schema", "distributions"):
        assert f'<section id="{ident}"' in html
    assert 'id="drift-table"' in html and ">DRIFT<" in html
    assert len(re.findall(r"plotly\.js v\d", html)) == 1
    verdicts = dict(re.findall(r"<tr><td[^>]*>([abc])</td>.*?<td[^>]*>(DRIFT|ok|significant, small)</td></tr>",
                               html))
    assert verdicts["a"] == "DRIFT" and verdicts["c"] == "DRIFT" and verdicts["b"] != "DRIFT"


def test_estimated_performance_is_drawn_against_the_realized_values(seeded_report: tuple[ReportStats, str]) -> None:
    _, html = seeded_report
    section = _section(html, "estimated")
    assert "scorer: accuracy (cbpe) estimated vs realized" in section
    assert "scorer: 3 windows" in section  # 600 predictions in windows of 200
    assert "realized in band" in section and "pending" not in section  # every window's labels arrived
