"""What the attribution plugin emits: metrics, log events and Signals, from one place.

Log events carry namespaced attributes only, their structured parts (top features) as
strict JSON strings, so any backend and the report read them the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agent.plugin import PluginContext, Signal
from plugins.attribution import names
from plugins.attribution.state import ModelState, RefValues
from plugins.attribution.stats import AttributionDrift, top, top_json

_FAILURE_LOG_INTERVAL = 60.0  # seconds of agent clock between two failure events of one model and reason


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _json_number(x: float) -> float | None:
    return x if math.isfinite(x) else None


class Telemetry:
    """The attribution plugin's instruments and logger."""

    def __init__(self, agent: PluginContext) -> None:
        self._log = agent.log
        self._clock = agent.clock
        m = agent.meter
        self._g_rank = m.create_gauge(names.RANK_CORRELATION, unit="1",
                                      description="Spearman rank correlation of mean |attribution| vs the reference")
        self._g_dist = m.create_gauge(names.DISTANCE, unit="1",
                                      description="Half L1 distance of normalised mean |attribution| vs the reference")
        self._g_detected = m.create_gauge(names.DETECTED, unit="1", description="1 when attribution drift was detected")
        self._g_mean = m.create_gauge(names.MEAN_ABS, unit="1", description="Mean |attribution| per feature")
        self._c_windows = m.create_counter(names.WINDOWS, unit="{window}", description="Attribution windows closed")
        self._c_rows = m.create_counter(names.ROWS, unit="{row}",
                                        description="Rows received, by where their attributions came from")
        self._c_failures = m.create_counter(names.FAILURES, unit="{call}",
                                            description="Explainer/predictor calls or outputs that could not be used")

    @staticmethod
    def attrs(state: ModelState, **extra: str) -> dict[str, str]:
        """Metric and log attributes naming the model."""
        return {names.ATTR_MODEL: state.name, names.ATTR_VERSION: state.version, **extra}

    @staticmethod
    def labels(state: ModelState, method: str) -> dict[str, str]:
        """Signal labels naming the model and method."""
        return {names.LABEL_MODEL: state.name, names.LABEL_VERSION: state.version, names.LABEL_METHOD: method}

    def rows(self, state: ModelState, source: str, n: int) -> None:
        """Rows received, by attribution source."""
        if n:
            self._c_rows.add(n, self.attrs(state, **{names.ATTR_SOURCE: source}))

    def failure(self, state: ModelState, reason: str, exc: BaseException | None, n: int = 1) -> None:
        """Count a failure; log it at most once a minute per model and reason."""
        error = type(exc).__qualname__ if exc is not None else "none"
        self._c_failures.add(n, self.attrs(state, **{names.ATTR_REASON: reason, names.ATTR_ERROR: error}))
        if reason == names.REASON_OVER_BUDGET:
            return
        now = self._clock()
        if now - state.last_failure_log.get(reason, -math.inf) >= _FAILURE_LOG_INTERVAL:
            state.last_failure_log[reason] = now
            self._log.warning(names.EVENT_FAILED, **self.attrs(state), **{
                names.ATTR_REASON: reason, names.ATTR_ERROR: error, names.ATTR_MESSAGE: str(exc)[:300] if exc else ""})

    def reference(self, state: ModelState, method: str, ref: RefValues) -> None:
        """Reference attributions are in place: gauges per feature and one info event."""
        for f, v in zip(ref.features, ref.values.tolist(), strict=True):
            if math.isfinite(v):
                self._g_mean.set(v, self.attrs(state, **{names.ATTR_METHOD: method, names.ATTR_FEATURE: f,
                                                          names.ATTR_SAMPLE: names.SAMPLE_REFERENCE}))
        self._log.info(names.EVENT_REFERENCE, **self.attrs(state), **{
            names.ATTR_METHOD: method, names.ATTR_REFERENCE_SOURCE: ref.source, names.ATTR_REFERENCE_ROWS: ref.rows,
            names.ATTR_REFERENCE_TOP: top_json(ref.features, ref.values.tolist(), state.settings.top_k),
        })  # fmt: skip

    def window(self, state: ModelState, method: str, features: Sequence[str], values: np.ndarray, rows: int,
               drift: AttributionDrift | None, now: float) -> list[Signal]:
        """A closed window: gauges, counter, events; returns its Signals (none without a reference)."""
        base = self.attrs(state, **{names.ATTR_METHOD: method})
        self._c_windows.add(1, base)
        for f, v in zip(features, values.tolist(), strict=True):
            if math.isfinite(v):
                self._g_mean.set(v, {**base, names.ATTR_FEATURE: f, names.ATTR_SAMPLE: names.SAMPLE_WINDOW})
        k = state.settings.top_k
        fields: dict[str, Any] = {**base, names.ATTR_WINDOW_ROWS: rows,
                                  names.ATTR_TOP: top_json(features, values.tolist(), k)}
        if drift is None:
            self._log.info(names.EVENT_WINDOW, **fields)
            return []
        self._g_rank.set(_finite(drift.rank_correlation), base)
        self._g_dist.set(_finite(drift.distance), base)
        self._g_detected.set(int(drift.detected), base)
        fields.update({
            names.ATTR_SPEARMAN: _json_number(drift.rank_correlation),
            names.ATTR_L1_DISTANCE: _json_number(drift.distance),
            names.ATTR_DRIFTED: drift.detected,
            names.ATTR_MAX_DISTANCE: state.settings.max_distance,
            names.ATTR_REFERENCE_TOP: top_json(drift.features, drift.reference, k),
        })  # fmt: skip
        self._log.info(names.EVENT_WINDOW, **fields)
        if drift.detected:
            self._log.warning(names.EVENT_DRIFT, **fields)
        labels = self.labels(state, method)
        details = {"rows": rows, "features": list(drift.features), "reference": list(drift.reference),
                   "window": list(drift.window), "top": top(drift.features, drift.window, k),
                   "reference_top": top(drift.features, drift.reference, k),
                   "max_distance": state.settings.max_distance,
                   "min_rank_correlation": state.settings.min_rank_correlation}
        out = []
        if math.isfinite(drift.rank_correlation):
            out.append(Signal(names.SIGNAL_RANK_CORRELATION, drift.rank_correlation, labels, details, now))
        if math.isfinite(drift.distance):
            out.append(Signal(names.SIGNAL_DISTANCE, drift.distance, labels, details, now))
        out.append(Signal(names.SIGNAL_DETECTED, float(drift.detected), labels, details, now))
        return out

    def edge_case(self, state: ModelState, feature: str, slice_label: str, rows: int,
                  slice_top: Sequence[Mapping[str, Any]]) -> None:
        """The top attributions of one flagged edge-case slice."""
        self._log.info(names.EVENT_EDGE_CASE, **self.attrs(state), **{
            names.ATTR_FEATURE: feature, names.ATTR_SLICE: slice_label, names.ATTR_SLICE_ROWS: rows,
            names.ATTR_SLICE_TOP: json.dumps(slice_top, allow_nan=False, default=str),
        })  # fmt: skip
