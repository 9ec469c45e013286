"""The provisioned Grafana dashboard queries only metrics and labels the agent emits (after Collector translation)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.report.promnames import emitted_labels, prometheus_name, prometheus_series

GRAFANA = Path(__file__).resolve().parents[3] / "config" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "infersight.json"
PROMQL_WORDS = frozenset({
    "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "histogram_quantile", "by", "without", "on",
    "ignoring", "group_left", "group_right", "and", "or", "unless", "label_values", "topk", "bottomk", "clamp_min",
    "clamp_max", "abs", "time", "vector", "scalar", "offset", "bool", "max_over_time", "last_over_time",
})


def _panels() -> list[dict[str, Any]]:
    doc = json.loads(DASHBOARD.read_text())
    out = []
    for p in doc["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return [p for p in out if p.get("type") != "row"]


def _expressions() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    exprs = [(p["title"], t["expr"]) for p in _panels() for t in p.get("targets", [])]
    for var in doc["templating"]["list"]:
        if var.get("type") == "query":
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            exprs.append((f"variable {var['name']}", q))
    return exprs


def parse_promql(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) used by a PromQL expression (enough of PromQL for the dashboard's queries)."""
    labels: set[str] = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and regexes are not names
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors: [$__rate_interval]
    for block in re.findall(r"\{([^}]*)\}", text):
        labels.update(m for m in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for block in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels.update(x.strip() for x in block.split(",") if x.strip())
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    m = re.match(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)\s*$", text)
    if m:
        labels.add(m.group(2))
        text = m.group(1)
    words = set(re.findall(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)", text)) - PROMQL_WORDS
    return words, labels


def test_translation_follows_the_collector_rules_documented_upstream() -> None:
    assert prometheus_name("system.filesystem.usage", "By", "gauge") == "system_filesystem_usage_bytes"
    assert prometheus_name("system.network.dropped", "{packets}", "gauge") == "system_network_dropped"
    assert prometheus_name("system.network.dropped", "{packets}", "counter") == "system_network_dropped_total"
    assert prometheus_name("system.cpu.utilization", "1", "gauge") == "system_cpu_utilization_ratio"
    assert prometheus_name("ml.inference.duration", "s", "histogram") == "ml_inference_duration_seconds"
    assert prometheus_name("ml.feedback.labelled_ratio", "1", "gauge") == "ml_feedback_labelled_ratio"
    assert prometheus_name("ml.inference.calls", "{call}", "counter") == "ml_inference_calls_total"


def test_parser_separates_metrics_from_labels() -> None:
    metrics, labels = parse_promql(
        'histogram_quantile(0.9, sum by (le, ml_model_name) (rate(ml_x_bucket{ml_model_name=~"$m"}[5m])))')
    assert metrics == {"ml_x_bucket"}
    assert labels == {"le", "ml_model_name"}


def test_every_query_names_only_metrics_the_agent_emits() -> None:
    known = prometheus_series()
    exprs = _expressions()
    assert exprs, "the dashboard has no queries"
    for title, expr in exprs:
        metrics, _ = parse_promql(expr)
        assert metrics, f"{title}: no metric in {expr!r}"
        unknown = metrics - known
        assert not unknown, f"{title}: {sorted(unknown)} is not an agent metric after translation ({expr})"


def test_every_query_uses_only_labels_the_agent_emits() -> None:
    known = emitted_labels()
    for title, expr in _expressions():
        _, labels = parse_promql(expr)
        assert labels <= known, f"{title}: unknown labels {sorted(labels - known)} in {expr!r}"


@pytest.mark.parametrize("metric", [
    "ml_inference_calls_total", "ml_inference_errors_total", "ml_inference_duration_seconds_bucket",
    "ml_drift_detected_ratio", "ml_drift_effect_size_ratio", "ml_performance_accuracy_ratio",
    "ml_recsys_coverage_ratio", "ml_recsys_gini_ratio", "ml_alerts_firing",
])
def test_dashboard_answers_each_question_the_issue_lists(metric: str) -> None:
    used = set().union(*(parse_promql(e)[0] for _, e in _expressions()))
    assert metric in used


def test_panels_fit_the_grid_without_overlap_and_stay_few() -> None:
    panels = _panels()
    assert len(panels) <= 15, "dashboard rot: keep the panel count small (five questions, about three panels each)"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{p['title']} overlaps another panel"
        cells |= area
        assert p.get("description"), f"{p['title']} has no description"


def test_provisioning_and_compose_point_at_the_same_files() -> None:
    compose = (GRAFANA / "docker-compose.yaml").read_text()
    for image in ("otel/opentelemetry-collector-contrib", "prom/prometheus", "grafana/grafana", "grafana/tempo"):
        assert f"image: {image}:" in compose
    for mounted in ("./otelcol.yaml", "./prometheus.yml", "./provisioning", "./dashboards", "./tempo.yaml"):
        assert mounted in compose and (GRAFANA / mounted).exists(), mounted
    provider = (GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider and "./dashboards:/var/lib/grafana/dashboards" in compose
    datasource = (GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text()
    assert "uid: prometheus" in datasource and "url: http://prometheus:9090" in datasource
    assert '"otel-collector:8889"' in (GRAFANA / "prometheus.yml").read_text()
    assert "endpoint: 0.0.0.0:8889" in (GRAFANA / "otelcol.yaml").read_text()
