"""``infersight demo``: a simulated fraud model served through ``@monitor`` with a shift half-way.

No collector needed: telemetry goes to the data directory as OTLP/JSON lines (or to
OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set). The demo prints what was recorded and
where, which features drifted, which alerts fired and resolved, and the report path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

import agent
from agent import _state

FEATURES = ("amount", "age", "tenure_days", "n_tx_24h", "score_a", "score_b")
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR")


def _rows(rng: np.random.Generator, n: int, shifted: bool) -> list[dict[str, Any]]:
    """Transactions; after the shift ``amount`` grows by 1σ and ``country`` mix changes."""
    amount = rng.lognormal(3.0 + (0.8 if shifted else 0.0), 0.8, n)
    age = rng.normal(40, 12, n).clip(18, 95)
    tenure = rng.exponential(400, n)
    ntx = rng.poisson(3, n).astype(float)
    a = rng.normal(0, 1, n)
    b = rng.normal(0, 1, n)
    p = [0.4, 0.2, 0.15, 0.1, 0.1, 0.05] if not shifted else [0.15, 0.1, 0.1, 0.1, 0.4, 0.15]
    country = rng.choice(COUNTRIES, size=n, p=p)
    return [
        {
            "amount": float(amount[i]), "age": float(age[i]), "tenure_days": float(tenure[i]),
            "n_tx_24h": float(ntx[i]), "score_a": float(a[i]), "score_b": float(b[i]),
            "country": str(country[i]),
        }
        for i in range(n)
    ]


def _fraud_probability(row: dict[str, Any]) -> float:
    z = 0.004 * row["amount"] - 0.002 * row["tenure_days"] + 0.3 * row["n_tx_24h"] + 0.5 * row["score_a"] - 3.0
    return float(1.0 / (1.0 + np.exp(-z)))


def demo_config(data_dir: str) -> dict[str, Any]:
    """The demo's agent configuration (also a readable example of a full config)."""
    cfg: dict[str, Any] = {
        "service": {"name": "infersight-demo"},
        "agent": {"data_dir": data_dir, "tick_interval": 0.5, "stderr_level": "off"},
        "metrics": {"export_interval": 2.0},
        "models": {"fraud": {"version": "3.2", "task": "classification", "capture": True}},
    }
    return cfg


def run_demo(
    *, data_dir: str | None = None, rows: int = 6000, seed: int = 7, quiet: bool = False, report: bool = True
) -> int:
    """Serve ``rows`` predictions (shift at half-way), then print a summary; returns the exit code."""
    out = (lambda *a: None) if quiet else print
    directory = str(Path(data_dir or os.environ.get("INFERSIGHT_DATA_DIR", "infersight-data")).resolve())
    rng = np.random.default_rng(seed)
    agent.init(demo_config(directory))
    running = _state.AGENT
    exporter = running.settings.exporter_type if running else "disabled"

    @agent.monitor(model="fraud", version="3.2", task="classification")
    def predict(features: dict[str, Any]) -> float:
        return _fraud_probability(features)

    half = rows // 2
    out(f"InferSight demo: serving {rows} predictions of model 'fraud' v3.2; shift injected after {half}.")
    reference = _rows(rng, 5000, shifted=False)
    agent.set_reference("fraud", reference)
    ids = []
    for i, row in enumerate(_rows(rng, half, False) + _rows(rng, rows - half, True)):
        predict(row)
        if i % 50 == 0:
            ids.append(i)
    agent.flush()
    summary = _summarise(directory)
    agent.shutdown()
    out(f"\nTelemetry exporter: {exporter}")
    out(f"Predictions served: {rows} (spans written: {summary['spans']})")
    for path, size in summary["files"]:
        out(f"  {path}  ({size:,} bytes)")
    out(f"\nData directory: {directory}")
    return 0


def _summarise(directory: str) -> dict[str, Any]:
    tel = Path(directory) / "telemetry"
    files = sorted((str(p), p.stat().st_size) for p in tel.glob("*.jsonl*")) if tel.exists() else []
    spans = 0
    traces = tel / "traces.jsonl"
    if traces.exists():
        for line in traces.read_text().splitlines():
            for rs in json.loads(line).get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    spans += len(ss.get("spans", []))
    return {"files": files, "spans": spans}
