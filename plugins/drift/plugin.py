"""The live drift plugin: per-model reference profiles, tumbling windows, metrics, logs and Signals.

Hooks run on the worker thread under the host's guard: an unexpected error propagates to
the host, which logs and counts it (``ml.agent.plugin_errors``). Bad input is expected
and handled here, counted under a named reason:

- a row holding a value no test can use (an int beyond float range, a dict, an object
  whose ``__hash__`` raises) is dropped alone (``ml.drift.rows.dropped``), never its batch;
- a list/array-valued (embedding) feature is kept out of the tests and each window
  reports it skipped (``ml.drift.skipped``, reason ``vector_feature``);
- strings in a numeric feature, ±inf, lists in a categorical feature are tested as
  missing and counted (``ml.drift.bad_values``).

Accounting, per model and stream: rows received = rows tested + rows dropped (by reason),
once the open window and the warm-up have closed. Time windows run on the agent's
clock (``agent.clock()``), so a test's manual clock drives them.

Findings (drifted features, schema changes, one ``ml.drift.window`` event per closed
window) are logged at info level: they belong in the exported log, not on stderr.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from agent.plugin import (
    FeatureType,
    FeedbackEvent,
    ModelInfo,
    PluginContext,
    RecordBatch,
    Signal,
    columns_from_rows,
    hookimpl,
)
from plugins.drift import names
from plugins.drift.commands import add_commands
from plugins.drift.config import DriftConfig, Multivariate, parse_config
from plugins.drift.detector import ReferenceProfile, SchemaChange, WindowReport, build_profile, evaluate
from plugins.drift.results import DriftResult
from plugins.drift.summary import FeatureSummary
from plugins.drift.values import is_vector, row_problems, to_float, value_problem
from plugins.drift.windows import ClosedWindow, WindowBuffer

OUTPUT = "output"
LABEL = "label"

Columns = dict[str, np.ndarray]


@dataclass
class _Stream:
    """One monitored distribution of a model (inputs, outputs or labels): reference + window."""

    buffer: WindowBuffer
    profile: ReferenceProfile | None = None
    warmup: WindowBuffer | None = None  # first N live rows, while no reference was given
    vector_width: int = 0  # outputs only: width of probability vectors in the reference (0 = scalar)
    windows: int = 0  # windows closed so far


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
        self._lock = threading.Lock()
        self._clock: Callable[[], float] = time.time

    # -- configuration --------------------------------------------------------------------

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight drift`` to the command line."""
        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check ``[drift]`` (a ConfigError names the key) and create the instruments."""
        self.default, self.per_model = parse_config(agent.section("drift"))
        self.agent = agent
        self._clock = agent.clock
        m = agent.meter
        self._g_stat = m.create_gauge(names.STATISTIC, unit="1", description="Drift test statistic per window")
        self._g_p = m.create_gauge(names.P_VALUE, unit="1", description="Corrected p-value per window")
        self._g_effect = m.create_gauge(names.EFFECT_SIZE, unit="1", description="Drift effect size per window")
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

    def config_for(self, model: str) -> DriftConfig:
        """The effective drift config of ``model``."""
        return self.per_model.get(model, self.default)

    def _state(self, model: ModelInfo) -> _ModelState:
        st = self._states.get(model.name)
        if st is None:
            cfg = self.config_for(model.name)
            seconds = cfg.window.seconds if cfg.window.type == "time" else None

            def stream() -> _Stream:
                return _Stream(WindowBuffer(cfg.window.size, seconds, cfg.seed),
                               warmup=WindowBuffer(cfg.reference_from_live, None, cfg.seed))

            st = _ModelState(cfg, stream(), stream(), stream())
            self._states[model.name] = st
        return st

    # -- reference ------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Summarise the reference rows (their outputs, and a label column) once for every window."""
        with self._lock:
            st = self._state(model)
            if not st.config.enabled:
                return
            usable = self._usable_rows(model, records, count=False)
            if usable is None:
                return
            columns, outputs = usable
            self._set_reference(model, st, columns, outputs, names.SOURCE_SET)

    def _set_reference(self, model: ModelInfo, st: _ModelState, columns: Columns, outputs: np.ndarray | None,
                       source: str) -> None:
        cfg = st.config
        labels = columns.pop(cfg.label_column, None)
        st.inputs.profile = build_profile(columns, cfg)
        self._reference_event(model, names.STREAM_INPUTS, st.inputs.profile, source)
        self._export_summaries(model, st.inputs.profile.summaries, names.SAMPLE_REFERENCE)
        if outputs is not None and len(outputs):
            self._set_output_profile(model, st, np.asarray(outputs), source)
        if labels is not None:
            st.labels.profile = build_profile({LABEL: labels}, replace(cfg, multivariate=Multivariate.OFF))
            self._reference_event(model, names.STREAM_LABELS, st.labels.profile, source)
            self._release_warmup(model, st, st.labels, names.STREAM_LABELS)
        self._release_warmup(model, st, st.inputs, names.STREAM_INPUTS)

    def _release_warmup(self, model: ModelInfo, st: _ModelState, stream: _Stream, name: str) -> None:
        """Rows waiting in a warm-up when a reference arrives join the window, to be tested against it."""
        warm, stream.warmup = stream.warmup, None
        w = warm.drain() if warm is not None else None
        if w is None:
            return
        ts = np.full(w.rows, self._clock())
        if name == names.STREAM_LABELS:
            for lw in stream.buffer.add(dict(w.columns), None, ts):
                self._run_labels(model, st, lw)
        else:
            self._feed_inputs(model, st, dict(w.columns), w.outputs, w.rows)

    def _set_output_profile(self, model: ModelInfo, st: _ModelState, outputs: np.ndarray, source: str) -> None:
        cfg = st.config
        matrix = _output_matrix(outputs)
        if matrix is not None:
            st.outputs.vector_width = matrix.shape[1]
            cols = {f"{OUTPUT}_{i}": matrix[:, i] for i in range(matrix.shape[1])}
            mv = cfg.multivariate if cfg.multivariate is not Multivariate.OFF else Multivariate.MMD
            types = {k: FeatureType.NUMERIC for k in cols}
            st.outputs.profile = build_profile(cols, replace(cfg, multivariate=mv, feature_types=types))
        else:
            st.outputs.vector_width = 0
            flat = outputs.reshape(-1) if outputs.ndim > 1 else outputs
            types = {} if is_vector(flat) else {OUTPUT: _output_type(flat, model.task)}
            st.outputs.profile = build_profile(
                {OUTPUT: flat}, replace(cfg, multivariate=Multivariate.OFF, feature_types=types))
        st.outputs.warmup = None
        self._reference_event(model, names.STREAM_OUTPUTS, st.outputs.profile, source)

    # -- data path ------------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add captured rows to the model's window; test every window that closes."""
        with self._lock:
            st = self._state(model)
            if not st.config.enabled:  # [drift.models.NAME] enabled = false
                return
            self._rows(self._c_received, model, names.STREAM_INPUTS, len(records))
            usable = self._usable_rows(model, records, count=True)
            if usable is None:
                return
            columns, outputs = usable
            n = len(next(iter(columns.values()))) if columns else (0 if outputs is None else len(outputs))
            if n:
                self._feed_inputs(model, st, columns, outputs, n)

    def _usable_rows(self, model: ModelInfo, records: RecordBatch,
                     count: bool) -> tuple[Columns, np.ndarray | None] | None:
        """The batch without the rows no test can use (each dropped and counted alone); None when none is left."""
        n = len(records)
        columns = {k: np.asarray(v) for k, v in records.columns.items()}
        outputs = None if records.outputs is None else np.asarray(records.outputs)
        lengths = {len(c) for c in columns.values()} | ({len(outputs)} if outputs is not None else set())
        if lengths - {n} or len(records.timestamps) != n:
            if count:  # rows cannot be aligned with their values: the batch is unusable as a whole
                self._dropped(model, names.STREAM_INPUTS, names.DROP_MALFORMED, n)
            return None
        problems: dict[int, str] = {}
        for name, col in [*columns.items(), *([(OUTPUT, outputs)] if outputs is not None else [])]:
            bad = row_problems(col)
            for reason in set(bad.values()):
                hits = sum(1 for r in bad.values() if r == reason)
                self._c_bad.add(hits, self._attrs(model, name, reason=reason))
            for i, reason in bad.items():
                problems.setdefault(i, reason)
        if problems:
            keep = np.ones(n, dtype=bool)
            keep[list(problems)] = False
            if count:
                for reason in set(problems.values()):
                    hits = sum(1 for r in problems.values() if r == reason)
                    self._dropped(model, names.STREAM_INPUTS, reason, hits)
            columns = {k: v[keep] for k, v in columns.items()}
            outputs = None if outputs is None else outputs[keep]
            if not keep.any():
                return None
        return columns, outputs

    def _feed_inputs(self, model: ModelInfo, st: _ModelState, columns: Columns, outputs: np.ndarray | None,
                     n: int) -> None:
        """Warm-ups first (no reference yet), then the window; runs the windows that close."""
        cfg = st.config
        ts = np.full(n, self._clock())
        warm = st.inputs.warmup
        if st.inputs.profile is None and warm is not None:
            take = min(n, cfg.reference_from_live - len(warm))
            done = warm.add(_head(columns, take), None if outputs is None else outputs[:take], ts[:take])
            if not done:
                return
            w = done[0]
            self._dropped(model, names.STREAM_INPUTS, names.DROP_REFERENCE, w.rows_seen)
            st.inputs.warmup = None
            self._set_reference(model, st, dict(w.columns), w.outputs, names.SOURCE_LIVE)
            columns, ts, n = _tail(columns, take), ts[take:], n - take
            outputs = None if outputs is None else outputs[take:]
            if n == 0:
                return
        if outputs is not None and st.outputs.profile is None and st.outputs.warmup is not None:
            # These rows' outputs become the output reference; their inputs are still tested.
            take = min(n, cfg.reference_from_live - len(st.outputs.warmup))
            done = st.outputs.warmup.add({}, outputs[:take], ts[:take])
            if done and done[0].outputs is not None:
                self._set_output_profile(model, st, np.asarray(done[0].outputs), names.SOURCE_LIVE)
            for w in st.inputs.buffer.add(_head(columns, take), None, ts[:take]):
                self._run_window(model, st, w)
            columns, outputs, ts = _tail(columns, take), outputs[take:], ts[take:]
        for w in st.inputs.buffer.add(columns, outputs, ts):
            self._run_window(model, st, w)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Label events (``kind == "label"``) feed the label-drift window P(Y)."""
        with self._lock:
            st = self._state(model)
            labels = [e for e in events if e.kind == "label"]
            if not labels or not st.config.enabled:
                return
            self._rows(self._c_received, model, names.STREAM_LABELS, len(labels))
            kept: list[Any] = []
            for e in labels:
                reason = value_problem(e.value)
                if reason is None:
                    kept.append(e.value)
                else:
                    self._c_bad.add(1, self._attrs(model, LABEL, reason=reason))
                    self._dropped(model, names.STREAM_LABELS, reason, 1)
            if not kept:
                return
            values = np.empty(len(kept), dtype=object)
            values[:] = kept
            col = columns_from_rows({LABEL: values})
            ts = np.full(len(kept), self._clock())
            warm = st.labels.warmup
            if st.labels.profile is None and warm is not None:
                take = min(len(kept), st.config.reference_from_live - len(warm))
                done = warm.add(_head(col, take), None, ts[:take])
                if not done:
                    return
                self._dropped(model, names.STREAM_LABELS, names.DROP_REFERENCE, done[0].rows_seen)
                st.labels.warmup = None
                cfg = replace(st.config, multivariate=Multivariate.OFF)
                st.labels.profile = build_profile(dict(done[0].columns), cfg)
                self._reference_event(model, names.STREAM_LABELS, st.labels.profile, names.SOURCE_LIVE)
                col, ts = _tail(col, take), ts[take:]
            for w in st.labels.buffer.add(col, None, ts):
                self._run_labels(model, st, w)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close due time windows, then return (and forget) the Signals produced since the last call."""
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

    def latest(self, model: str) -> tuple[DriftResult, ...]:
        """The results of the model's most recently closed windows (inputs, outputs, labels)."""
        with self._lock:
            st = self._states.get(model)
            return st.latest if st else ()

    # -- window evaluation ------------------------------------------------------------------

    def _account(self, model: ModelInfo, stream: _Stream, name: str, w: ClosedWindow) -> bool:
        """Count a closed window's rows as tested (and sampled out); False when there is no reference."""
        if stream.profile is None:
            self._dropped(model, name, names.DROP_NO_REFERENCE, w.rows_seen)
            return False
        self._rows(self._c_tested, model, name, w.rows)
        if w.rows_seen > w.rows:
            self._dropped(model, name, names.DROP_SAMPLED_OUT, w.rows_seen - w.rows)
        stream.windows += 1
        self._c_windows.add(1, {**self._attrs(model, None), names.ATTR_STREAM: name})
        return True

    def _run_window(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        if not self._account(model, st.inputs, names.STREAM_INPUTS, w):
            return
        prof = st.inputs.profile
        assert prof is not None
        report = evaluate(prof, w.columns, st.config, model=model.name, window_start=w.start, window_end=w.end)
        number = st.inputs.windows
        self._emit(model, st, report, w, names.STREAM_INPUTS, number)
        results = list(report.results)
        if w.outputs is not None and st.outputs.profile is not None:
            results.extend(self._run_outputs(model, st, w, number))
        st.latest = tuple(results) + tuple(r for r in st.latest if r.feature == LABEL)

    def _run_outputs(self, model: ModelInfo, st: _ModelState, w: ClosedWindow, number: int) -> list[DriftResult]:
        prof = st.outputs.profile
        assert prof is not None and w.outputs is not None
        cfg = st.config
        outputs = np.asarray(w.outputs)
        if outputs.dtype.kind == "O" and outputs.ndim == 1:
            # Rows whose outputs became the output reference (or were not captured) carry None.
            present = np.fromiter((o is not None for o in outputs.tolist()), dtype=bool, count=len(outputs))
            outputs = outputs[present]
            if not outputs.size:
                return []
        if st.outputs.vector_width:
            matrix = _output_matrix(outputs)
            if matrix is None:
                self._c_bad.add(len(outputs), self._attrs(model, OUTPUT, reason=names.BAD_NON_NUMERIC))
                return []
            if matrix.shape[1] != st.outputs.vector_width:
                st.pending.append(self._signal(names.SIGNAL_NEW_OUTPUT_CLASS, float(matrix.shape[1]), model,
                                               OUTPUT, {"reference_width": st.outputs.vector_width,
                                                        "window_width": matrix.shape[1]}, w.end))
                return []
            cols = {f"{OUTPUT}_{i}": matrix[:, i] for i in range(matrix.shape[1])}
            mv = cfg.multivariate if cfg.multivariate is not Multivariate.OFF else Multivariate.MMD
            report = evaluate(prof, cols, replace(cfg, multivariate=mv), model=model.name, window_start=w.start,
                              window_end=w.end, features=("__none__",), joint_name=OUTPUT)
        else:
            flat = outputs.reshape(-1) if outputs.ndim > 1 and outputs.shape[1:] == (1,) else outputs
            report = evaluate(prof, {OUTPUT: flat}, replace(cfg, multivariate=Multivariate.OFF),
                              model=model.name, window_start=w.start, window_end=w.end)
            if OUTPUT in prof.numeric and model.task != "classification":
                ref = prof.summaries[OUTPUT]
                vals, _, _ = to_float(flat)
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    outside = int(np.count_nonzero((vals < ref.min) | (vals > ref.max)))
                    if outside:
                        st.pending.append(self._signal(
                            names.SIGNAL_OUTPUT_OUT_OF_RANGE, outside / vals.size, model, OUTPUT,
                            {"count": outside, "reference_min": ref.min, "reference_max": ref.max}, w.end))
        self._c_windows.add(1, {**self._attrs(model, None), names.ATTR_STREAM: names.STREAM_OUTPUTS})
        st.outputs.windows = number
        self._emit(model, st, report, w, names.STREAM_OUTPUTS, number, names.SIGNAL_NEW_OUTPUT_CLASS)
        return list(report.results)

    def _run_labels(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        if not self._account(model, st.labels, names.STREAM_LABELS, w):
            return
        prof = st.labels.profile
        assert prof is not None
        cfg = replace(st.config, multivariate=Multivariate.OFF)
        report = evaluate(prof, w.columns, cfg, model=model.name, window_start=w.start, window_end=w.end)
        self._emit(model, st, report, w, names.STREAM_LABELS, st.labels.windows)
        st.latest = tuple(r for r in st.latest if r.feature != LABEL) + report.results

    def _emit(self, model: ModelInfo, st: _ModelState, report: WindowReport, w: ClosedWindow, stream: str,
              number: int, new_category_signal: str = names.SIGNAL_NEW_CATEGORY) -> None:
        """Metrics, Signals and log events of one tested window."""
        window = {names.ATTR_WINDOW_NUMBER: number, names.ATTR_WINDOW_START: w.start, names.ATTR_WINDOW_END: w.end}
        for r in report.results:
            attrs = {**self._attrs(model, r.feature), names.ATTR_TEST: r.test}
            if r.skipped is not None:
                self._c_skipped.add(1, {**attrs, names.ATTR_REASON: r.skipped})
                continue
            self._g_stat.set(_finite(r.statistic), attrs)
            self._g_p.set(_finite(r.corrected_p_value), attrs)
            self._g_effect.set(_finite(r.effect_size), attrs)
            self._g_detected.set(1.0 if r.drifted else 0.0, attrs)
            details = _details(r)
            labels_extra = {names.LABEL_TEST: r.test}
            st.pending.append(self._signal(names.SIGNAL_DETECTED, 1.0 if r.drifted else 0.0, model, r.feature,
                                           details, w.end, labels_extra))
            st.pending.append(self._signal(names.SIGNAL_EFFECT_SIZE, _finite(r.effect_size), model, r.feature,
                                           details, w.end, labels_extra))
            if r.drifted:
                self._log(names.EVENT_DETECTED, {
                    **self._attrs(model, r.feature), names.ATTR_STREAM: stream, names.ATTR_TEST: r.test,
                    names.ATTR_STATISTIC: _json_number(r.statistic), names.ATTR_P_VALUE: _json_number(r.p_value),
                    names.ATTR_CORRECTED_P_VALUE: _json_number(r.corrected_p_value),
                    names.ATTR_EFFECT_SIZE: _json_number(r.effect_size), names.ATTR_EFFECT_NAME: r.effect_name,
                    names.ATTR_THRESHOLD: _json_number(r.threshold), names.ATTR_REFERENCE_ROWS: r.n_reference,
                    names.ATTR_WINDOW_ROWS: r.n_window, **window,
                })
        self._export_summaries(model, report.summaries, names.SAMPLE_WINDOW)
        for feature, reason, count in report.issues:
            self._c_bad.add(count, self._attrs(model, feature, reason=reason))
        for ch in report.schema:
            sig_name = {"feature_added": names.SIGNAL_FEATURE_ADDED, "feature_missing": names.SIGNAL_FEATURE_MISSING,
                        "new_category": new_category_signal}[ch.kind]
            value = float(ch.count) if ch.kind == "new_category" else 1.0
            st.pending.append(self._signal(sig_name, value, model, ch.feature,
                                           {"kind": ch.kind, "count": ch.count, "examples": list(ch.examples)},
                                           w.end))
            self._log(names.EVENT_SCHEMA, {
                **self._attrs(model, ch.feature), names.ATTR_STREAM: stream, names.ATTR_CHANGE: ch.kind,
                names.ATTR_COUNT: ch.count, names.ATTR_EXAMPLES: list(ch.examples), **window,
            })
        drifted = [r.feature for r in report.results if r.drifted]
        self._log(names.EVENT_WINDOW, {
            **self._attrs(model, None), names.ATTR_STREAM: stream, **window,
            names.ATTR_WINDOW_ROWS: w.rows, names.ATTR_WINDOW_ROWS_SEEN: w.rows_seen,
            names.ATTR_DRIFTED: bool(drifted), names.ATTR_DRIFTED_FEATURES: drifted,
            names.ATTR_RESULTS: _dumps([_result_json(r, report.summaries.get(r.feature)) for r in report.results]),
            names.ATTR_SCHEMA_CHANGES: _dumps([_schema_json(ch) for ch in report.schema]),
        })

    def _export_summaries(self, model: ModelInfo, summaries: Mapping[str, FeatureSummary], sample: str) -> None:
        """Summary statistics as ``ml.drift.summary`` gauges, ``ml.drift.sample`` = reference or window."""
        for feature, s in summaries.items():
            attrs = {**self._attrs(model, feature), names.ATTR_SAMPLE: sample}
            for stat, value in s.numeric_stats().items():
                if math.isfinite(value):
                    self._g_summary.set(value, {**attrs, names.ATTR_STAT: stat})
            for cat, freq in s.frequencies.items():
                self._g_summary.set(freq, {**attrs, names.ATTR_STAT: f"freq:{cat}"})

    def _reference_event(self, model: ModelInfo, stream: str, profile: ReferenceProfile, source: str) -> None:
        self._log(names.EVENT_REFERENCE, {
            **self._attrs(model, None), names.ATTR_STREAM: stream, names.ATTR_REFERENCE_SOURCE: source,
            names.ATTR_REFERENCE_ROWS: profile.n_rows, names.ATTR_FEATURES: sorted(profile.types),
            names.ATTR_VECTOR_FEATURES: list(profile.vectors),
            names.ATTR_SUMMARIES: _dumps({f: _summary_json(s) for f, s in profile.summaries.items()}),
        })

    # -- helpers --------------------------------------------------------------------------

    def _rows(self, counter: Any, model: ModelInfo, stream: str, n: int) -> None:
        if n:
            counter.add(n, {**self._attrs(model, None), names.ATTR_STREAM: stream})

    def _dropped(self, model: ModelInfo, stream: str, reason: str, n: int) -> None:
        if n:
            self._c_dropped.add(n, {**self._attrs(model, None, reason=reason), names.ATTR_STREAM: stream})

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
        labels = {names.LABEL_MODEL: model.name, names.LABEL_VERSION: model.version, names.LABEL_FEATURE: feature,
                  **(extra or {})}
        return Signal(name=name, value=value, labels=labels, details=dict(details), timestamp=now)

    def _log(self, event: str, attributes: Mapping[str, Any]) -> None:
        if self.agent is not None:
            self.agent.log.info(event, **attributes)


def make_plugin() -> DriftPlugin:
    """A fresh drift plugin instance for the plugin manager (the ``drift`` entry point)."""
    return DriftPlugin()


# -- pure helpers ---------------------------------------------------------------------------


def _head(columns: Mapping[str, np.ndarray], n: int) -> Columns:
    return {k: v[:n] for k, v in columns.items()}


def _tail(columns: Mapping[str, np.ndarray], n: int) -> Columns:
    return {k: v[n:] for k, v in columns.items()}


def _output_matrix(outputs: np.ndarray) -> np.ndarray | None:
    """Outputs as a rows x classes float matrix when they are probability/score vectors, else None."""
    if outputs.ndim == 2 and outputs.shape[1] > 1 and outputs.dtype.kind in "iuf":
        return outputs.astype(np.float64, copy=False)
    if outputs.ndim == 1 and outputs.dtype.kind == "O" and len(outputs) and is_vector(outputs):
        try:
            matrix = np.asarray(outputs.tolist(), dtype=np.float64)
        except (ValueError, TypeError, OverflowError):  # ragged or non-numeric vectors
            return None
        return matrix if matrix.ndim == 2 and matrix.shape[1] > 1 else None
    return None


def _output_type(outputs: np.ndarray, task: str) -> FeatureType:
    """How a scalar output is tested: class labels and ids as categories, scores and values as numbers.

    A float score is never a category, whatever the task: each new value would otherwise be
    an "unseen category" (spurious schema changes for every window of a classifier's probability).
    """
    if outputs.dtype.kind == "b":
        return FeatureType.BOOLEAN
    values, non_numeric, _ = to_float(outputs)
    finite = values[np.isfinite(values)]
    if non_numeric or finite.size == 0:
        return FeatureType.CATEGORICAL
    integral = bool(np.all(finite == np.round(finite)))
    if integral and task == "classification":
        return FeatureType.CATEGORICAL
    if integral and np.all((finite == 0) | (finite == 1)):
        return FeatureType.BOOLEAN
    return FeatureType.NUMERIC


def _finite(x: float) -> float:
    return x if math.isfinite(x) else (0.0 if math.isnan(x) else math.copysign(1e308, x))


def _json_number(x: float) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"), default=str)


def _summary_json(s: FeatureSummary) -> dict[str, Any]:
    out: dict[str, Any] = {"count": s.count, "missing_rate": _json_number(s.missing_rate)}
    if s.frequencies:
        out["frequencies"] = {k: _json_number(v) for k, v in s.frequencies.items()}
    else:
        out.update({k: _json_number(v) for k, v in s.numeric_stats().items() if k not in ("count", "missing_rate")})
    return out


def _result_json(r: DriftResult, summary: FeatureSummary | None) -> dict[str, Any]:
    return {
        "feature": r.feature, "test": r.test, "statistic": _json_number(r.statistic),
        "p_value": _json_number(r.p_value), "corrected_p_value": _json_number(r.corrected_p_value),
        "effect_name": r.effect_name, "effect_size": _json_number(r.effect_size),
        "threshold": _json_number(r.threshold), "significant": r.significant, "drifted": r.drifted,
        "skipped": r.skipped, "n_reference": r.n_reference, "n_window": r.n_window,
        "effects": {k: _json_number(v) for k, v in r.effects.items()},
        "summary": _summary_json(summary) if summary is not None else None,
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
        "significant": r.significant,
        "drifted": r.drifted,
        "window_start": r.window_start,
        "window_end": r.window_end,
        "n_reference": r.n_reference,
        "n_window": r.n_window,
        **{f"effect_{k}": v for k, v in r.effects.items()},
    }
