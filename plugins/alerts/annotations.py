"""Alert labels, fingerprints and annotations: what the reader of a notification sees.

The default texts answer the on-call questions without a template: what breached, by how
much, since when, for which model/version/feature, and which command shows more.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from plugins.alerts.rules import Rule
from plugins.alerts.templates import WELL_KNOWN_LABELS, render_template
from plugins.alerts.timefmt import human_duration, rfc3339

SCOPE_LABELS = ("model", "version", "feature", "test")
NO_DATA_ALERTNAME = "NoData"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable 16-hex-digit identity of a label set (order-independent), as Alertmanager shows it."""
    # \xff never occurs in UTF-8 text, so it separates names and values unambiguously.
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def alert_labels(rule: Rule, signal_labels: Mapping[str, str], *, no_data: bool = False,
                 no_data_severity: str = "warning") -> dict[str, str]:
    """Labels of the alert for ``rule`` on a series: signal labels, then rule labels, then identity."""
    labels = {**signal_labels, **rule.labels}
    labels["alertname"] = NO_DATA_ALERTNAME if no_data else rule.name
    labels["rule"] = rule.name
    labels["severity"] = no_data_severity if no_data else rule.severity
    return labels


def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _scope(labels: Mapping[str, str]) -> str:
    parts = [f"{k}={labels[k]}" for k in SCOPE_LABELS if labels.get(k)]
    return " ".join(parts) if parts else "all models"


def _command(signal: str) -> str:
    if "drift" in signal:
        return "infersight drift"
    return "infersight alerts"


def _details_text(details: Mapping[str, Any], limit: int = 6) -> str:
    items = []
    for k, v in list(details.items())[:limit]:
        items.append(f"{k}={_num(v) if isinstance(v, float) else v}")
    return ", ".join(items)


def template_context(rule: Rule, labels: Mapping[str, str], *, value: float, details: Mapping[str, Any],
                     active_since: float, now: float) -> dict[str, Any]:
    """The names a summary/description template can use for one alert."""
    ctx: dict[str, Any] = {name: labels.get(name, "") for name in WELL_KNOWN_LABELS}
    ctx.update({k: v for k, v in labels.items() if k.isidentifier()})
    ctx.update({
        "value": value, "threshold": rule.threshold, "op": rule.op, "delta": value - rule.threshold,
        "since": rfc3339(active_since), "for": human_duration(now - active_since), "rule": rule.name,
        "signal": rule.signal, "severity": labels.get("severity", rule.severity),
        "command": _command(rule.signal),
        "labels": dict(labels), "details": dict(details),
    })
    return ctx


_OP_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
_EQUALITY = ("==", "!=")


def _is_flag(value: float, threshold: float) -> bool:
    """A 0/1 signal (``ml.drift.detected``) against a 0/0.5/1 threshold: a margin would mean nothing."""
    return value in (0.0, 1.0) and threshold in (0.0, 0.5, 1.0)


def default_summary(rule: Rule, labels: Mapping[str, str], value: float) -> str:
    """One line a person reads: "ml.drift.psi is 0.5 (threshold: > 0.2) for model=fraud feature=amount"."""
    condition = f"{rule.op} {_num(rule.threshold)}"
    said = f"alerts when {condition}" if rule.op in _EQUALITY else f"threshold: {condition}"
    return f"{rule.signal} is {_num(value)} ({said}) for {_scope(labels)}"


def breach_text(rule: Rule, value: float) -> str:
    """How the value stands against the condition, in words; a margin only where it means something.

    ">" 0.5 vs 0.2: "above the threshold of 0.2 by 0.3 (150% over it)"; ">=" 1 vs 1: "at
    the threshold (>= 1)"; "==" 1: "the value the rule alerts on (== 1)".
    """
    condition = f"{rule.op} {_num(rule.threshold)}"
    if rule.op in _EQUALITY:
        return f"the value the rule alerts on ({condition})"
    delta = value - rule.threshold
    if delta == 0:
        return f"at the threshold ({condition})"
    text = f"{_OP_WORDS[rule.op]} the threshold of {_num(rule.threshold)}"
    if _is_flag(value, rule.threshold) or not math.isfinite(delta):
        return text
    text += f" by {_num(abs(delta))}"
    if rule.threshold:
        side = "over" if delta > 0 else "under"
        text += f" ({abs(delta) / abs(rule.threshold):.0%} {side} it)"
    return text


def threshold_annotations(rule: Rule, labels: Mapping[str, str], *, value: float,
                          details: Mapping[str, Any], active_since: float, now: float) -> dict[str, str]:
    """Summary and description of a threshold alert: the rule's templates or the defaults."""
    ctx = template_context(rule, labels, value=value, details=details, active_since=active_since, now=now)
    summary = default_summary(rule, labels, value) if rule.summary is None else render_template(rule.summary, ctx)
    if rule.description is not None:
        description = render_template(rule.description, ctx)
    else:
        extra = _details_text(details)
        description = (
            f"{rule.signal} for {_scope(labels)} is {_num(value)}, {breach_text(rule, value)};"
            f" the condition has held since {ctx['since']} (for {ctx['for']})."
            + (f" Details: {extra}." if extra else "")
            + f" Severity {ctx['severity']}, rule {rule.name}. Run `{ctx['command']}` to see more"
            + ("" if ctx["command"] == "infersight alerts" else " and `infersight alerts` for alert state")
            + "."
        )
    return {"summary": summary, "description": description}


def no_data_annotations(rule: Rule, labels: Mapping[str, str], last_seen: float, limit: float,
                        now: float) -> dict[str, str]:
    """Summary and description of a no-data alert: which series went silent, since when."""
    scope = _scope(labels)
    silent = human_duration(now - last_seen)
    summary = f"No data: {rule.signal} ({scope}) silent for {silent}; rule {rule.name}"
    description = (
        f"Rule {rule.name} watches {rule.signal} for {scope}; it was last received at {rfc3339(last_seen)}"
        f" ({human_duration(now - last_seen)} ago, limit {human_duration(limit)}). Until it arrives the rule"
        " cannot be evaluated, so a breach would go unnoticed: check that the model receives traffic and that"
        f" the plugin producing {rule.signal} is enabled. Run `infersight alerts` to see current alert state."
    )
    return {"summary": summary, "description": description}
