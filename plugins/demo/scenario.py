"""``infersight demo``: a simulated fraud model served through ``@monitor``, with a shift injected half-way.

No collector is needed: telemetry goes to the data directory as OTLP/JSON lines; with
an OTLP endpoint set (``OTEL_EXPORTER_OTLP_ENDPOINT``) it goes to the collector *and*
to the files, so the HTML report still has data. Three phases: normal traffic, a shift
(``amount`` grows, the ``country`` mix changes, a few rows arrive broken), and normal
traffic again. The drift plugin flags the shifted features, the alert engine fires a
drift alert through the log channel (and a webhook when INFERSIGHT_DEMO_WEBHOOK is set)
and resolves it once the shift is gone. A recommender scenario follows, in which a
popularity feedback loop develops and is flagged, next to a run with exploration where
it is not. The demo ends by writing the HTML report.

What it prints depends only on the seed: every phase is served, then the agent is
flushed until all its windows are tested and its alert rules evaluated (``agent.flush``
returns true), so a window's result is never printed under the next phase; alerts are
summarised per rule and feature (not per notification, whose grouping depends on which
windows closed in the same tick); file sizes and timings are not printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import agent
from agent.plugin import deep_merge, exporter_type, listen_events, running_plugin
from plugins.drift import names as drift_names
from plugins.notifiers import names as notifier_names
from plugins.validation import names as validation_names

__all__ = ["COUNTRIES", "WINDOW", "demo_config", "run_demo", "settle"]

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR")
WINDOW = 500  # rows per drift and validation window: each phase closes a whole number of windows
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"
ENV_WEBHOOK = "INFERSIGHT_DEMO_WEBHOOK"
# The shared endpoint: with it every signal can go to the collector and to the files. (Per-signal
# endpoints alone are left to the environment's own exporter choice.)
OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
STREAMS = (drift_names.STREAM_INPUTS, drift_names.STREAM_OUTPUTS)  # the model's features and its score
RANGE_KINDS = ("below_min", "above_max")  # values just outside the reference's range: summed, not listed
SETTLE_ATTEMPTS = 12  # flushes of up to SETTLE_TIMEOUT each before the demo says the agent fell behind
SETTLE_TIMEOUT = 10.0

Out = Callable[..., None]


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


def demo_config(data_dir: str, webhook: str | None = None, *, collector: bool = False) -> dict[str, Any]:
    """The demo's agent configuration (also a readable example of a full config).

    ``collector``: an OTLP endpoint is configured (environment): export there and keep the
    local files too, so the report at the end has data.
    """
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
        "validation": {"window": {"type": "count", "size": WINDOW}},
        "alerts": {
            "group_by": ["rule", "model"],
            "group_interval": "0s",
            "evaluation_interval": "0.5s",
            "no_data_after": 0,
            "channels": channels,
            "rules": [
                {
                    "name": "fraud-feature-drift",
                    "signal": drift_names.SIGNAL_DETECTED,
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
    if collector:
        config["exporter"] = {"type": ["otlp", "file"]}
    try:
        from plugins.recsys.demo import demo_config as recsys_config
    except ImportError:
        return config
    return deep_merge(config, recsys_config())


class _EventLog:
    """Collects the agent's structured events (drift windows, validation findings, alert notifications)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def named(self, name: str, since: int = 0) -> list[dict[str, Any]]:
        """Events called ``name`` logged since position ``since``, in order."""
        return [e for e in self.events[since:] if e.get("event") == name]

    def mark(self) -> int:
        """A position to read new events from."""
        return len(self.events)


def settle(attempts: int = SETTLE_ATTEMPTS, timeout: float = SETTLE_TIMEOUT) -> bool:
    """Flush until the agent has done everything queued (windows tested, rules evaluated); False if it never did.

    One flush waits at most ``timeout``; a machine whose cores are busy may need several.
    """
    return any(agent.flush(timeout) for _ in range(attempts))


def run_demo(
    *, data_dir: str | None = None, rows: int = 6000, seed: int = 7, quiet: bool = False, report: bool = True
) -> int:
    """Serve the scenarios, print what was found and where telemetry went; returns the exit code.

    ``data_dir`` (``--data-dir``) wins over ``INFERSIGHT_DATA_DIR``, which wins over
    ``./infersight-data``. Exit code 0, or 1 when the agent did not finish its work in
    time (the results printed are then incomplete, and say so).
    """
    out: Out = (lambda *a, **k: None) if quiet else print
    directory = str(Path(data_dir or os.environ.get(ENV_DATA_DIR) or "infersight-data").resolve())
    webhook = os.environ.get(ENV_WEBHOOK) or None
    collector = bool(os.environ.get(OTEL_ENDPOINT))
    rng = np.random.default_rng(seed)
    config = demo_config(directory, webhook, collector=collector)
    # An explicit section wins over the environment: --data-dir is where the files go, whatever
    # INFERSIGHT_DATA_DIR says.
    agent.init(config, agent=config["agent"])
    if not agent.is_running():
        out("The agent is disabled (INFERSIGHT_DISABLED or OTEL_SDK_DISABLED); nothing to show.")
        return 0
    events = _EventLog()
    listen_events(events)
    out(f"InferSight demo — data directory {directory} (exporter: {exporter_type()})")
    complete = _fraud_scenario(out, rng, events, rows)
    complete = _alerts(out, events, webhook) and complete
    recsys_lines = _recommender_scenario(rng, events)
    for line in recsys_lines:
        out(line)
    complete = settle() and complete
    agent.shutdown()
    out("\nTelemetry written:")
    for path in sorted((Path(directory) / "telemetry").glob("*.jsonl*")):
        out(f"  {path}")
    if report:
        _write_report(out, directory)
    out(f"\nNext: `infersight alerts {directory}` for alert state; see README 'Reading the demo'.")
    return 0 if complete else 1


def _fraud_scenario(out: Out, rng: np.random.Generator, events: _EventLog, rows: int) -> bool:
    @agent.monitor(model="fraud", version="3.2", task="classification")
    def predict(features: dict[str, Any]) -> float:
        return _fraud_probability(features)

    phase = max(rows // 3 // WINDOW, 1) * WINDOW  # whole windows: no window straddles two phases
    out(f"\n[1/2] Fraud model 'fraud' v3.2: {3 * phase} predictions in three phases of {phase}.")
    agent.set_reference("fraud", _rows(rng, 5000, shifted=False))
    complete = True
    for name, shifted in (("normal traffic", False), ("shift injected", True), ("shift removed", False)):
        mark = events.mark()
        batch = _rows(rng, phase, shifted)
        if shifted:  # a broken upstream pipeline: some rows arrive without a value or with a bad one
            for row in batch[::97]:
                row["amount"] = None
            for row in batch[5::151]:
                row["country"] = "XX"
        for row in batch:
            predict(row)
        done = settle()
        complete = complete and done
        _report_phase(out, name, events, mark, done)
    return complete


def _report_phase(out: Out, name: str, events: _EventLog, mark: int, done: bool) -> None:
    drifted: dict[str, float] = {}
    for window in events.named(drift_names.EVENT_WINDOW, mark):
        if window.get(drift_names.ATTR_MODEL) != "fraud" or window.get(drift_names.ATTR_STREAM) not in STREAMS:
            continue
        for result in _results(window):
            if result.get("drifted"):
                feature = str(result.get("feature"))
                drifted[feature] = max(drifted.get(feature, 0.0), float(result.get("effect_size") or 0.0))
    violations: dict[tuple[str, str], int] = {}
    for e in events.named(validation_names.EVENT_VIOLATION, mark):
        if e.get(validation_names.ATTR_MODEL) == "fraud":
            key = (str(e.get(validation_names.ATTR_FEATURE)), str(e.get(validation_names.ATTR_KIND)))
            violations[key] = violations.get(key, 0) + int(e.get(validation_names.ATTR_COUNT) or 0)
    if drifted:
        listed = ", ".join(f"{f} (max effect {v:.2f})" for f, v in sorted(drifted.items(), key=lambda kv: -kv[1]))
        out(f"  {name:16} drift detected in: {listed}")
    else:
        out(f"  {name:16} no drift")
    # Values just outside the reference's observed range are routine in fresh data; the demo lists
    # the kinds that point at a broken pipeline and sums the range ones.
    for (feature, kind), count in sorted(violations.items()):
        if kind not in (*RANGE_KINDS, "outlier"):
            out(f"  {'':16}   validation: {count} row(s) {kind} in {feature}")
    out_of_range = sum(c for (_, kind), c in violations.items() if kind in RANGE_KINDS)
    if out_of_range:
        out(f"  {'':16}   validation: {out_of_range} value(s) outside the reference range")
    if not done:
        out(f"  {'':16}   (incomplete: the agent did not finish this phase's windows in time)")


def _results(window: dict[str, Any]) -> list[dict[str, Any]]:
    from plugins.report.collect import decode_json_list

    return decode_json_list(window.get(drift_names.ATTR_RESULTS))


def _alerts(out: Out, events: _EventLog, webhook: str | None) -> bool:
    """Summarise the alert notifications per rule: which features fired, which resolved."""
    alerts_plugin = running_plugin("alerts")
    delivered = alerts_plugin.flush(SETTLE_TIMEOUT) if alerts_plugin is not None else True
    fired: dict[str, set[str]] = {}
    resolved: dict[str, set[str]] = {}
    from plugins.report.collect import decode_json_list

    for note in events.named(notifier_names.EVENT_NOTIFICATION):
        for a in decode_json_list(note.get(notifier_names.ATTR_ALERTS)):
            labels: dict[str, Any] = a["labels"] if isinstance(a.get("labels"), dict) else {}
            rule = str(a.get("rule") or labels.get("rule") or "?")
            target = resolved if a.get("status") == "resolved" else fired
            target.setdefault(rule, set()).add(str(labels.get("feature", "?")))
    if not fired and not resolved:
        out("  alerts: none sent")
    for rule in sorted(fired.keys() | resolved.keys()):
        out(f"  alert {rule}: FIRING for {', '.join(sorted(fired.get(rule, ()))) or '-'}")
        out(f"  alert {rule}: RESOLVED for {', '.join(sorted(resolved.get(rule, ()))) or '-'}")
    if webhook:
        out(f"  (also delivered to the webhook at {agent.redact_url(webhook)})")
    if not delivered:
        out("  (some notifications were still being delivered)")
    return delivered


def _recommender_scenario(rng: np.random.Generator, events: _EventLog) -> list[str]:
    """Run the feedback-loop simulation with and without exploration (when the recsys plugin is present)."""
    try:
        from plugins.recsys.demo import run_recommender_demo
    except ImportError:
        return []
    return run_recommender_demo(rng, events.events)


def _write_report(out: Out, directory: str) -> None:
    from plugins.report import PlotlyMissingError, ReportInputError, TelemetryShapeError, build_report

    target = Path(directory) / "report.html"
    try:
        build_report(directory, target)
    except PlotlyMissingError:
        out("\nReport skipped: plotly is not installed (pip install 'infersight[report]').")
        return
    except (ReportInputError, TelemetryShapeError) as exc:  # the demo's telemetry is written; say why no report
        out(f"\nReport not written: {exc}")
        return
    out(f"\nReport: {target} — open it in a browser")
