"""The Collector's OTLP -> Prometheus name translation (config/grafana/METRIC_NAMES.md), and the agent's metrics.

Names come from the project's name tables (``agent/semconv.py`` and each plugin's name
module or constants), so a renamed metric breaks the dashboard test. The instrument kind
is declared here because the tables do not carry it.
"""

from __future__ import annotations

import re
from typing import Literal

from agent import semconv
from plugins.alerts import names as alerts
from plugins.drift import names as drift
from plugins.feedback import names as feedback
from plugins.health import names as health
from plugins.performance import names as performance
from plugins.recsys import names as recsys
from plugins.validation import names as validation

Instrument = Literal["counter", "updown", "gauge", "histogram"]

_UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "%": "percent"}


def prometheus_name(name: str, unit: str, instrument: Instrument) -> str:
    """The series name the Collector's prometheus exporter gives an OTLP metric (histograms: the base name)."""
    tokens = [t for t in re.sub(r"[^a-zA-Z0-9_:]", "_", name).split("_") if t]
    if unit in _UNITS:
        suffix = _UNITS[unit]
        if tokens[-1] != suffix:
            tokens.append(suffix)
    elif unit == "1":
        if instrument == "gauge" and tokens[-1] != "ratio":
            tokens.append("ratio")
    elif unit and not unit.startswith("{"):
        clean = re.sub(r"[^a-zA-Z0-9]", "", unit)
        if clean and tokens[-1] != clean:
            tokens.append(clean)
    if instrument == "counter" and tokens[-1] != "total":
        tokens.append("total")
    return "_".join(tokens)


def label_name(attribute: str) -> str:
    """The label an attribute key becomes."""
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_]", "_", attribute)).strip("_")


_CORE_KINDS: dict[str, Instrument] = {
    semconv.INFERENCE_DURATION: "histogram",
    semconv.INFERENCE_CALLS: "counter",
    semconv.INFERENCE_ERRORS: "counter",
    semconv.INFERENCE_ROWS: "counter",
    semconv.INFERENCE_IN_FLIGHT: "updown",
    semconv.AGENT_DROPPED: "counter",
    semconv.AGENT_PLUGIN_ERRORS: "counter",
    semconv.AGENT_EXPORT_FAILURES: "counter",
    semconv.AGENT_QUEUE_SIZE: "updown",
    semconv.AGENT_UNPROCESSABLE: "counter",
}

# Performance metric keys the feedback plugin computes (plugins/feedback/performance.py), k = 10 by default.
PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc", "log_loss", "mae", "rmse", "mape", "ctr",
                       "precision_at_10", "ndcg_at_10")


def _kind_from_description(description: str) -> Instrument:
    """The instrument named at the start of a TABLE description ("Gauge; ...", "Counter of ..."), else gauge."""
    d = description.lower()
    if d.startswith("histogram"):
        return "histogram"
    if d.startswith(("counter", "notifications sent", "failed deliveries")):
        return "counter"
    return "gauge"


def emitted_metrics() -> dict[str, tuple[str, Instrument]]:
    """Every metric the agent and its built-in plugins emit: name -> (unit, instrument).

    Names from the plugins' name modules and the dynamic ``ml.performance.*``/``ml.recsys.*``
    families, then every metric of ``agent/semconv.py``'s TABLE (its unit wins).
    """
    out: dict[str, tuple[str, Instrument]] = {}
    for name in (drift.STATISTIC, drift.P_VALUE, drift.EFFECT_SIZE, drift.DETECTED, drift.SUMMARY):
        out[name] = ("1", "gauge")
    out[drift.SKIPPED] = ("{test}", "counter")
    out[drift.BAD_VALUES] = ("{value}", "counter")
    out[drift.WINDOWS] = ("{window}", "counter")
    out[validation.VIOLATIONS] = ("{violation}", "counter")
    out[validation.ROWS] = ("{row}", "counter")
    out[validation.UNPROCESSABLE] = ("{row}", "counter")
    out[validation.OUTLIER_RATE] = ("1", "gauge")
    out[validation.LABELS] = ("{label}", "counter")
    for m in PERFORMANCE_METRICS:
        out[feedback.performance(m)] = ("1", "gauge")
    out[feedback.LABEL_DELAY] = ("s", "histogram")
    out[feedback.LABELLED_RATIO] = ("1", "gauge")
    out[feedback.COUNT] = ("{event}", "counter")
    for g in (recsys.COVERAGE, recsys.GINI, recsys.ARP, recsys.LONG_TAIL_SHARE, recsys.HEAD_TAIL_CTR_RATIO,
              recsys.CTR_BY_POSITION):
        out[g] = ("1", "gauge")
    out[alerts.FIRING] = ("{alert}", "gauge")
    out[alerts.NOTIFICATIONS] = ("{notification}", "counter")
    out[alerts.NOTIFICATION_FAILURES] = ("{notification}", "counter")
    out[health.AGENT_UP] = ("", "gauge")
    for n in semconv.TABLE:
        if n.kind == "metric":
            known = _CORE_KINDS.get(n.name) or (out[n.name][1] if n.name in out else None)
            out[n.name] = (n.unit, known or _kind_from_description(n.description))
    return out


def prometheus_series() -> set[str]:
    """Every series name Prometheus can hold for the agent's metrics (histograms with their three suffixes)."""
    out: set[str] = set()
    for name, (unit, kind) in emitted_metrics().items():
        base = prometheus_name(name, unit, kind)
        out.update({f"{base}_bucket", f"{base}_sum", f"{base}_count"} if kind == "histogram" else {base})
    return out


def emitted_labels() -> set[str]:
    """Labels the agent's metrics carry after translation (plus Prometheus' own ``le``, ``job``, ``instance``)."""
    attrs = {
        semconv.ATTR_MODEL_NAME, semconv.ATTR_MODEL_VERSION, semconv.ATTR_ERROR_TYPE, drift.ATTR_FEATURE,
        drift.ATTR_TEST, drift.ATTR_STAT, drift.ATTR_SAMPLE, validation.ATTR_KIND, recsys.ATTR_TRAFFIC,
        recsys.ATTR_POSITION, alerts.ATTR_RULE, alerts.ATTR_SEVERITY, feedback.ATTR_KIND,
        performance.ATTR_METHOD, performance.ATTR_CLASS,
    }
    return {label_name(a) for a in attrs} | {"le", "job", "instance"}
