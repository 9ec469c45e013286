"""The data a report section needs, from the performance plugin's exported log events.

``performance_report(events)`` takes log events as dicts (``event`` plus attributes, as
``agent.testing``'s ``events()`` and the file exporter's log lines give them) and returns,
per model: the windows over time with each method's estimates and bands, the realized
values and estimation errors once labels arrived (the latest ``ml.performance.window.realized``
of each window wins), BBSE's estimated label distribution per window, the calibration's
quality, the recorded retrains, performance against model age (``decay_points``) and the
latest decay fit (``decay_lines``) with its recommendation. Plain data, JSON-ready: the
report plugin draws it, this module draws nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins.performance import names as n
from plugins.performance.retrain import DAY, to_epoch


@dataclass
class ModelSection:
    """One model's part of the report."""

    model: str
    task: str = ""
    classes: list[str] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)
    decay: dict[str, Any] | None = None
    recommendation: dict[str, Any] | None = None
    trainings: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> trained_at (epoch s), metrics

    def series(self, metric: str, method: str) -> dict[str, list[Any]]:
        """One metric over time: window end, estimate, lower, upper, realized (None where unknown)."""
        out: dict[str, list[Any]] = {"end": [], "estimate": [], "lower": [], "upper": [], "realized": []}
        for w in self.windows:
            est = w["estimates"].get(method, {}).get(metric)
            if est is None:
                continue
            out["end"].append(w["end"])
            out["estimate"].append(est.get("value"))
            out["lower"].append(est.get("lower"))
            out["upper"].append(est.get("upper"))
            out["realized"].append((w.get("realized") or {}).get(metric))
        return out

    def label_distribution(self) -> dict[str, Any]:
        """BBSE per window: window ends, classes, q(y) rows (None where refused), the reference p(y)."""
        ends, qs, p = [], [], None
        for w in self.windows:
            b = w.get("bbse")
            if not b:
                continue
            ends.append(w["end"])
            qs.append(b.get("q"))
            p = b.get("p") or p
        return {"end": ends, "classes": self.classes, "q": qs, "reference": p}

    def decay_points(self, metric: str) -> list[dict[str, Any]]:
        """Performance against model age: per window of a recorded version, age (days), estimate, realized."""
        out = []
        for w in self.windows:
            rec = self.trainings.get(str(w["version"]))
            est = next((m[metric] for m in w["estimates"].values() if metric in m), None)
            if rec is None or est is None:
                continue
            out.append({"version": w["version"], "age_days": (w["end"] - rec["trained_at"]) / DAY,
                        "estimated": est.get("value"), "realized": (w.get("realized") or {}).get(metric)})
        return out

    def decay_lines(self) -> dict[str, tuple[float, float]]:
        """The fitted line per version, (value at release, change per day), from the latest decay fit."""
        if not self.decay:
            return {}
        slope = float(self.decay["slope_per_day"])
        return {v: (float(a), slope) for v, a in self.decay.get("intercepts", {}).items()}

    def to_json(self) -> dict[str, Any]:
        """Everything as plain data."""
        return {"model": self.model, "task": self.task, "classes": self.classes, "calibration": self.calibration,
                "windows": self.windows, "decay": self.decay, "recommendation": self.recommendation,
                "trainings": self.trainings}


def _load(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def performance_report(events: Iterable[Mapping[str, Any]]) -> dict[str, ModelSection]:
    """Per model, the performance section's data from the plugin's log events (in emission order)."""
    models: dict[str, ModelSection] = {}
    windows: dict[tuple[str, int, float], dict[str, Any]] = {}

    def section(e: Mapping[str, Any]) -> ModelSection:
        name = str(e.get(n.ATTR_MODEL, ""))
        return models.setdefault(name, ModelSection(name))

    for e in events:
        kind = e.get("event")
        if kind == n.EVENT_REFERENCE and n.ATTR_TASK_KEY in e:
            s = section(e)
            s.task = str(e[n.ATTR_TASK_KEY])
            s.classes = [str(c) for c in e.get(n.ATTR_CLASSES, []) or []]
            s.calibration = _load(e.get(n.ATTR_CALIBRATION))
        elif kind == n.EVENT_WINDOW:
            s = section(e)
            key = (s.model, int(e[n.ATTR_WINDOW_ID]), float(e[n.ATTR_WINDOW_START]))
            w = {"window": int(e[n.ATTR_WINDOW_ID]), "version": e.get(n.ATTR_VERSION, ""),
                 "start": float(e[n.ATTR_WINDOW_START]), "end": float(e[n.ATTR_WINDOW_END]),
                 "rows": int(e[n.ATTR_WINDOW_ROWS]), "estimates": _load(e.get(n.ATTR_ESTIMATES)) or {},
                 "bbse": _load(e.get(n.ATTR_BBSE)), "realized": None, "errors": None, "labelled_rows": 0}
            windows[key] = w
            s.windows.append(w)
        elif kind == n.EVENT_REALIZED:
            s = section(e)
            key = (s.model, int(e[n.ATTR_WINDOW_ID]), float(e[n.ATTR_WINDOW_START]))
            got = windows.get(key)
            if got is not None:
                got["realized"] = _load(e.get(n.ATTR_REALIZED))
                got["errors"] = _load(e.get(n.ATTR_ERRORS))
                got["labelled_rows"] = int(e.get(n.ATTR_LABELLED_ROWS, 0))
        elif kind == n.EVENT_TRAINING:
            s = section(e)
            try:
                at = to_epoch("trained_at", e.get(n.ATTR_TRAINED_AT))
            except ValueError:
                continue
            s.trainings[str(e.get(n.ATTR_VERSION, ""))] = {"trained_at": at,
                                                          "metrics": _load(e.get(n.ATTR_TRAINING_METRICS)) or {}}
        elif kind == n.EVENT_DECAY:
            s = section(e)
            s.decay = _load(e.get(n.ATTR_DECAY))
            if s.decay and "floor" in s.decay:
                s.recommendation = {k: s.decay.get(k) for k in ("floor", "interval_days", "version", "age_days",
                                                                  "projected_value", "projected_at", "days_left",
                                                                  "recommended", "crossing_days")}
    for s in models.values():
        s.windows.sort(key=lambda w: (w["end"], w["window"]))
    return models
