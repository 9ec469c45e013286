"""The report's edge-case section: slices the validation plugin flags, their top attributions from the
attribution plugin, and attribution drift per window; from telemetry files the real plugins wrote."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.plugin import FeedbackEvent, RecordBatch
from agent.testing import ManualClock, run_plugin
from plugins.attribution import clear, set_explainer
from plugins.attribution import names as attribution
from plugins.report import ReportStats, build_report
from plugins.report.collect import collect
from plugins.report.otlp import telemetry_files
from plugins.report.page import FigureWriter
from plugins.report.sections_attribution import attribution_section, parse_top
from plugins.validation import names as validation

# Feature names come from request data: the report must show them, never run them.
X = 'x<script>alert("x")</script>'
Z = 'z"><img src=q onerror=alert(2)>'
BANDS = ((2.0, 3.0), (6.0, 7.0))  # the model is wrong on 70% of these rows (5% elsewhere) and leans on Z there


def _section(page: str, ident: str) -> str:
    m = re.search(rf'<section id="{ident}"[^>]*>(.*?)</section>', page, re.S)
    assert m, f"section {ident} missing"
    return m.group(1)


def _table(section: str, css_id: str) -> list[list[str]]:
    m = re.search(rf'<table class="sortable" id="{css_id}">(.*?)</table>', section, re.S)
    assert m, f"table {css_id} missing"
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]


def _in_bands(x: np.ndarray) -> np.ndarray:
    return np.any([(x >= lo) & (x < hi) for lo, hi in BANDS], axis=0)


def _serve(data_dir: Path, *, attribution_plugin: bool) -> Path:
    """A user's run written to files: 3,000 labelled rows of a classifier failing in two bands of X."""
    rng = np.random.default_rng(7)

    def explain(features: np.ndarray) -> np.ndarray:
        band = _in_bands(features[:, 0])
        return np.column_stack([np.where(band, 0.1, 1.0) * features[:, 0] / 10,
                                np.where(band, 3.0, 0.2) * features[:, 1]])

    enabled = ["validation", "attribution"] if attribution_plugin else ["validation"]
    if attribution_plugin:
        set_explainer("clf", explain, features=[X, Z])
    cfg: dict[str, Any] = {"validation": {"edge_cases": {"bins": 10, "min_size": 30, "factor": 2.0}},
                           "models": {"clf": {"task": "classification"}}}
    if attribution_plugin:
        cfg["attribution"] = {"window": {"type": "count", "size": 10_000}, "edge_cases": {"min_rows": 30}}
    try:
        with run_plugin("validation", config=cfg, clock=ManualClock(),
                        plugins={"enabled": enabled, "entry_points": False}, exporter={"type": "file"},
                        agent={"data_dir": str(data_dir), "stderr_level": "off"}) as h:
            h.set_reference("clf", {X: rng.uniform(0, 10, size=5000), Z: rng.normal(size=5000)})
            n = 3000
            x, z = rng.uniform(0, 10, size=n), rng.normal(size=n)
            truth = rng.integers(0, 2, size=n)
            wrong = rng.random(n) < np.where(_in_bands(x), 0.7, 0.05)
            ids = [f"id{i}" for i in range(n)]
            h.process("clf", RecordBatch(prediction_ids=tuple(ids), row_index=np.zeros(n, dtype=np.int64),
                                         timestamps=np.zeros(n), columns={X: x, Z: z},
                                         outputs=np.where(wrong, 1 - truth, truth).astype(np.float64)))
            h.process_feedback("clf", [FeedbackEvent(f"e{i}", ids[i], "label", int(truth[i])) for i in range(n)])
            h.flush()
            h.tick(advance=3600)
            assert h.plugin_errors == 0
    finally:
        clear()
    return data_dir


@pytest.fixture(scope="module")
def bands_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _serve(tmp_path_factory.mktemp("bands") / "data", attribution_plugin=True)


@pytest.fixture(scope="module")
def bands_report(bands_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportStats, str]:
    stats = build_report(bands_dir, tmp_path_factory.mktemp("bands-report") / "r.html")
    return stats, stats.output.read_text(encoding="utf-8")


def _events(data_dir: Path, name: str) -> Iterator[dict[str, Any]]:
    """Attributes of every log record ``name`` in the files, read without the report's code."""
    for path in telemetry_files(data_dir, "logs"):
        for line in path.read_text().splitlines():
            for rl in json.loads(line).get("resourceLogs", ()):
                for sl in rl["scopeLogs"]:
                    for rec in sl["logRecords"]:
                        if (rec.get("eventName") or rec.get("body", {}).get("stringValue")) == name:
                            yield {kv["key"]: next(iter(kv["value"].values())) for kv in rec["attributes"]}


def test_a_flagged_slice_shows_its_error_ratio_and_the_features_the_model_leans_on_there(
        seeded_dir: Path, seeded_report: tuple[ReportStats, str]) -> None:
    section = _section(seeded_report[1], "edge-cases")
    header, *rows = _table(section, "edge-case-table")
    col = {h: i for i, h in enumerate(header)}
    latest = {}
    for e in _events(seeded_dir, validation.EVENT_EDGE_CASE):
        latest[(e[validation.ATTR_MODEL], e[validation.ATTR_FEATURE], e[validation.ATTR_SLICE])] = e
    assert {(r[col["model"]], r[col["feature"]], html.unescape(r[col["slice"]])) for r in rows} == set(latest)
    clf = next(r for r in rows if r[col["model"]] == "clf")
    event = latest[("clf", "x", html.unescape(clf[col["slice"]]))]
    assert clf[col["error ratio"]] == f"{float(event[validation.ATTR_ERROR_RATIO]):.3g}x"
    assert float(event[validation.ATTR_ERROR_RATIO]) > 3 and int(clf[col["labelled rows"]]) >= 30
    assert clf[col["top attribution"]].startswith("z (")  # where it fails, the seeded model leans on z
    scorer = next(r for r in rows if r[col["model"]] == "scorer")  # flagged, never explained (no explainer)
    assert scorer[col["top attribution"]] == "-"
    bars = re.findall(r'<span class="bar-label"[^>]*>(.*?)</span>.*?width:([\d.]+)%.*?lift ([\d.]+)x', section)
    assert [b[0] for b in bars] == ["z", "x"] and float(bars[0][1]) > 50 and float(bars[0][2]) > 2


def test_attribution_drift_is_listed_per_window_against_the_reference(
        seeded_dir: Path, seeded_report: tuple[ReportStats, str]) -> None:
    windows = list(_events(seeded_dir, attribution.EVENT_WINDOW))
    drifted = sum(bool(e[attribution.ATTR_DRIFTED]) for e in windows)
    assert len(windows) == 4 and 2 <= drifted < 4  # the seeded model's reliance moves from x to z halfway
    section = _section(seeded_report[1], "edge-cases")
    header, *rows = _table(section, "attribution-drift-table")
    [row] = rows
    cells = dict(zip(header, row, strict=True))
    assert (cells["model"], cells["windows"], cells["windows drifted"]) == ("clf", "4", str(drifted))
    assert cells["latest top feature"].startswith("z (") and cells["reference top feature"].startswith("x (")
    assert section.count('class="figure"') == 1


def test_names_from_request_data_are_escaped(bands_report: tuple[ReportStats, str]) -> None:
    _, page = bands_report
    section = _section(page, "edge-cases")
    assert "<script" not in section and "<img" not in section  # no tag from the data reaches the page
    assert html.escape(X) in section and html.escape(Z) in section
    header, *rows = _table(section, "edge-case-table")
    assert all(html.unescape(r[header.index("feature")]) == X for r in rows)
    assert all(html.unescape(r[header.index("top attribution")]).startswith(Z) for r in rows)


def test_many_slices_are_capped_and_the_rest_counted(bands_dir: Path) -> None:
    tel = collect(bands_dir)
    full = attribution_section(tel, FigureWriter())
    _, *rows = _table("".join(full.parts), "edge-case-table")
    assert len(rows) >= 2  # both bands flagged
    capped = attribution_section(tel, FigureWriter(), max_slices=1)
    text = "".join(capped.parts)
    _, *shown = _table(text, "edge-case-table")
    assert len(shown) == 1 and f"{len(rows) - 1} more slice(s) not shown" in text
    assert text.count('class="barlist"') == 1


def test_a_malformed_attribution_event_is_skipped_and_counted(bands_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(bands_dir, copy)
    good = next(_events(bands_dir, attribution.EVENT_EDGE_CASE))

    def record(slice_top: str) -> dict[str, Any]:
        attrs = {**good, attribution.ATTR_SLICE: "[0, 1)", attribution.ATTR_SLICE_TOP: slice_top}
        return {"timeUnixNano": "1", "eventName": attribution.EVENT_EDGE_CASE, "attributes": [
            {"key": k, "value": {"stringValue": str(v)}} for k, v in attrs.items()]}

    # Not produced by the plugin (it writes strict JSON): a line from another writer, or a damaged file.
    line = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [
        record("{not json"), record('[{"feature": 3}]'), record('{"feature": "a"}')]}]}]}
    with (copy / "telemetry" / "logs.jsonl").open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    stats = build_report(copy, tmp_path / "r.html")
    section = _section(stats.output.read_text(), "edge-cases")
    assert "3 ml.attribution.edge_case event(s) skipped: unreadable ml.attribution.slice_top" in section
    _, *rows = _table(section, "edge-case-table")
    assert rows and "[0, 1)" not in section  # the good slices stay, the malformed one is not invented


def test_without_the_attribution_plugin_the_slices_are_listed_and_the_section_says_how_to_explain_them(
        tmp_path: Path) -> None:
    data = _serve(tmp_path / "data", attribution_plugin=False)
    stats = build_report(data, tmp_path / "r.html")
    section = _section(stats.output.read_text(), "edge-cases")
    header, *rows = _table(section, "edge-case-table")
    assert rows and all(r[header.index("top attribution")] == "-" for r in rows)
    assert "No attribution events (ml.attribution.edge_case): enable the attribution plugin" in section
    assert "No attribution window closed" in section and "edge-cases" in stats.sections


def test_parse_top_reads_the_plugin_json_and_rejects_anything_else() -> None:
    top = parse_top('[{"feature": "a", "mean_abs": 2.0, "share": 0.8, "lift": 3.5},'
                    ' {"feature": "b", "mean_abs": 0.5, "share": 0.2, "lift": null}]')
    assert top is not None and [(t.feature, t.share, t.lift) for t in top] == [("a", 0.8, 3.5), ("b", 0.2, None)]
    for bad in ("{oops", "{}", '[{"feature": "a"}]', '[{"feature": 1, "mean_abs": 1, "share": 1}]',
                '[{"feature": "a", "mean_abs": "x", "share": 1}]', "[1]", 3):
        assert parse_top(bad) is None, bad
    assert parse_top("[]") == ()
