"""The live drift plugin: per-model reference profiles, tumbling windows, metrics, logs and Signals.

Every hook catches its own failures (logged as ``ml.drift.error``, counted as bad values)
so nothing escapes into the worker; bad input becomes a skipped result or a counted event.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from agent._errors import ConfigError
from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from agent.hookspecs import hookimpl
from plugins.drift import names
from plugins.drift.config import DriftConfig, Multivariate, WindowType, parse_config
from plugins.drift.detector import ReferenceProfile, WindowReport, build_profile, evaluate
from plugins.drift.results import DriftResult
from plugins.drift.windows import ClosedWindow, WindowBuffer
from agent.plugin import FeatureType, columns_from_rows, load_table

OUTPUT = "output"
LABEL = "label"


@dataclass
class _Stream:
    """One monitored distribution of a model (inputs, outputs or labels): reference + window."""

    buffer: WindowBuffer
    profile: ReferenceProfile | None = None
    warmup: WindowBuffer | None = None  # first N live rows, when no reference was given
    vector_width: int = 0  # outputs only: width of probability vectors in the reference (0 = scalar)


@dataclass
class _ModelState:
    config: DriftConfig
    inputs: _Stream
    outputs: _Stream
    labels: _Stream
    pending: list[Signal] = field(default_factory=list)
    latest: tuple[DriftResult, ...] = ()


class DriftPlugin:
    """Detects drift in inputs P(X), outputs P(Ŷ) and labels P(Y) of every monitored model."""

    def __init__(self) -> None:
        self.agent: PluginContext | None = None
        self.default = DriftConfig()
        self.per_model: dict[str, DriftConfig] = {}
        self._states: dict[str, _ModelState] = {}
        self._files: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    # -- configuration --------------------------------------------------------------------

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight drift`` to the command line."""
        from plugins.drift.commands import add_commands

        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Validate ``[drift]`` (ConfigError names the key), load reference files, create instruments."""
        self.agent = agent
        self.default, self.per_model = parse_config(agent.section("drift"))
        wanted: dict[str, tuple[str, str]] = {}
        if self.default.reference is not None:
            wanted[""] = ("drift.reference", self.default.reference)
        for name, cfg in self.per_model.items():
            if cfg.reference is not None and cfg.reference != self.default.reference:
                wanted[name] = (f"drift.models.{name}.reference", cfg.reference)
        for name, (key, path) in wanted.items():
            try:
                self._files[name] = load_table(path)
            except (OSError, ValueError, ImportError) as exc:
                raise ConfigError(key, path, f"a readable .npz/.npy/.csv/.parquet file ({exc})") from None
        m = agent.meter
        self._g_stat = m.create_gauge(names.STATISTIC, unit="1", description="Drift test statistic per window")
        self._g_p = m.create_gauge(names.P_VALUE, unit="1", description="Corrected p-value per window")
        self._g_effect = m.create_gauge(names.EFFECT_SIZE, unit="1", description="Drift effect size per window")
        self._g_detected = m.create_gauge(names.DETECTED, unit="1", description="1 when the feature drifted")
        self._g_summary = m.create_gauge(names.SUMMARY, unit="1", description="Summary statistic per feature")
        self._c_skipped = m.create_counter(names.SKIPPED, unit="{test}", description="Drift tests skipped")
        self._c_bad = m.create_counter(names.BAD_VALUES, unit="{value}", description="Bad values in windows")
        self._c_windows = m.create_counter(names.WINDOWS, unit="{window}", description="Drift windows closed")

    def config_for(self, model: str) -> DriftConfig:
        """The effective drift config of ``model``."""
        return self.per_model.get(model, self.default)

    def _state(self, model: ModelInfo) -> _ModelState:
        st = self._states.get(model.name)
        if st is None:
            cfg = self.config_for(model.name)
            seconds = cfg.window_seconds if cfg.window_type is WindowType.TIME else None

            def stream() -> _Stream:
                return _Stream(WindowBuffer(cfg.window_size, seconds, cfg.seed),
                               warmup=WindowBuffer(cfg.reference_from_live, None, cfg.seed))

            st = _ModelState(cfg, stream(), stream(), stream())
            self._states[model.name] = st
            table = self._files.get(model.name)
            if table is None and cfg.reference is not None and cfg.reference == self.default.reference:
                table = self._files.get("")
            if table is not None and cfg.enabled:
                self._set_reference_columns(model, st, dict(table), None)
        return st

    # -- reference ------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Summarise the reference rows (and outputs, and a label column) once."""
        try:
            with self._lock:
                st = self._state(model)
                if st.config.enabled:
                    self._set_reference_columns(model, st, dict(records.columns), records.outputs)
        except Exception as exc:
            self._error(model, "infersight_set_reference", exc)

    def set_reference(self, model: ModelInfo, rows: Any, outputs: Any = None) -> None:
        """Set a reference directly from rows (mappings, arrays, DataFrame), e.g. for tests and the demo."""
        with self._lock:
            st = self._state(model)
            if not st.config.enabled:
                return
            out = None if outputs is None else np.asarray(outputs)
            self._set_reference_columns(model, st, columns_from_rows(rows, model.feature_names or None), out)

    def _set_reference_columns(self, model: ModelInfo, st: _ModelState, columns: dict[str, np.ndarray],
                               outputs: np.ndarray | None) -> None:
        cfg = st.config
        labels = columns.pop(cfg.label_column, None)
        st.inputs.profile = build_profile(columns, cfg)
        st.inputs.warmup = None
        if outputs is not None and len(outputs):
            self._set_output_profile(model, st, np.asarray(outputs))
        if labels is not None:
            st.labels.profile = build_profile({LABEL: labels}, replace(cfg, multivariate=Multivariate.OFF))
            st.labels.warmup = None
        self._export_summaries(model, st.inputs.profile.summaries, "reference")
        self._log_info(names.EVENT_REFERENCE, model=model.name, rows=st.inputs.profile.n_rows,
                       features=len(st.inputs.profile.types))

    def _export_summaries(self, model: ModelInfo, summaries: Mapping[str, Any], sample: str) -> None:
        """Summary statistics as ``ml.drift.summary`` gauges, ``ml.drift.sample`` = reference or window."""
        for feature, s in summaries.items():
            attrs = {**self._attrs(model, feature), names.ATTR_SAMPLE: sample}
            for stat, value in s.numeric_stats().items():
                if math.isfinite(value):
                    self._g_summary.set(value, {**attrs, names.ATTR_STAT: stat})
            for cat, freq in s.frequencies.items():
                self._g_summary.set(freq, {**attrs, names.ATTR_STAT: f"freq:{cat}"})

    def _set_output_profile(self, model: ModelInfo, st: _ModelState, outputs: np.ndarray) -> None:
        cfg = st.config
        if outputs.ndim == 2 and outputs.dtype.kind in "iuf":
            st.outputs.vector_width = outputs.shape[1]
            cols = {f"{OUTPUT}_{i}": outputs[:, i] for i in range(outputs.shape[1])}
            mv = cfg.multivariate if cfg.multivariate is not Multivariate.OFF else Multivariate.MMD
            types = {k: FeatureType.NUMERIC for k in cols}
            st.outputs.profile = build_profile(cols, replace(cfg, multivariate=mv, feature_types=types))
        else:
            st.outputs.vector_width = 0
            overrides = {OUTPUT: FeatureType.CATEGORICAL} if model.task == "classification" else {}
            st.outputs.profile = build_profile(
                {OUTPUT: outputs.reshape(-1) if outputs.ndim > 1 else outputs},
                replace(cfg, multivariate=Multivariate.OFF, feature_types=overrides),
            )
        st.outputs.warmup = None

    # -- data path ------------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add captured rows to the model's windows; run the tests of every count window that closes."""
        try:
            with self._lock:
                st = self._state(model)
                if not st.config.enabled:  # [drift.models.NAME] enabled = false
                    return
                cols = {k: np.asarray(v) for k, v in records.columns.items()}
                ts = np.asarray(records.timestamps, dtype=np.float64)
                outputs = None if records.outputs is None else np.asarray(records.outputs)
                if any(len(c) != len(ts) for c in cols.values()) or (outputs is not None and len(outputs) != len(ts)):
                    self._c_bad.add(len(ts), self._attrs(model, "", reason="malformed_batch"))
                    return
                if st.inputs.profile is None and st.inputs.warmup is not None:
                    done = st.inputs.warmup.add(cols, outputs, ts)
                    if done:
                        w = done[0]
                        self._set_reference_columns(model, st, dict(w.columns), w.outputs)
                    return
                if st.outputs.profile is None and outputs is not None and st.outputs.warmup is not None:
                    done = st.outputs.warmup.add({}, outputs, ts)
                    if done and done[0].outputs is not None:
                        self._set_output_profile(model, st, np.asarray(done[0].outputs))
                    outputs = None  # these rows became the output reference
                for w in st.inputs.buffer.add(cols, outputs, ts):
                    self._run_window(model, st, w)
        except Exception as exc:
            self._error(model, "infersight_process_records", exc)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Label events (``kind == "label"``) feed the label-drift window P(Y)."""
        try:
            with self._lock:
                st = self._state(model)
                labels = [e for e in events if e.kind == "label"]
                if not labels or not st.config.enabled:
                    return
                values = np.empty(len(labels), dtype=object)
                values[:] = [e.value for e in labels]
                col = columns_from_rows({LABEL: values})
                ts = np.asarray([e.timestamp for e in labels], dtype=np.float64)
                if st.labels.profile is None and st.labels.warmup is not None:
                    done = st.labels.warmup.add(col, None, ts)
                    if done:
                        cfg = replace(st.config, multivariate=Multivariate.OFF)
                        st.labels.profile = build_profile(dict(done[0].columns), cfg)
                    return
                for w in st.labels.buffer.add(col, None, ts):
                    self._run_labels(model, st, w)
        except Exception as exc:
            self._error(model, "infersight_process_feedback", exc)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close due time windows, then return (and forget) the Signals produced since the last call."""
        try:
            with self._lock:
                st = self._states.get(model.name)
                if st is None:
                    return None
                w = st.inputs.buffer.close_due(now)
                if w is not None:
                    self._run_window(model, st, w)
                lw = st.labels.buffer.close_due(now)
                if lw is not None:
                    self._run_labels(model, st, lw)
                out, st.pending = st.pending, []
                return out or None
        except Exception as exc:
            self._error(model, "infersight_collect_signals", exc)
            return None

    def latest(self, model: str) -> tuple[DriftResult, ...]:
        """The results of the model's most recently closed windows (inputs, outputs, labels)."""
        with self._lock:
            st = self._states.get(model)
            return st.latest if st else ()

    # -- window evaluation ------------------------------------------------------------------

    def _run_window(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        if st.inputs.profile is None:
            return
        cfg = st.config
        report = evaluate(st.inputs.profile, w.columns, cfg, model=model.name, window_start=w.start,
                          window_end=w.end)
        self._c_windows.add(1, {**self._attrs(model, None), names.ATTR_STREAM: "inputs"})
        results = list(report.results)
        self._emit(model, st, report, w.end)
        if w.outputs is not None and st.outputs.profile is not None:
            results.extend(self._run_outputs(model, st, w))
        st.latest = tuple(results) + tuple(r for r in st.latest if r.feature == LABEL)

    def _run_outputs(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> list[DriftResult]:
        prof = st.outputs.profile
        assert prof is not None and w.outputs is not None
        cfg = st.config
        outputs = np.asarray(w.outputs)
        if st.outputs.vector_width:
            if outputs.ndim != 2 or outputs.dtype.kind not in "iuf":
                self._c_bad.add(len(outputs), self._attrs(model, OUTPUT, reason="non_numeric"))
                return []
            if outputs.shape[1] != st.outputs.vector_width:
                st.pending.append(self._signal(names.SIGNAL_NEW_OUTPUT_CLASS, float(outputs.shape[1]), model,
                                               OUTPUT, {"reference_width": st.outputs.vector_width,
                                                        "window_width": outputs.shape[1]}, w.end))
                return []
            cols = {f"{OUTPUT}_{i}": outputs[:, i] for i in range(outputs.shape[1])}
            mv = cfg.multivariate if cfg.multivariate is not Multivariate.OFF else Multivariate.MMD
            report = evaluate(prof, cols, replace(cfg, multivariate=mv), model=model.name, window_start=w.start,
                              window_end=w.end, features=("__none__",), joint_name=OUTPUT)
        else:
            flat = outputs.reshape(-1) if outputs.ndim > 1 and outputs.shape[1:] == (1,) else outputs
            report = evaluate(prof, {OUTPUT: flat}, replace(cfg, multivariate=Multivariate.OFF),
                              model=model.name, window_start=w.start, window_end=w.end)
            if OUTPUT in prof.numeric and model.task != "classification":
                ref = prof.summaries[OUTPUT]
                vals = np.asarray(flat, dtype=np.float64) if flat.dtype.kind in "iuf" else None
                if vals is not None and vals.size:
                    outside = int(np.count_nonzero((vals < ref.min) | (vals > ref.max)))
                    if outside:
                        st.pending.append(self._signal(
                            names.SIGNAL_OUTPUT_OUT_OF_RANGE, outside / vals.size, model, OUTPUT,
                            {"count": outside, "reference_min": ref.min, "reference_max": ref.max}, w.end))
        self._c_windows.add(1, {**self._attrs(model, None), names.ATTR_STREAM: "outputs"})
        self._emit(model, st, report, w.end, new_category_signal=names.SIGNAL_NEW_OUTPUT_CLASS)
        return list(report.results)

    def _run_labels(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        if st.labels.profile is None:
            return
        cfg = replace(st.config, multivariate=Multivariate.OFF)
        report = evaluate(st.labels.profile, w.columns, cfg, model=model.name, window_start=w.start,
                          window_end=w.end)
        self._c_windows.add(1, {**self._attrs(model, None), names.ATTR_STREAM: "labels"})
        self._emit(model, st, report, w.end)
        st.latest = tuple(r for r in st.latest if r.feature != LABEL) + report.results

    def _emit(self, model: ModelInfo, st: _ModelState, report: WindowReport, now: float,
              new_category_signal: str = names.SIGNAL_NEW_CATEGORY) -> None:
        for r in report.results:
            attrs = {**self._attrs(model, r.feature), names.ATTR_TEST: r.test}
            if r.skipped is not None:
                self._c_skipped.add(1, {**self._attrs(model, r.feature), names.ATTR_REASON: r.skipped})
                continue
            self._g_stat.set(_finite(r.statistic), attrs)
            self._g_p.set(_finite(r.corrected_p_value), attrs)
            self._g_effect.set(_finite(r.effect_size), attrs)
            self._g_detected.set(1.0 if r.drifted else 0.0, attrs)
            details = _details(r)
            labels_extra = {"test": r.test}
            st.pending.append(self._signal(names.SIGNAL_DETECTED, 1.0 if r.drifted else 0.0, model, r.feature,
                                           details, now, labels_extra))
            st.pending.append(self._signal(names.SIGNAL_EFFECT_SIZE, _finite(r.effect_size), model, r.feature,
                                           details, now, labels_extra))
            if r.drifted and self.agent is not None:
                self.agent.log.warning(names.EVENT_DETECTED, model=model.name, version=model.version,
                                       feature=r.feature, **details)
        self._export_summaries(model, report.summaries, "window")
        for feature, reason, count in report.issues:
            self._c_bad.add(count, {**self._attrs(model, feature), names.ATTR_REASON: reason})
        for ch in report.schema:
            sig_name = {"feature_added": names.SIGNAL_FEATURE_ADDED, "feature_missing": names.SIGNAL_FEATURE_MISSING,
                        "new_category": new_category_signal}[ch.kind]
            value = float(ch.count) if ch.kind == "new_category" else 1.0
            st.pending.append(self._signal(sig_name, value, model, ch.feature,
                                           {"kind": ch.kind, "count": ch.count, "examples": list(ch.examples)}, now))
            if self.agent is not None:
                self.agent.log.warning(names.EVENT_SCHEMA, model=model.name, version=model.version,
                                       feature=ch.feature, kind=ch.kind, count=ch.count, examples=list(ch.examples))

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _attrs(model: ModelInfo, feature: str | None, reason: str | None = None) -> dict[str, str]:
        a = {names.ATTR_MODEL: model.name, names.ATTR_VERSION: model.version}
        if feature is not None:
            a[names.ATTR_FEATURE] = feature
        if reason is not None:
            a[names.ATTR_REASON] = reason
        return a

    @staticmethod
    def _signal(name: str, value: float, model: ModelInfo, feature: str, details: Mapping[str, Any],
                now: float, extra: Mapping[str, str] | None = None) -> Signal:
        labels = {"model": model.name, "version": model.version, "feature": feature, **(extra or {})}
        return Signal(name=name, value=value, labels=labels, details=dict(details), timestamp=now)

    def _log_info(self, event: str, **kw: Any) -> None:
        if self.agent is not None:
            self.agent.log.info(event, **kw)

    def _error(self, model: ModelInfo, hook: str, exc: Exception) -> None:
        try:
            if self.agent is not None:
                self.agent.log.error(names.EVENT_ERROR, model=model.name, hook=hook,
                                     error_type=type(exc).__name__, error=str(exc)[:200])
            if hasattr(self, "_c_bad"):
                self._c_bad.add(1, self._attrs(model, "", reason="internal_error"))
        except Exception:  # logging itself failed; never raise out of a hook
            pass


def _finite(x: float) -> float:
    return x if math.isfinite(x) else (0.0 if math.isnan(x) else math.copysign(1e308, x))


def _details(r: DriftResult) -> dict[str, Any]:
    return {
        "test": r.test,
        "statistic": r.statistic,
        "p_value": r.p_value,
        "corrected_p_value": r.corrected_p_value,
        "effect_size": r.effect_size,
        "effect_name": r.effect_name,
        "threshold": r.threshold,
        "significant": r.significant,
        "drifted": r.drifted,
        "window_start": r.window_start,
        "window_end": r.window_end,
        "n_reference": r.n_reference,
        "n_window": r.n_window,
        **{f"effect_{k}": v for k, v in r.effects.items()},
    }
