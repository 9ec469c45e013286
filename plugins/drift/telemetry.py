"""What the drift plugin emits: metrics, info-level log events and Signals, from one place.

The plugin decides (windows, references, accounting); this module turns its outcomes
into telemetry. Log events carry namespaced attributes only, their structured parts
(results, summaries, schema changes) as strict JSON strings (non-finite numbers become
``null``) so any backend and the report read them the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from agent.plugin import ModelInfo, PluginContext, Signal
from plugins.drift import names
from plugins.drift.detector import ReferenceProfile, SchemaChange, WindowReport
from plugins.drift.results import DriftResult
from plugins.drift.summary import FeatureSummary
from plugins.drift.windows import ClosedWindow

_SCHEMA_SIGNALS = {"feature_added": names.SIGNAL_FEATURE_ADDED, "feature_missing": names.SIGNAL_FEATURE_MISSING,
                   "vanished_category": names.SIGNAL_VANISHED_CATEGORY}


class Telemetry:
    """The drift plugin's instruments and logger."""

    def __init__(self, agent: PluginContext) -> None:
        self._log = agent.log
        m = agent.meter
        self._g_stat = m.create_gauge(names.STATISTIC, unit="1", description="Drift test statistic per window")
        self._g_p = m.create_gauge(names.P_VALUE, unit="1", description="Corrected p-value per window")
        self._g_effect = m.create_gauge(names.EFFECT_SIZE, unit="1", description="Drift effect size per window")
        self._g_corrected = m.create_gauge(names.CORRECTED_EFFECT, unit="1",
                                           description="Drift effect beyond sampling noise per window")
        self._g_detected = m.create_gauge(names.DETECTED, unit="1", description="1 when the feature drifted")
        self._g_summary = m.create_gauge(names.SUMMARY, unit="1", description="Summary statistic per feature")
        self._c_skipped = m.create_counter(names.SKIPPED, unit="{test}", description="Drift tests skipped")
        self._c_bad = m.create_counter(names.BAD_VALUES, unit="{value}", description="Values a test could not use")
        self._c_windows = m.create_counter(names.WINDOWS, unit="{window}", description="Drift windows closed")
        self._c_received = m.create_counter(names.ROWS_RECEIVED, unit="{row}",
                                            description="Rows handed to the drift plugin")
        self._c_tested = m.create_counter(names.ROWS_TESTED, unit="{row}",
                                          description="Rows of closed windows tested against the reference")
        self._c_dropped = m.create_counter(names.ROWS_DROPPED, unit="{row}",
                                           description="Rows received but not tested, by reason")

    # -- accounting -------------------------------------------------------------------------

    def received(self, model: ModelInfo, stream: str, n: int) -> None:
        """Rows handed to the plugin."""
        if n:
            self._c_received.add(n, {**attrs(model), names.ATTR_STREAM: stream})

    def tested(self, model: ModelInfo, stream: str, n: int) -> None:
        """Rows of a closed window, tested against the reference; counts the window too."""
        self._c_tested.add(n, {**attrs(model), names.ATTR_STREAM: stream})
        self.window_closed(model, stream)

    def window_closed(self, model: ModelInfo, stream: str) -> None:
        """One window tested (outputs are tested in the inputs' windows and counted on their own)."""
        self._c_windows.add(1, {**attrs(model), names.ATTR_STREAM: stream})

    def dropped(self, model: ModelInfo, stream: str, reason: str, n: int) -> None:
        """Rows received but not tested, with the reason."""
        if n:
            self._c_dropped.add(n, {**attrs(model, reason=reason), names.ATTR_STREAM: stream})

    def bad_values(self, model: ModelInfo, feature: str, reason: str, n: int) -> None:
        """Values of one feature a test could not use."""
        if n:
            self._c_bad.add(n, attrs(model, feature, reason=reason))

    # -- references and windows ---------------------------------------------------------------

    def reference(self, model: ModelInfo, stream: str, profile: ReferenceProfile, source: str) -> None:
        """A reference was summarised: its ``ml.drift.reference_set`` event (and summary gauges for inputs)."""
        if stream == names.STREAM_INPUTS:
            self._summaries(model, profile.summaries, names.SAMPLE_REFERENCE)
        self._log.info(names.EVENT_REFERENCE, **{
            **attrs(model), names.ATTR_STREAM: stream, names.ATTR_REFERENCE_SOURCE: source,
            names.ATTR_REFERENCE_ROWS: profile.n_rows, names.ATTR_FEATURES: sorted(profile.types),
            names.ATTR_VECTOR_FEATURES: list(profile.vectors),
            names.ATTR_SUMMARIES: dumps({f: summary_json(s) for f, s in profile.summaries.items()}),
        })

    def window(self, model: ModelInfo, report: WindowReport, w: ClosedWindow, stream: str, number: int,
               new_category_signal: str = names.SIGNAL_NEW_CATEGORY) -> list[Signal]:
        """Metrics and log events of one tested window; returns its Signals."""
        signals: list[Signal] = []
        window = {names.ATTR_WINDOW_NUMBER: number, names.ATTR_WINDOW_START: w.start, names.ATTR_WINDOW_END: w.end}
        for r in report.results:
            a = {**attrs(model, r.feature), names.ATTR_TEST: r.test}
            if r.skipped is not None:
                self._c_skipped.add(1, {**a, names.ATTR_REASON: r.skipped})
                continue
            self._g_stat.set(finite(r.statistic), a)
            self._g_p.set(finite(r.corrected_p_value), a)
            self._g_effect.set(finite(r.effect_size), a)
            self._g_corrected.set(finite(r.corrected_effect), a)
            self._g_detected.set(1.0 if r.drifted else 0.0, a)
            details = _details(r)
            test = {names.LABEL_TEST: r.test}
            signals.append(signal(names.SIGNAL_DETECTED, 1.0 if r.drifted else 0.0, model, r.feature, details,
                                  w.end, test))
            signals.append(signal(names.SIGNAL_EFFECT_SIZE, finite(r.effect_size), model, r.feature, details,
                                  w.end, test))
            if r.drifted:
                self._log.info(names.EVENT_DETECTED, **{
                    **attrs(model, r.feature), names.ATTR_STREAM: stream, names.ATTR_TEST: r.test,
                    names.ATTR_STATISTIC: json_number(r.statistic), names.ATTR_P_VALUE: json_number(r.p_value),
                    names.ATTR_CORRECTED_P_VALUE: json_number(r.corrected_p_value),
                    names.ATTR_EFFECT_SIZE: json_number(r.effect_size), names.ATTR_EFFECT_NAME: r.effect_name,
                    names.ATTR_THRESHOLD: json_number(r.threshold), names.ATTR_REFERENCE_ROWS: r.n_reference,
                    names.ATTR_NULL_EFFECT: json_number(r.null_effect),
                    names.ATTR_CORRECTED_EFFECT: json_number(r.corrected_effect),
                    names.ATTR_LEVEL: json_number(r.level), names.ATTR_VERDICT: r.verdict,
                    names.ATTR_WINDOW_ROWS: r.n_window, **window,
                })
        self._summaries(model, report.summaries, names.SAMPLE_WINDOW)
        for feature, reason, count in report.issues:
            self.bad_values(model, feature, reason, count)
        for ch in report.schema:
            value = float(ch.count) if ch.kind in ("new_category", "vanished_category") else 1.0
            signals.append(signal(_SCHEMA_SIGNALS.get(ch.kind, new_category_signal), value, model, ch.feature,
                                  {"kind": ch.kind, "count": ch.count, "examples": list(ch.examples)}, w.end))
            self._log.info(names.EVENT_SCHEMA, **{
                **attrs(model, ch.feature), names.ATTR_STREAM: stream, names.ATTR_CHANGE: ch.kind,
                names.ATTR_COUNT: ch.count, names.ATTR_EXAMPLES: list(ch.examples), **window,
            })
        drifted = [r.feature for r in report.results if r.drifted]
        self._log.info(names.EVENT_WINDOW, **{
            **attrs(model), names.ATTR_STREAM: stream, **window,
            names.ATTR_WINDOW_ROWS: w.rows, names.ATTR_WINDOW_ROWS_SEEN: w.rows_seen,
            names.ATTR_DRIFTED: bool(drifted), names.ATTR_DRIFTED_FEATURES: drifted,
            names.ATTR_RESULTS: dumps([result_json(r, report.summaries.get(r.feature)) for r in report.results]),
            names.ATTR_SCHEMA_CHANGES: dumps([_schema_json(ch) for ch in report.schema]),
        })
        return signals

    def _summaries(self, model: ModelInfo, summaries: Mapping[str, FeatureSummary], sample: str) -> None:
        """Summary statistics as ``ml.drift.summary`` gauges, ``ml.drift.sample`` = reference or window."""
        for feature, s in summaries.items():
            a = {**attrs(model, feature), names.ATTR_SAMPLE: sample}
            for stat, value in s.numeric_stats().items():
                if math.isfinite(value):
                    self._g_summary.set(value, {**a, names.ATTR_STAT: stat})
            for cat, freq in s.frequencies.items():
                self._g_summary.set(freq, {**a, names.ATTR_STAT: f"freq:{cat}"})


# -- pure helpers ---------------------------------------------------------------------------


def attrs(model: ModelInfo, feature: str | None = None, reason: str | None = None) -> dict[str, str]:
    """Metric and log attributes naming the model (and feature, and reason)."""
    a = {names.ATTR_MODEL: model.name, names.ATTR_VERSION: model.version}
    if feature is not None:
        a[names.ATTR_FEATURE] = feature
    if reason is not None:
        a[names.ATTR_REASON] = reason
    return a


def signal(name: str, value: float, model: ModelInfo, feature: str, details: Mapping[str, Any], now: float,
           extra: Mapping[str, str] | None = None) -> Signal:
    """A Signal labelled with the alert-rule label names (model, version, feature, ...)."""
    labels = {names.LABEL_MODEL: model.name, names.LABEL_VERSION: model.version, names.LABEL_FEATURE: feature,
              **(extra or {})}
    return Signal(name=name, value=value, labels=labels, details=dict(details), timestamp=now)


def finite(x: float) -> float:
    """A gauge value: nan as 0, ±inf as ±1e308."""
    return x if math.isfinite(x) else (0.0 if math.isnan(x) else math.copysign(1e308, x))


def json_number(x: float) -> float | None:
    """A number for strict JSON: None when not finite."""
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def dumps(value: Any) -> str:
    """Compact strict JSON (no NaN)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"), default=str)


def summary_json(s: FeatureSummary) -> dict[str, Any]:
    """A feature summary as JSON: count and missing rate, then frequencies or the numeric statistics."""
    out: dict[str, Any] = {"count": s.count, "missing_rate": json_number(s.missing_rate)}
    if s.frequencies:
        out["frequencies"] = {k: json_number(v) for k, v in s.frequencies.items()}
    else:
        out.update({k: json_number(v) for k, v in s.numeric_stats().items() if k not in ("count", "missing_rate")})
    return out


def result_json(r: DriftResult, summary: FeatureSummary | None) -> dict[str, Any]:
    """One test result of a window as a JSON object (the layout of ``ml.drift.results``)."""
    return {
        "feature": r.feature, "test": r.test, "statistic": json_number(r.statistic),
        "p_value": json_number(r.p_value), "corrected_p_value": json_number(r.corrected_p_value),
        "effect_name": r.effect_name, "effect_size": json_number(r.effect_size),
        "threshold": json_number(r.threshold), "null_effect": json_number(r.null_effect),
        "corrected_effect": json_number(r.corrected_effect), "level": json_number(r.level), "verdict": r.verdict,
        "significant": r.significant, "drifted": r.drifted,
        "skipped": r.skipped, "n_reference": r.n_reference, "n_window": r.n_window,
        "effects": {k: json_number(v) for k, v in r.effects.items()},
        "summary": summary_json(summary) if summary is not None else None,
    }


def _schema_json(ch: SchemaChange) -> dict[str, Any]:
    return {"kind": ch.kind, "feature": ch.feature, "count": ch.count, "examples": list(ch.examples)}


def _details(r: DriftResult) -> dict[str, Any]:
    return {
        "test": r.test,
        "statistic": r.statistic,
        "p_value": r.p_value,
        "corrected_p_value": r.corrected_p_value,
        "effect_size": r.effect_size,
        "effect_name": r.effect_name,
        "threshold": r.threshold,
        "null_effect": r.null_effect,
        "corrected_effect": r.corrected_effect,
        "level": r.level,
        "verdict": r.verdict,
        "significant": r.significant,
        "drifted": r.drifted,
        "window_start": r.window_start,
        "window_end": r.window_end,
        "n_reference": r.n_reference,
        "n_window": r.n_window,
        **{f"effect_{k}": v for k, v in r.effects.items()},
    }
