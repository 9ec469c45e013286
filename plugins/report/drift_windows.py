"""Per-window drift results: what the report's drift section counts, tabulates and plots.

The drift plugin logs one ``ml.drift.window`` event per closed window and stream, with
every test result of that window (``ml.drift.results``). The report reduces them while
streaming: windows closed and windows with drift per model and stream, per-feature
counts of windows tested and drifted, the latest result, a bounded history for the
over-windows chart, and the most drifted window of each model (the one whose
distributions are drawn against the reference).

The ``ml.drift.*`` gauges are not used for this: a gauge is sampled once per metric
export, so windows that close between two exports leave one point (a report once said
"3 windows" when 9 had closed, and more windows drifted than windows).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugins.report import reads as r

MULTIVARIATE = "multivariate"
MAX_HISTORY = 2_000  # points kept per series for the chart; halved (every other one) when exceeded

ModelKey = tuple[str, str]
StreamKey = tuple[str, str, str]
SeriesKey = tuple[str, str, str, str]  # model, version, feature, test

# Keys of one result object: the drift plugin's attribute names, or their short forms.
_RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "feature": (r.FEATURE, "feature", "name"),
    "test": (r.drift.ATTR_TEST, "test"),
    "statistic": (r.drift.ATTR_STATISTIC, "statistic"),
    "p_value": (r.drift.ATTR_CORRECTED_P_VALUE, "corrected_p_value", r.drift.ATTR_P_VALUE, "p_value"),
    "effect": (r.drift.ATTR_EFFECT_SIZE, "effect_size", "effect"),
    "threshold": (r.drift.ATTR_THRESHOLD, "threshold"),
    "drifted": (r.drift.ATTR_DRIFTED, "drifted", "detected"),
    "skipped": (r.drift.ATTR_REASON, "skipped", "reason"),
}
_WINDOW_KEYS: dict[str, tuple[str, ...]] = {
    "model": (r.MODEL, "model"),
    "version": (r.VERSION, "version"),
    "stream": (r.drift.ATTR_STREAM, "stream"),
    "number": (r.drift.ATTR_WINDOW_NUMBER, "window_number", "number"),
    "start": (r.drift.ATTR_WINDOW_START, "window_start", "start"),
    "end": (r.drift.ATTR_WINDOW_END, "window_end", "end"),
    "rows": (r.drift.ATTR_WINDOW_ROWS, "n_window", "rows"),
}


def _pick(obj: Mapping[str, Any], keys: tuple[str, ...], default: Any = None) -> Any:
    for k in keys:
        if k in obj and obj[k] is not None:
            return obj[k]
    return default


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _int(v: Any) -> int | None:
    f = _float(v)
    return int(f) if math.isfinite(f) else None


def _bool(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true") or (isinstance(v, int | float) and v == 1)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test of one feature (or ``multivariate``) in one window."""

    feature: str
    test: str
    statistic: float
    p_value: float  # corrected, when the event carries it
    effect: float
    threshold: float
    drifted: bool
    skipped: str | None = None


def parse_result(obj: Mapping[str, Any]) -> TestResult | None:
    """A result object of ``ml.drift.results`` (namespaced or short keys); None when it names no feature."""
    feature = _pick(obj, _RESULT_KEYS["feature"])
    if not isinstance(feature, str) or not feature:
        return None
    skipped = _pick(obj, _RESULT_KEYS["skipped"])
    return TestResult(
        feature=feature,
        test=str(_pick(obj, _RESULT_KEYS["test"], "")),
        statistic=_float(_pick(obj, _RESULT_KEYS["statistic"])),
        p_value=_float(_pick(obj, _RESULT_KEYS["p_value"])),
        effect=_float(_pick(obj, _RESULT_KEYS["effect"])),
        threshold=_float(_pick(obj, _RESULT_KEYS["threshold"])),
        drifted=_bool(_pick(obj, _RESULT_KEYS["drifted"], False)),
        skipped=str(skipped) if skipped else None,
    )


def flat_summary(value: Any) -> dict[str, float]:
    """Summary statistics as ``{stat: value}``, categories as ``freq:<category>`` (from a dict or JSON)."""
    value = _json(value)
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, float] = {}
    for k, v in value.items():
        if k in ("frequencies", "freq") and isinstance(v, Mapping):
            out.update({f"freq:{c}": _float(x) for c, x in v.items()})
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[str(k)] = float(v)
    return {k: v for k, v in out.items() if math.isfinite(v)}


def summaries_of(value: Any) -> dict[str, dict[str, float]]:
    """``{feature: summary}`` from an ``ml.drift.summaries`` attribute (a JSON object)."""
    value = _json(value)
    if not isinstance(value, Mapping):
        return {}
    return {str(f): s for f, v in value.items() if (s := flat_summary(v))}


@dataclass(frozen=True, slots=True)
class Window:
    """One closed window of one model and stream, with every result tested in it."""

    model: str
    version: str
    stream: str
    number: int | None
    start: float
    end: float
    rows: int | None
    results: tuple[TestResult, ...]
    summaries: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def drifted(self) -> tuple[TestResult, ...]:
        """The results that drifted, largest effect first."""
        return tuple(sorted((t for t in self.results if t.drifted), key=lambda t: -_finite(t.effect)))

    @property
    def score(self) -> tuple[int, float]:
        """How drifted the window is: (features drifted, largest effect among them); compared as a tuple."""
        drifted = [t for t in self.results if t.drifted and t.feature != MULTIVARIATE]
        return len(drifted), max((_finite(t.effect) for t in drifted), default=-1.0)

    @property
    def label(self) -> str:
        """``window 7`` (or the closing time's window when the number is unknown)."""
        return f"window {self.number}" if self.number is not None else "most drifted window"


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -1.0


def parse_window(attrs: Mapping[str, Any]) -> Window | None:
    """A ``Window`` from the attributes of an ``ml.drift.window`` event; None without model or results."""
    model = _pick(attrs, _WINDOW_KEYS["model"])
    raw = _json(attrs.get(r.drift.ATTR_RESULTS))
    if not isinstance(model, str) or not isinstance(raw, list):
        return None
    parsed = [(obj, t) for obj in raw if isinstance(obj, Mapping) and (t := parse_result(obj)) is not None]
    results = tuple(t for _, t in parsed)
    # The window's summary statistics: one table for the window, or a summary in each result object.
    summaries = summaries_of(attrs.get(r.drift.ATTR_SUMMARIES))
    for obj, t in parsed:
        if t.feature not in summaries and (summary := flat_summary(obj.get("summary"))):
            summaries[t.feature] = summary
    return Window(
        model=model,
        version=str(_pick(attrs, _WINDOW_KEYS["version"], "")),
        stream=str(_pick(attrs, _WINDOW_KEYS["stream"], r.drift.STREAM_INPUTS)),
        number=_int(_pick(attrs, _WINDOW_KEYS["number"])),
        start=_float(_pick(attrs, _WINDOW_KEYS["start"])),
        end=_float(_pick(attrs, _WINDOW_KEYS["end"])),
        rows=_int(_pick(attrs, _WINDOW_KEYS["rows"])),
        results=results,
        summaries=summaries,
    )


@dataclass
class Series:
    """One (model, version, feature, test) over the windows: counts, latest result and history."""

    windows: int = 0  # windows in which the test ran
    drifted: int = 0  # ... and found drift
    latest: TestResult | None = None
    latest_end: float = -math.inf
    max_effect: float = math.nan
    history: list[tuple[float, float, float, float]] = field(default_factory=list)  # end, effect, statistic, p

    def add(self, end: float, t: TestResult) -> None:
        """Count one window's result."""
        self.windows += 1
        self.drifted += t.drifted
        if not end < self.latest_end:
            self.latest, self.latest_end = t, end
        if math.isfinite(t.effect) and not t.effect <= self.max_effect:
            self.max_effect = t.effect
        self.history.append((end, t.effect, t.statistic, t.p_value))
        if len(self.history) > MAX_HISTORY:
            self.history = self.history[::2]


@dataclass
class DriftWindows:
    """Per-window drift results of a data directory, reduced while streaming."""

    windows: Counter[StreamKey] = field(default_factory=Counter)
    drifted_windows: Counter[StreamKey] = field(default_factory=Counter)
    series: dict[SeriesKey, Series] = field(default_factory=lambda: defaultdict(Series))
    most: dict[ModelKey, Window] = field(default_factory=dict)
    reference: dict[ModelKey, dict[str, dict[str, float]]] = field(default_factory=dict)

    def add(self, w: Window) -> None:
        """Count one closed window."""
        key = (w.model, w.version, w.stream)
        self.windows[key] += 1
        if any(t.drifted for t in w.results):
            self.drifted_windows[key] += 1
        for t in w.results:
            if t.skipped is None:
                self.series[(w.model, w.version, t.feature, t.test)].add(w.end, t)
        best = self.most.get((w.model, w.version))
        if w.stream == r.drift.STREAM_INPUTS and w.score > (0, -1.0) and (best is None or w.score > best.score):
            self.most[(w.model, w.version)] = w

    def add_reference(self, attrs: Mapping[str, Any]) -> None:
        """Keep the reference summaries of an ``ml.drift.reference_set`` event (the latest per model)."""
        model = _pick(attrs, _WINDOW_KEYS["model"])
        summaries = summaries_of(attrs.get(r.drift.ATTR_SUMMARIES))
        if isinstance(model, str) and summaries:
            key = (model, str(_pick(attrs, _WINDOW_KEYS["version"], "")))
            self.reference.setdefault(key, {}).update(summaries)

    @property
    def empty(self) -> bool:
        """True when no window was seen."""
        return not self.windows and not self.series
