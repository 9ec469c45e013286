"""Retraining from evidence: recorded retrains, performance against model age, the decay fit, the recommendation.

Each closed window adds a point (the version in service, the window's time, its estimated
value of the tracked metric, and later its realized value when labels arrive) to the
history of its model version. ``fit_decay`` fits value = a_v + b·age across versions: one
intercept per version (its performance at release) and one pooled slope b (decay per
day), the within-version least-squares slope; realized values are used where known,
estimates elsewhere. ``recommend`` turns it into the age at which each version reaches
the floor, the recommended retraining interval (their median) and the date the version
in service is projected to reach it. Nothing here retrains: it recommends.

The history is a small JSON file in the data directory (owner-only), readable offline by
``infersight retrain``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.plugin import TrainingRecord, ensure_dir
from plugins.performance.names import LOWER_IS_BETTER

DAY = 86400.0
FORMAT = 1


def training_json(record: TrainingRecord) -> dict[str, Any]:
    """A retrain (the core's ``TrainingRecord``) as plain data for the history file."""
    return {"trained_at": record.trained_at, "data_until": record.data_until, "metrics": dict(record.metrics)}


def to_epoch(name: str, value: Any) -> float:
    """Seconds since the epoch from a datetime, a date, an ISO-8601 string or a number; ValueError naming ``name``."""
    expected = f"{name}: expected a date-time (TOML datetime, ISO-8601 string or seconds since the epoch)"
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, str):
        try:
            return to_epoch(name, datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"{expected}, got {value!r}") from None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(f"{expected}, got {value!r}")


def iso(t: float) -> str:
    """ISO-8601 UTC, to the second."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def training_record(model: str, version: Any, trained_at: Any, data_until: Any = None,
                    metrics: Mapping[str, Any] | None = None) -> TrainingRecord:
    """A checked TrainingRecord; ``ValueError("<field>: ...")`` names the bad field."""
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version.strip():
        raise ValueError(f"version: expected a non-empty string, got {version!r}")
    at = to_epoch("trained_at", trained_at)
    until = None if data_until is None else to_epoch("data_until", data_until)
    if metrics is not None and not isinstance(metrics, Mapping):
        raise ValueError(f"metrics: expected a table of metric name to number, got {metrics!r}")
    checked: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"metrics: expected a number for {k!r}, got {v!r}")
        checked[str(k)] = float(v)
    return TrainingRecord(model, version, at, until, checked)


@dataclass(slots=True)
class Point:
    """One window's value of the tracked metric for a version."""

    window: str
    t: float
    estimated: float | None
    realized: float | None = None
    rows: int = 0

    @property
    def value(self) -> float | None:
        """Realized when labels arrived, else the estimate."""
        return self.realized if self.realized is not None else self.estimated


@dataclass(slots=True)
class ModelHistory:
    """Trainings and points of one model."""

    metric: str = "accuracy"
    floor: float | None = None
    trainings: dict[str, TrainingRecord] = field(default_factory=dict)
    points: dict[str, list[Point]] = field(default_factory=dict)

    def version_at(self, t: float) -> str | None:
        """The most recent version trained at or before ``t`` (None when none was)."""
        best = None
        for rec in self.trainings.values():
            if rec.trained_at <= t and (best is None or rec.trained_at > best.trained_at):
                best = rec
        return best.version if best is not None else None


class History:
    """Every model's history, loaded from and saved to one JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.models: dict[str, ModelHistory] = {}

    def model(self, name: str) -> ModelHistory:
        """The history of ``name`` (created empty)."""
        return self.models.setdefault(name, ModelHistory())

    def add_training(self, rec: TrainingRecord) -> None:
        """Record a retrain (a version recorded again is replaced)."""
        self.model(rec.model).trainings[rec.version] = rec

    def observe(self, model: str, version: str, point: Point, max_points: int) -> None:
        """Add or update (same window) a point of ``version``; keeps the newest ``max_points``."""
        pts = self.model(model).points.setdefault(version, [])
        for existing in reversed(pts[-64:]):
            if existing.window == point.window:
                existing.estimated = point.estimated if point.estimated is not None else existing.estimated
                existing.realized = point.realized if point.realized is not None else existing.realized
                return
        pts.append(point)
        del pts[:-max_points]

    # -- the file ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole history as plain data."""
        return {"format": FORMAT, "models": {
            name: {"metric": mh.metric, "floor": mh.floor,
                   "trainings": {v: training_json(r) for v, r in mh.trainings.items()},
                   "points": {v: [[p.window, p.t, p.estimated, p.realized, p.rows] for p in pts]
                              for v, pts in mh.points.items()}}
            for name, mh in self.models.items()}}

    @classmethod
    def from_json(cls, data: Any, path: Path | None = None) -> History:
        """A History from plain data; ValueError when it is not a history file."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT or not isinstance(data.get("models"), Mapping):
            raise ValueError(f"not a performance history file (format {FORMAT})")
        out = cls(path)
        try:
            for name, m in data["models"].items():
                mh = out.model(str(name))
                mh.metric = str(m.get("metric", "accuracy"))
                mh.floor = None if m.get("floor") is None else float(m["floor"])
                for v, r in m.get("trainings", {}).items():
                    mh.trainings[str(v)] = training_record(str(name), str(v), r["trained_at"], r.get("data_until"),
                                                           r.get("metrics"))
                for v, pts in m.get("points", {}).items():
                    mh.points[str(v)] = [Point(str(w), float(t), _opt(e), _opt(r), int(rows))
                                         for w, t, e, r, rows in pts]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed performance history: {exc}") from None
        return out

    @classmethod
    def load(cls, path: Path) -> History:
        """Read ``path`` (an empty history when it does not exist); ValueError/OSError when unreadable."""
        if not path.exists():
            return cls(path)
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        return cls.from_json(data, path)

    def save(self, file_mode: int, dir_mode: int) -> None:
        """Write the file atomically (owner-only modes); trainings another writer added to it are kept."""
        if self.path is None:
            return
        try:
            on_disk = History.load(self.path)
        except (OSError, ValueError):
            on_disk = History()
        for name, mh in on_disk.models.items():
            for v, rec in mh.trainings.items():
                self.model(name).trainings.setdefault(v, rec)
        ensure_dir(self.path.parent, dir_mode)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh, allow_nan=False)
        os.chmod(tmp, file_mode)
        os.replace(tmp, self.path)


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


# -- the decay fit ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecayFit:
    """value = intercepts[version] + slope_per_day · age_days, pooled over versions."""

    metric: str
    lower_is_better: bool
    slope_per_day: float
    slope_std: float
    intercepts: dict[str, float]
    version_slopes: dict[str, float]
    points: int
    versions: int

    def value(self, version: str, age_days: float) -> float:
        """The fitted value of ``version`` at ``age_days``."""
        return self.intercepts[version] + self.slope_per_day * age_days


def fit_decay(mh: ModelHistory) -> DecayFit | None:
    """The pooled within-version linear decay; None without two points at different ages in some version."""
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for v, pts in mh.points.items():
        rec = mh.trainings.get(v)
        vals = [(p.t, p.value) for p in pts if p.value is not None and math.isfinite(p.value)]
        if rec is None or not vals:
            continue
        ages = np.array([(t - rec.trained_at) / DAY for t, _ in vals])
        groups[v] = (ages, np.array([y for _, y in vals]))
    sxx = sxy = 0.0
    slopes: dict[str, float] = {}
    for v, (a, y) in groups.items():
        da = a - a.mean()
        vx, vy = float(da @ da), float(da @ (y - y.mean()))
        sxx += vx
        sxy += vy
        if vx > 0 and len(a) >= 3:
            slopes[v] = vy / vx
    if sxx <= 0:
        return None
    b = sxy / sxx
    intercepts = {v: float(y.mean() - b * a.mean()) for v, (a, y) in groups.items()}
    npts = sum(len(a) for a, _ in groups.values())
    ssr = sum(float(np.sum((y - intercepts[v] - b * a) ** 2)) for v, (a, y) in groups.items())
    dof = npts - len(groups) - 1
    std = math.sqrt(ssr / dof / sxx) if dof > 0 else math.nan
    return DecayFit(mh.metric, mh.metric in LOWER_IS_BETTER, b, std, intercepts, slopes, npts, len(groups))


@dataclass(frozen=True, slots=True)
class Recommendation:
    """When versions reach the floor, how often to retrain, and when the version in service will."""

    fit: DecayFit
    floor: float
    crossing_days: dict[str, float]
    interval_days: float | None
    version: str | None
    age_days: float | None
    projected_value: float | None
    projected_at: float | None
    days_left: float | None
    recommended: bool
    description: str


def _crossing(fit: DecayFit, a: float, floor: float) -> float | None:
    """Age (days) at which a version starting at ``a`` reaches the floor; None when it never does."""
    below = a >= floor if fit.lower_is_better else a <= floor
    if below:
        return 0.0
    toward = fit.slope_per_day > 0 if fit.lower_is_better else fit.slope_per_day < 0
    return (floor - a) / fit.slope_per_day if toward else None


def recommend(mh: ModelHistory, fit: DecayFit, floor: float, *, now: float, lead_s: float,
              version: str | None, model: str = "") -> Recommendation:
    """The recommended retraining interval (median crossing age over versions) and the current projection."""
    crossing = {v: c for v, a in fit.intercepts.items() if (c := _crossing(fit, a, floor)) is not None}
    interval = float(statistics.median(crossing.values())) if crossing else None
    rec = mh.trainings.get(version) if version is not None else None
    age = projected = at = left = None
    if rec is not None:
        age = (now - rec.trained_at) / DAY
        start = fit.intercepts.get(version or "")
        if start is None and fit.intercepts:  # a version without points yet: starts like the others
            start = float(statistics.median(fit.intercepts.values()))
        if start is not None:
            projected = start + fit.slope_per_day * age
            c = _crossing(fit, start, floor)
            if c is not None:
                at = rec.trained_at + c * DAY
                left = (at - now) / DAY
    recommended = left is not None and left * DAY <= lead_s
    per_day = _per_day(fit)
    evidence = (f"pooled decay {per_day} over {fit.versions} version(s), {fit.points} window(s)"
                + (f"; recommended retraining interval {interval:.1f} days" if interval is not None else
                   "; no version decays toward the floor"))
    if at is not None and left is not None:
        when = f"on {iso(at)} (in {left:.1f} days)" if left >= 0 else f"on {iso(at)} ({-left:.1f} days ago)"
        head = f"{model} {version}: {fit.metric} projected to reach the floor {floor:g} {when}"
    elif version is not None:
        head = f"{model} {version}: {fit.metric} not projected to reach the floor {floor:g}"
    else:
        head = f"{model}: no recorded training for the version in service"
    return Recommendation(fit, floor, crossing, interval, version, age, projected, at, left, recommended,
                          f"{head.strip()}; {evidence}")


def _per_day(fit: DecayFit) -> str:
    b = fit.slope_per_day
    if fit.lower_is_better:
        return f"{b:+.4g}/day"
    return f"{b:+.4f}/day ({100 * b:+.2f} points/day)"


def decay_json(fit: DecayFit, rec: Recommendation | None) -> dict[str, Any]:
    """Plain data of a fit and its recommendation (log attribute, report)."""
    out: dict[str, Any] = {"metric": fit.metric, "slope_per_day": fit.slope_per_day,
                           "slope_std": None if math.isnan(fit.slope_std) else fit.slope_std,
                           "intercepts": fit.intercepts, "version_slopes": fit.version_slopes,
                           "points": fit.points, "versions": fit.versions}
    if rec is not None:
        out.update(floor=rec.floor, crossing_days=rec.crossing_days, interval_days=rec.interval_days,
                   version=rec.version, age_days=rec.age_days, projected_value=rec.projected_value,
                   projected_at=None if rec.projected_at is None else iso(rec.projected_at),
                   days_left=rec.days_left, recommended=rec.recommended)
    return out
