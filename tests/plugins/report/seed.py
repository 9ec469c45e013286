"""A seeded data directory written by the real agent: drift after a shift, validation violations,
labelled feedback, an alert that fires and resolves, and a classifier that fails in one band of
its inputs (an edge case the validation plugin flags and the attribution plugin explains); all
through the file exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import agent
from plugins.attribution import clear as clear_attributions
from plugins.attribution import set_explainer

WINDOW = 300  # rows per drift window: 1,800 predictions close 6 windows, two of them in the shift
CLF_ROWS, CLF_BATCH, CLF_WINDOW = 2000, 100, 500  # the classifier: 20 batch calls, 4 attribution windows
BAND = (6.0, 7.0)  # the classifier is wrong on 70% of the rows with x in this band (5% elsewhere)

FEATURES: dict[str, Any] = {
    "amount": {"type": "float", "min": 0, "max": 1000},
    "age": {"type": "float"},
    "country": {"type": "categorical", "allowed": ["US", "GB", "DE", "FR"]},
}


def _rows(rng: np.random.Generator, n: int, shifted: bool) -> list[dict[str, Any]]:
    amount = rng.lognormal(3.0 + (1.0 if shifted else 0.0), 0.5, n)
    age = rng.normal(40, 10, n)
    p = [0.5, 0.2, 0.2, 0.1] if not shifted else [0.1, 0.1, 0.2, 0.3, 0.3]
    cats = ["US", "GB", "DE", "FR"] + (["IT"] if shifted else [])
    country = rng.choice(cats, size=n, p=p)
    return [{"amount": float(amount[i]), "age": float(age[i]), "country": str(country[i])} for i in range(n)]


def config(data_dir: Path) -> dict[str, Any]:
    """Agent config: file exporter into ``data_dir``, every plugin the report shows, small windows."""
    return {
        "service": {"name": "report-test"},
        "exporter": {"type": "file"},
        "agent": {"data_dir": str(data_dir), "tick_interval": 0.05, "stderr_level": "off"},
        "metrics": {"export_interval": 0.2},
        "plugins": {"enabled": ["drift", "validation", "feedback", "alerts", "notifiers", "performance",
                                "attribution"],
                    "entry_points": False},
        "models": {"fraud": {"version": "1.0", "task": "classification", "capture": True},
                   "scorer": {"version": "2", "task": "classification", "capture": True},
                   "clf": {"version": "1", "task": "classification", "capture": True}},
        "drift": {"window": {"type": "count", "size": WINDOW},
                  "models": {"scorer": {"enabled": False}, "clf": {"enabled": False}}},
        "attribution": {"window": {"type": "count", "size": CLF_WINDOW}, "edge_cases": {"min_rows": 30}},
        "performance": {"window": {"type": "count", "size": 200}, "min_window_rows": 50,
                        "models": {"scorer": {"score_columns": ["proba_1"]}}},
        "validation": {"window": {"type": "count", "size": WINDOW}, "models": {"fraud": {"features": FEATURES}}},
        "feedback": {"window": {"type": "count", "size": 100}, "min_window_rows": 20},
        "alerts": {
            "group_wait": "0s", "group_interval": "0s", "no_data_after": 0, "evaluation_interval": "1s",
            "default_channels": ["log", "otel"],
            "channels": {"otel": {"type": "otlp"}},
            "rules": [{"name": "feature-drift", "signal": "ml.drift.detected", "op": ">", "threshold": 0.5,
                       "severity": "warning",
                       "summary": "{feature} drifted",
                       "description": "Feature {feature} of model {model} drifted (value {value})"}],
        },
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _score(rng: np.random.Generator) -> None:
    """A calibrated binary scorer for the performance plugin: reference with labels, 3 windows, labels later."""
    x = rng.normal(size=2000)
    p = _sigmoid(2 * x)
    agent.set_reference("scorer", {"x": x, "label": (rng.random(2000) < p).astype(float), "proba_1": p})

    ids: list[str] = []

    @agent.monitor(model="scorer", version="2", task="classification")
    def score(row: dict[str, float]) -> float:
        ids.append(agent.current_prediction_id() or "")
        return float(_sigmoid(np.asarray(2 * row["x"])))

    served: list[tuple[str, float]] = []
    for value in rng.normal(0.3, 1.0, 600):
        probability = score({"x": float(value)})
        served.append((ids[-1], probability))
    assert agent.flush(30.0)
    for pid, probability in served:
        agent.log_feedback(pid, "label", int(rng.random() < probability), model="scorer")
    done = agent.flush(30.0)
    assert done, f"the agent did not finish scoring: {done.pending}"


def _classify(rng: np.random.Generator) -> None:
    """A classifier served in batches that fails in one band of x; its reliance moves from x to z halfway."""
    coef = np.array([1.0, 0.2])

    def explain(X: np.ndarray) -> np.ndarray:
        in_band = (X[:, 0] >= BAND[0]) & (X[:, 0] < BAND[1])
        out = np.asarray(X, dtype=float) * coef
        out[in_band] = X[in_band] * [0.1, 3.0]  # where it fails, the model leans on z
        return out

    set_explainer("clf", explain, features=["x", "z"])
    agent.set_reference("clf", {"x": rng.uniform(0, 10, 3000), "z": rng.normal(size=3000)})
    ids: list[str] = []

    @agent.monitor(model="clf", version="1", task="classification")
    def classify(rows: list[dict[str, float]]) -> list[int]:
        ids.append(agent.current_prediction_id() or "")
        return [int(r["z"] > 0) for r in rows]

    for call in range(CLF_ROWS // CLF_BATCH):
        if call == CLF_ROWS // CLF_BATCH // 2:
            assert agent.flush(30.0)  # the explainer runs on the worker: rows served before are explained before
            coef[:] = [0.2, 1.0]  # same inputs, same outputs: only the attributions move
        x, z = rng.uniform(0, 10, CLF_BATCH), rng.normal(size=CLF_BATCH)
        served = classify([{"x": float(a), "z": float(b)} for a, b in zip(x, z, strict=True)])
        in_band = (x >= BAND[0]) & (x < BAND[1])
        wrong = rng.random(CLF_BATCH) < np.where(in_band, 0.7, 0.05)
        for i, (out, flip) in enumerate(zip(served, wrong, strict=True)):
            agent.log_feedback(ids[-1], "label", 1 - out if flip else out, model="clf",
                               attributes={"row_index": i})
    done = agent.flush(30.0)
    assert done, f"the agent did not finish the classifier: {done.pending}"


def seed(data_dir: Path, *, rows: int = 1800, seed: int = 3) -> Path:
    """Serve ``rows`` predictions (shift after half, then back), log labels; returns ``data_dir``."""
    rng = np.random.default_rng(seed)
    agent.init(config(data_dir))
    try:
        ids: list[str | None] = []

        @agent.monitor(model="fraud", version="1.0", task="classification")
        def predict(row: dict[str, Any]) -> int:
            ids.append(agent.current_prediction_id())
            if row["amount"] > 150:
                raise ValueError("amount too large for this model")
            return int(row["amount"] > 40)

        agent.set_reference("fraud", _rows(rng, 1000, shifted=False))
        third = rows // 3
        phases = [_rows(rng, third, False), _rows(rng, third, True), _rows(rng, rows - 2 * third, False)]
        for phase in phases:
            for row in phase:
                try:
                    out = predict(row)
                except ValueError:
                    continue
                pid = ids[-1]
                if pid:
                    truth = out if rng.random() < 0.85 else 1 - out
                    agent.log_feedback(pid, "label", truth, model="fraud")
            done = agent.flush(30.0)
            assert done, f"the agent did not finish a phase: {done.pending}"
        _score(rng)
        _classify(rng)
    finally:
        agent.shutdown()
        clear_attributions()
    return data_dir
