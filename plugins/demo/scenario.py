"""``infersight demo``: a simulated fraud model served through ``@monitor``, with a shift injected half-way.

No collector is needed: telemetry goes to the data directory as OTLP/JSON lines (or to
OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set). Three phases: normal traffic, a shift
(``amount`` grows, the ``country`` mix changes, a few rows arrive broken), and normal
traffic again. The drift plugin flags the shifted features, the alert engine fires a
drift alert through the log channel (and a webhook when INFERSIGHT_DEMO_WEBHOOK is set)
and resolves it once the shift is gone. A recommender scenario follows, in which a
popularity feedback loop develops and is flagged, next to a run with exploration where
it is not. The demo ends by writing the HTML report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import agent
from agent.plugin import deep_merge, exporter_type, listen_events, running_plugin


COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR")
WINDOW = 500


def _rows(rng: np.random.Generator, n: int, shifted: bool) -> list[dict[str, Any]]:
    """Transactions; when ``shifted``, ``amount`` grows by about 1σ and the ``country`` mix changes."""
    amount = rng.lognormal(3.0 + (0.8 if shifted else 0.0), 0.8, n)
    age = rng.normal(40, 12, n).clip(18, 95).round()
    tenure = rng.exponential(400, n)
    ntx = rng.poisson(3, n).astype(float)
    score_a = rng.normal(0, 1, n)
    score_b = rng.normal(0, 1, n)
    p = [0.15, 0.1, 0.1, 0.1, 0.4, 0.15] if shifted else [0.4, 0.2, 0.15, 0.1, 0.1, 0.05]
    country = rng.choice(COUNTRIES, size=n, p=p)
    return [
        {
            "amount": float(amount[i]), "age": float(age[i]), "tenure_days": float(tenure[i]),
            "n_tx_24h": float(ntx[i]), "score_a": float(score_a[i]), "score_b": float(score_b[i]),
            "country": str(country[i]),
        }
        for i in range(n)
    ]


def _fraud_probability(row: dict[str, Any]) -> float:
    amount = row.get("amount") or 0.0  # the model imputes a missing amount; validation still flags it
    z = 0.004 * amount - 0.002 * row["tenure_days"] + 0.3 * row["n_tx_24h"] + 0.5 * row["score_a"] - 3.0
    return float(1.0 / (1.0 + np.exp(-z)))


def demo_config(data_dir: str, webhook: str | None = None) -> dict[str, Any]:
    """The demo's agent configuration (also a readable example of a full config)."""
    channels: dict[str, Any] = {}
    rule_channels = ["log"]
    if webhook:
        channels["demo-webhook"] = {"type": "webhook", "url": webhook, "timeout": "5s"}
        rule_channels.append("demo-webhook")
    config: dict[str, Any] = {
        "service": {"name": "infersight-demo"},
        "agent": {"data_dir": data_dir, "tick_interval": 0.5, "stderr_level": "off"},
        "metrics": {"export_interval": 2.0},
        "models": {"fraud": {"version": "3.2", "task": "classification", "capture": True}},
        "drift": {"window": {"type": "count", "size": WINDOW}, "min_window": 100, "permutations": 100},
        "validation": {"window_seconds": 0},
        "alerts": {
            "group_by": ["rule", "model"],
            "group_interval": "0s",
            "no_data_after": 0,
            "channels": channels,
            "rules": [
                {
                    "name": "fraud-feature-drift",
                    "signal": "ml.drift.detected",
                    "matchers": ['model="fraud"'],
                    "op": "==",
                    "threshold": 1,
                    "severity": "warning",
                    "labels": {"team": "risk-ml"},
                    "summary": "Drift in {feature} of {model} v{version}",
                    "channels": rule_channels,
                },
            ],
        },
    }
    try:
        from plugins.recsys.demo import demo_config as recsys_config
    except ImportError:
        return config
    return deep_merge(config, recsys_config())



class _EventLog:
    """Collects the agent's structured events (drift findings, validation, alert notifications)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[dict[str, Any]]:
        """Events called ``name``, in order."""
        return [e for e in self.events if e.get("event") == name]

    def mark(self) -> int:
        """A position to read new events from."""
        return len(self.events)


def run_demo(
    *, data_dir: str | None = None, rows: int = 6000, seed: int = 7, quiet: bool = False, report: bool = True
) -> int:
    """Serve the scenarios, print what was found and where telemetry went; returns the exit code."""
    out: Callable[..., None] = (lambda *a, **k: None) if quiet else print
    directory = str(Path(data_dir or os.environ.get("INFERSIGHT_DATA_DIR", "infersight-data")).resolve())
    webhook = os.environ.get("INFERSIGHT_DEMO_WEBHOOK") or None
    rng = np.random.default_rng(seed)
    agent.init(demo_config(directory, webhook))
    if not agent.is_running():
        out("The agent is disabled (INFERSIGHT_DISABLED or OTEL_SDK_DISABLED); nothing to show.")
        return 0
    events = _EventLog()
    listen_events(events)
    exporter = exporter_type()

    @agent.monitor(model="fraud", version="3.2", task="classification")
    def predict(features: dict[str, Any]) -> float:
        return _fraud_probability(features)

    phase = max(rows // 3, WINDOW)
    out(f"InferSight demo — data directory {directory} (exporter: {exporter})")
    out(f"\n[1/2] Fraud model 'fraud' v3.2: {3 * phase} predictions in three phases of {phase}.")
    agent.set_reference("fraud", _rows(rng, 5000, shifted=False))
    served = 0
    phases = [("normal traffic", False), ("shift injected", True), ("shift removed", False)]
    for name, shifted in phases:
        mark = events.mark()
        batch = _rows(rng, phase, shifted)
        if shifted:  # a broken upstream pipeline: some rows arrive without a value or with a bad one
            for row in batch[::97]:
                row["amount"] = None
            for row in batch[5::151]:
                row["country"] = "XX"
        for row in batch:
            predict(row)
            served += 1
        agent.flush()
        _report_phase(out, name, events, mark)
    alerts_plugin = running_plugin("alerts")
    if alerts_plugin is not None:
        alerts_plugin.flush(5.0)
    _report_alerts(out, events, webhook)

    recsys_lines = _recommender_scenario(rng, events)
    for line in recsys_lines:
        out(line)

    agent.flush()
    agent.shutdown()
    out("\nTelemetry written:")
    tel = Path(directory) / "telemetry"
    for path in sorted(tel.glob("*.jsonl*")):
        out(f"  {path}  ({path.stat().st_size:,} bytes)")
    if report:
        _write_report(out, directory)
    out("\nNext: `infersight alerts " + directory + "` for alert state; see README 'Reading the demo'.")
    return 0


def _report_phase(out: Callable[..., None], name: str, events: _EventLog, mark: int) -> None:
    new = events.events[mark:]
    drifted: dict[str, float] = {}
    for e in new:
        if e.get("event") == "ml.drift.detected" and e.get("model") == "fraud":
            drifted[str(e.get("feature"))] = float(e.get("effect_size") or 0.0)
    violations: dict[tuple[str, str], int] = {}
    for e in new:
        if e.get("event") == "ml.validation.violation" and e.get("model") == "fraud":
            key = (str(e.get("feature")), str(e.get("kind")))
            violations[key] = violations.get(key, 0) + int(e.get("count") or 0)
    out(f"  {name:16} ", end="")
    if drifted:
        listed = ", ".join(f"{f} (effect {v:.2f})" for f, v in sorted(drifted.items(), key=lambda kv: -kv[1]))
        out(f"drift detected in: {listed}")
    else:
        out("no drift")
    # Values just outside the reference's observed range are routine in fresh data; the demo lists
    # the kinds that point at a broken pipeline and sums the range ones.
    out_of_range = sum(c for (_, kind), c in violations.items() if kind in ("below_min", "above_max"))
    for (feature, kind), count in sorted(violations.items()):
        if kind not in ("outlier", "below_min", "above_max"):
            out(f"  {'':16}   validation: {count} row(s) {kind} in {feature}")
    if out_of_range:
        out(f"  {'':16}   validation: {out_of_range} value(s) outside the reference range")


def _report_alerts(out: Callable[..., None], events: _EventLog, webhook: str | None) -> None:
    notes = events.named("ml.alerts.notification")
    if not notes:
        out("  alerts: none sent")
        return
    for note in notes:
        alerts = note.get("alerts") or []
        features = sorted({str(a.get("labels", {}).get("feature")) for a in alerts if isinstance(a, dict)})
        out(f"  alert {note.get('status', '?').upper():8} {note.get('headline', '')} — features: {', '.join(features)}")
    if webhook:
        out(f"  (also delivered to the webhook at {agent.redact_url(webhook)})")


def _recommender_scenario(rng: np.random.Generator, events: _EventLog) -> list[str]:
    """Run the feedback-loop simulation with and without exploration (when the recsys plugin is present)."""
    try:
        from plugins.recsys.demo import run_recommender_demo
    except ImportError:
        return []
    return run_recommender_demo(rng, events.events)


def _write_report(out: Callable[..., None], directory: str) -> None:
    from plugins.report import PlotlyMissingError, build_report

    target = Path(directory) / "report.html"
    try:
        build_report(directory, target)
    except PlotlyMissingError:
        out("\nReport skipped: plotly is not installed (pip install 'infersight[report]').")
        return
    except Exception as exc:  # the report is a convenience; the demo's telemetry is already written
        out(f"\nReport not written: {type(exc).__name__}: {exc}")
        return
    out(f"\nReport: {target}  ({target.stat().st_size:,} bytes) — open it in a browser")
