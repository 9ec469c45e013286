"""What the performance plugin publishes: its instruments, log events and Signals, in one place.

Gauges carry ``ml.model.name``, ``ml.model.version`` (the version in service for the
window) and, for estimates, ``ml.performance.method``. Signals carry the short labels
(``model``, ``version``, ``metric``, ``method``) and the band in their details. Findings
are info events; warnings are kept for the plugin's own trouble (a reference it cannot
use, a history file it cannot write).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from agent.plugin import ModelInfo, PluginContext, Signal, TrainingRecord, describe_exception
from plugins.performance import names as n
from plugins.performance.config import PerformanceConfig
from plugins.performance.estimate import EstimationError
from plugins.performance.reference import CLASSIFICATION, FittedReference
from plugins.performance.retrain import Recommendation, iso
from plugins.performance.windows import ClosedWindow


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, allow_nan=False, separators=(",", ":"))


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x).__name__}")


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _nums(xs: Any) -> list[float | None] | None:
    return None if xs is None else [_num(float(v)) for v in xs]


class Emitter:
    """Instruments and log/Signal helpers bound to one agent."""

    def __init__(self, agent: PluginContext) -> None:
        self.agent = agent
        m = agent.meter
        self._gauges: dict[str, Any] = {}
        for metric, (value, lower, upper) in n.ESTIMATED.items():
            self._gauges[value] = m.create_gauge(value, "1", f"Estimated {metric} per window (labels not needed)")
            self._gauges[lower] = m.create_gauge(lower, "1", f"Lower end of the estimated {metric}'s band")
            self._gauges[upper] = m.create_gauge(upper, "1", f"Upper end of the estimated {metric}'s band")
        self._error = m.create_gauge(n.ESTIMATION_ERROR, "1", "Estimate minus realized value once labels arrived")
        self._q = m.create_gauge(n.LABEL_DISTRIBUTION, "1", "Estimated label distribution q(y) per window (BBSE)")
        self._w = m.create_gauge(n.LABEL_WEIGHT, "1", "Label-shift weight q(y)/p(y) per window (BBSE)")
        self._p_value = m.create_gauge(n.LABEL_SHIFT_P_VALUE, "1", "Label-shift test p-value per window")
        self._condition = m.create_gauge(n.CONDITION_NUMBER, "1", "Condition number of the reference confusion matrix")
        self._ece = m.create_gauge(n.CALIBRATION_ECE, "1", "Expected calibration error on held-out reference rows")
        self._brier = m.create_gauge(n.CALIBRATION_BRIER, "1", "Brier score on held-out reference rows")
        self._rows = m.create_counter(n.ROWS, "{row}", "Rows handed to the performance plugin")
        self._dropped = m.create_counter(n.ROWS_DROPPED, "{row}", "Rows not put in a window, by reason")
        self._windows = m.create_counter(n.WINDOWS, "{window}", "Windows estimated")
        self._skipped = m.create_counter(n.WINDOWS_SKIPPED, "{window}", "Windows not estimated, by reason")
        self._labels = m.create_counter(n.LABELS, "{label}", "Label events, by outcome")
        self._evicted = m.create_counter(n.JOIN_EVICTED, "{row}", "Unlabelled rows forgotten, by reason")
        self._tracked = m.create_gauge(n.JOIN_TRACKED, "{row}", "Rows remembered for joining labels")
        self._age = m.create_gauge(n.MODEL_AGE, "s", "Time since the version in service was trained")

    # -- attributes --------------------------------------------------------------------------

    @staticmethod
    def _attrs(model: ModelInfo, version: str | None = None) -> dict[str, Any]:
        return {n.ATTR_MODEL: model.name, n.ATTR_VERSION: model.version if version is None else version}

    @staticmethod
    def _labels_of(model: ModelInfo, version: str, **extra: str) -> dict[str, str]:
        return {n.LABEL_MODEL: model.name, n.LABEL_VERSION: version, **extra}

    # -- counters -----------------------------------------------------------------------------

    def rows(self, model: ModelInfo, count: int) -> None:
        """Rows received."""
        self._rows.add(count, self._attrs(model))

    def dropped(self, model: ModelInfo, reason: str, count: int) -> None:
        """Rows dropped for ``reason``."""
        if count:
            self._dropped.add(count, {**self._attrs(model), n.ATTR_REASON: reason})

    def skipped(self, model: ModelInfo, reason: str) -> None:
        """A window not estimated."""
        self._skipped.add(1, {**self._attrs(model), n.ATTR_REASON: reason})

    def evicted(self, model: ModelInfo, reason: str, count: int) -> None:
        """Unlabelled rows forgotten."""
        self._evicted.add(count, {**self._attrs(model), n.ATTR_REASON: reason})

    def labels(self, model: ModelInfo, outcome: str, count: int) -> None:
        """Label events by outcome."""
        self._labels.add(count, {**self._attrs(model), n.ATTR_OUTCOME: outcome})

    def tracked(self, model: ModelInfo, count: int) -> None:
        """Rows in the join memory."""
        self._tracked.set(count, self._attrs(model))

    def age(self, model: ModelInfo, version: str, seconds: float) -> None:
        """The age of the version in service."""
        self._age.set(seconds, self._attrs(model, version))

    # -- reference -----------------------------------------------------------------------------

    def reference(self, model: ModelInfo, ref: FittedReference) -> None:
        """The fitted estimators and the calibration's quality."""
        attrs = self._attrs(model)
        event: dict[str, Any] = {**attrs, n.ATTR_TASK_KEY: ref.task, n.ATTR_REFERENCE_ROWS: ref.rows}
        if ref.task == CLASSIFICATION and ref.cbpe is not None and ref.bbse is not None:
            q = ref.cbpe.calibration.quality
            self._ece.set(q.ece_raw, {**attrs, n.ATTR_STAGE: n.STAGE_RAW})
            self._ece.set(q.ece_calibrated, {**attrs, n.ATTR_STAGE: n.STAGE_CALIBRATED})
            self._brier.set(q.brier_raw, {**attrs, n.ATTR_STAGE: n.STAGE_RAW})
            self._brier.set(q.brier_calibrated, {**attrs, n.ATTR_STAGE: n.STAGE_CALIBRATED})
            if math.isfinite(ref.bbse.condition):
                self._condition.set(ref.bbse.condition, attrs)
            event.update({n.ATTR_CLASSES: list(ref.classes), n.ATTR_CALIBRATION: _dumps(q.to_json()),
                          n.ATTR_CONDITION: _num(ref.bbse.condition) if math.isfinite(ref.bbse.condition) else -1.0,
                          n.ATTR_ESTIMATES: _dumps({"reference": ref.cbpe.reference})})
        elif ref.dle is not None:
            event[n.ATTR_DLE] = _dumps(ref.dle.to_json())
        self.agent.log.info(n.EVENT_REFERENCE, **event)

    def reference_problem(self, model: ModelInfo, message: str) -> None:
        """A reference the plugin cannot use (the model's rows are dropped until a good one)."""
        self.agent.log.warning(n.EVENT_REFERENCE, **{**self._attrs(model), n.ATTR_REASON: "unusable",
                                                      n.ATTR_EXCEPTION_MESSAGE: message})

    # -- windows --------------------------------------------------------------------------------

    def window(self, model: ModelInfo, ref: FittedReference, cfg: PerformanceConfig,
               win: ClosedWindow) -> list[Signal]:
        """Gauges, Signals and the per-window event of a closed window."""
        z = cfg.band_sigmas
        now = self.agent.clock()
        attrs = self._attrs(model, win.version)
        signals: list[Signal] = []
        self._windows.add(1, attrs)
        for method, estimates in win.estimates.items():
            for metric, est in estimates.items():
                if not math.isfinite(est.value):
                    continue
                value, lower, upper = n.ESTIMATED[metric]
                lo, hi = est.band(z)
                a = {**attrs, n.ATTR_METHOD: method}
                self._gauges[value].set(est.value, a)
                if math.isfinite(est.std):
                    self._gauges[lower].set(lo, a)
                    self._gauges[upper].set(hi, a)
                signals.append(Signal(value, est.value, self._labels_of(model, win.version, metric=metric,
                                                                         method=method),
                                      {"lower": _num(lo), "upper": _num(hi), "std": _num(est.std), "sigmas": z,
                                       "window": win.seq, "rows": win.rows}, now))
        event: dict[str, Any] = {
            **attrs, n.ATTR_TASK_KEY: ref.task, n.ATTR_WINDOW_ID: win.seq, n.ATTR_WINDOW_START: win.start,
            n.ATTR_WINDOW_END: win.end, n.ATTR_WINDOW_ROWS: win.rows,
            n.ATTR_ESTIMATES: _dumps({m: {k: e.to_json(z) for k, e in est.items()}
                                      for m, est in win.estimates.items()}),
        }
        if win.bbse is not None:
            signals.extend(self._bbse(model, ref, win, attrs, now))
            event[n.ATTR_BBSE] = _dumps(self._bbse_json(ref, win))
        self.agent.log.info(n.EVENT_WINDOW, **event)
        return signals

    @staticmethod
    def _bbse_json(ref: FittedReference, win: ClosedWindow) -> dict[str, Any]:
        b = win.bbse
        assert b is not None
        return {"classes": list(ref.classes), "refused": b.refused, "condition": _num(b.condition),
                "q": _nums(b.q), "q_std": _nums(b.q_std), "w": _nums(b.w),
                "p": _nums(ref.bbse.p if ref.bbse is not None else None), "chi2": _num(b.chi2),
                "p_value": _num(b.p_value), "total_variation": _num(b.total_variation)}

    def _bbse(self, model: ModelInfo, ref: FittedReference, win: ClosedWindow, attrs: dict[str, Any],
              now: float) -> list[Signal]:
        b = win.bbse
        assert b is not None
        if b.refused is not None:
            cond = b.condition if math.isfinite(b.condition) else -1.0
            self.agent.log.info(n.EVENT_BBSE_REFUSED, **{**attrs, n.ATTR_WINDOW_ID: win.seq,
                                                         n.ATTR_REASON: b.refused, n.ATTR_CONDITION: cond})
            return [Signal(n.SIGNAL_BBSE_REFUSED, cond, self._labels_of(model, win.version),
                           {"reason": b.refused, "window": win.seq, "rows": win.rows}, now)]
        assert b.q is not None and b.w is not None
        for cls, q, w in zip(ref.classes, b.q.tolist(), b.w.tolist(), strict=True):
            self._q.set(q, {**attrs, n.ATTR_CLASS: cls})
            self._w.set(w, {**attrs, n.ATTR_CLASS: cls})
        self._p_value.set(b.p_value, attrs)
        return [Signal(n.SIGNAL_LABEL_SHIFT, b.total_variation, self._labels_of(model, win.version),
                       {"p_value": b.p_value, "chi2": b.chi2, "q": dict(zip(ref.classes, b.q.tolist(), strict=True)),
                        "w": dict(zip(ref.classes, b.w.tolist(), strict=True)), "condition": b.condition,
                        "window": win.seq, "rows": win.rows}, now)]

    def realized(self, model: ModelInfo, cfg: PerformanceConfig, win: ClosedWindow,
                 errors: dict[str, dict[str, EstimationError]]) -> list[Signal]:
        """Estimation errors once labels arrived: gauges, Signals and the realized event."""
        now = self.agent.clock()
        attrs = self._attrs(model, win.version)
        signals = []
        for method, by_metric in errors.items():
            for metric, err in by_metric.items():
                if not math.isfinite(err.error):
                    continue
                self._error.set(err.error, {**attrs, n.ATTR_METHOD: method, n.ATTR_METRIC: metric})
                signals.append(Signal(n.SIGNAL_ESTIMATION_ERROR, err.error,
                                      self._labels_of(model, win.version, metric=metric, method=method),
                                      {"realized": _num(win.realized.get(metric)), "std": _num(err.std),
                                       "within_band": err.within_band, "window": win.seq,
                                       "labelled_rows": win.labelled}, now))
        self.agent.log.info(n.EVENT_REALIZED, **{
            **attrs, n.ATTR_WINDOW_ID: win.seq, n.ATTR_WINDOW_START: win.start,
            n.ATTR_WINDOW_END: win.end, n.ATTR_WINDOW_ROWS: win.rows, n.ATTR_LABELLED_ROWS: win.labelled,
            n.ATTR_REALIZED: _dumps({k: _num(v) for k, v in win.realized.items()}),
            n.ATTR_ERRORS: _dumps({m: {k: {"error": _num(e.error), "std": _num(e.std), "within_band": e.within_band}
                                       for k, e in by.items()} for m, by in errors.items()}),
        })
        return signals

    # -- retraining -------------------------------------------------------------------------------

    def training(self, rec: TrainingRecord) -> None:
        """A retrain was recorded."""
        self.agent.log.info(n.EVENT_TRAINING, **{
            n.ATTR_MODEL: rec.model, n.ATTR_VERSION: rec.version, n.ATTR_TRAINED_AT: iso(rec.trained_at),
            n.ATTR_DATA_UNTIL: "" if rec.data_until is None else iso(rec.data_until),
            n.ATTR_TRAINING_METRICS: _dumps(dict(rec.metrics))})

    def decay(self, model: ModelInfo, data: dict[str, Any]) -> None:
        """The decay fit after new evidence."""
        self.agent.log.info(n.EVENT_DECAY, **{**self._attrs(model), n.ATTR_DECAY: _dumps(data)})

    def retrain_signal(self, model: ModelInfo, rec: Recommendation) -> Signal:
        """1 when retraining is recommended (the floor is projected within the lead time), else 0."""
        version = rec.version or ""
        return Signal(n.SIGNAL_RETRAIN, 1.0 if rec.recommended else 0.0,
                      self._labels_of(model, version, metric=rec.fit.metric),
                      {"description": rec.description, "projected_at": None if rec.projected_at is None
                       else iso(rec.projected_at), "days_left": _num(rec.days_left),
                       "interval_days": _num(rec.interval_days), "floor": rec.floor,
                       "slope_per_day": rec.fit.slope_per_day}, self.agent.clock())

    def retrain_event(self, model: ModelInfo, rec: Recommendation) -> None:
        """The recommendation switched on."""
        self.agent.log.info(n.EVENT_RETRAIN, **{
            **self._attrs(model, rec.version or ""), n.ATTR_METRIC: rec.fit.metric, n.ATTR_FLOOR: rec.floor,
            n.ATTR_DESCRIPTION: rec.description,
            n.ATTR_PROJECTED_AT: "" if rec.projected_at is None else iso(rec.projected_at),
            n.ATTR_DAYS_LEFT: rec.days_left if rec.days_left is not None else 0.0,
            n.ATTR_INTERVAL_DAYS: rec.interval_days if rec.interval_days is not None else -1.0})

    def history_error(self, path: Path | None, exc: BaseException) -> None:
        """The history file could not be read or written."""
        self.agent.log.warning(n.EVENT_HISTORY_ERROR, **{n.ATTR_PATH: str(path),
                                                          n.ATTR_EXCEPTION_TYPE: type(exc).__name__,
                                                          n.ATTR_EXCEPTION_MESSAGE: describe_exception(exc)})
