"""The live drift plugin: per-model reference profiles, tumbling windows, metrics, logs and Signals.

Hooks run on the worker thread under the host's guard: an unexpected error propagates to
the host, which logs and counts it (``ml.agent.plugin_errors``). Bad input is expected
and handled here, counted under a named reason:

- a row holding a value no test can use (an int beyond float range, a dict, an object
  whose ``__hash__`` raises) is dropped alone (``ml.drift.rows.dropped``), never its batch;
- a list/array-valued (embedding) feature is tested on its own (``plugins.drift.vectors``);
  a row whose vector has another dimension or holds NaN/inf is left out of that test alone
  and counted (``ml.drift.bad_values``, reasons ``vector_dimension``, ``vector_non_finite``);
- strings in a numeric feature, ±inf, lists in a categorical feature are tested as
  missing and counted (``ml.drift.bad_values``).

Accounting, per model and stream: rows received = rows tested + rows dropped (by reason),
once the open window and the warm-up have closed. Time windows run on the agent's
clock (``agent.clock()``), so a test's manual clock drives them.

Findings (drifted features, schema changes, one ``ml.drift.window`` event per closed
window) are logged at info level: they belong in the exported log, not on stderr.
"""

from __future__ import annotations

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
    preload,
)
from plugins.drift import names
from plugins.drift.commands import add_commands
from plugins.drift.config import DriftConfig, Multivariate, parse_config
from plugins.drift.detector import ReferenceProfile, WindowReport, build_profile, evaluate
from plugins.drift.results import DriftResult
from plugins.drift.telemetry import Telemetry, signal
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
        self._lock = threading.Lock()  # the windows and profiles: held by the worker's hooks
        # The latest results: written by window tests on the jobs thread. A lock of their own, held
        # for an assignment: the worker holds ``_lock`` almost all the time under load, and a job
        # waiting for it would publish nothing until the load stopped.
        self._results_lock = threading.Lock()
        self._clock: Callable[[], float] = time.time
        self.tel: Telemetry  # set by infersight_configure, before any other hook

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
        self.tel = Telemetry(agent)

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
            columns, outputs, _ = usable
            self._set_reference(model, st, columns, outputs, names.SOURCE_SET)

    def _set_reference(self, model: ModelInfo, st: _ModelState, columns: Columns, outputs: np.ndarray | None,
                       source: str) -> None:
        preload("scipy.stats")  # windows will be tested: import it now, off the worker, not in the first window
        cfg = st.config
        labels = columns.pop(cfg.label_column, None)
        st.inputs.profile = build_profile(columns, cfg)
        self.tel.reference(model, names.STREAM_INPUTS, st.inputs.profile, source)
        if outputs is not None and len(outputs):
            self._set_output_profile(model, st, np.asarray(outputs), source)
        if labels is not None:
            st.labels.profile = build_profile({LABEL: labels}, replace(cfg, multivariate=Multivariate.OFF))
            self.tel.reference(model, names.STREAM_LABELS, st.labels.profile, source)
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
        self.tel.reference(model, names.STREAM_OUTPUTS, st.outputs.profile, source)

    # -- data path ------------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add captured rows to the model's window; test every window that closes."""
        with self._lock:
            st = self._state(model)
            if not st.config.enabled:  # [drift.models.NAME] enabled = false
                return
            self.tel.received(model, names.STREAM_INPUTS, len(records))
            usable = self._usable_rows(model, records, count=True)
            if usable is not None:
                self._feed_inputs(model, st, *usable)

    def _usable_rows(self, model: ModelInfo, records: RecordBatch,
                     count: bool) -> tuple[Columns, np.ndarray | None, int] | None:
        """The batch without the rows no test can use (each dropped and counted alone), and its row count.

        None when no row is left, or when the batch is malformed (columns of another length than
        the batch: rows cannot be aligned with their values, so the batch is dropped as a whole).
        """
        n = len(records)
        columns = {k: np.asarray(v) for k, v in records.columns.items()}
        outputs = None if records.outputs is None else np.asarray(records.outputs)
        lengths = {len(c) for c in columns.values()} | ({len(outputs)} if outputs is not None else set())
        if lengths - {n} or len(records.timestamps) != n:
            if count:
                self.tel.dropped(model, names.STREAM_INPUTS, names.DROP_MALFORMED, n)
            return None
        problems: dict[int, str] = {}
        for name, col in [*columns.items(), *([(OUTPUT, outputs)] if outputs is not None else [])]:
            bad = row_problems(col)
            for reason in set(bad.values()):
                hits = sum(1 for r in bad.values() if r == reason)
                self.tel.bad_values(model, name, reason, hits)
            for i, reason in bad.items():
                problems.setdefault(i, reason)
        if problems:
            keep = np.ones(n, dtype=bool)
            keep[list(problems)] = False
            if count:
                for reason in set(problems.values()):
                    hits = sum(1 for r in problems.values() if r == reason)
                    self.tel.dropped(model, names.STREAM_INPUTS, reason, hits)
            columns = {k: v[keep] for k, v in columns.items()}
            outputs = None if outputs is None else outputs[keep]
            n = int(keep.sum())
        return (columns, outputs, n) if n else None

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
            self.tel.dropped(model, names.STREAM_INPUTS, names.DROP_REFERENCE, w.rows_seen)
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
            self.tel.received(model, names.STREAM_LABELS, len(labels))
            kept: list[Any] = []
            for e in labels:
                reason = value_problem(e.value)
                if reason is None:
                    kept.append(e.value)
                else:
                    self.tel.bad_values(model, LABEL, reason, 1)
                    self.tel.dropped(model, names.STREAM_LABELS, reason, 1)
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
                self.tel.dropped(model, names.STREAM_LABELS, names.DROP_REFERENCE, done[0].rows_seen)
                st.labels.warmup = None
                cfg = replace(st.config, multivariate=Multivariate.OFF)
                st.labels.profile = build_profile(dict(done[0].columns), cfg)
                self.tel.reference(model, names.STREAM_LABELS, st.labels.profile, names.SOURCE_LIVE)
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
        with self._results_lock:
            st = self._states.get(model)
            return st.latest if st else ()

    # -- window evaluation ------------------------------------------------------------------

    def _account(self, model: ModelInfo, stream: _Stream, name: str, w: ClosedWindow) -> bool:
        """Count a closed window's rows as tested (and sampled out); False when there is no reference."""
        if stream.profile is None:
            self.tel.dropped(model, name, names.DROP_NO_REFERENCE, w.rows_seen)
            return False
        self.tel.tested(model, name, w.rows)
        if w.rows_seen > w.rows:
            self.tel.dropped(model, name, names.DROP_SAMPLED_OUT, w.rows_seen - w.rows)
        stream.windows += 1
        return True

    def _defer(self, model: ModelInfo, stream: _Stream, name: str, w: ClosedWindow,
               work: Callable[[], None]) -> None:
        """Hand a closed window's tests to the agent's jobs thread (the worker goes on meanwhile)."""
        if stream.profile is None:
            self._account(model, stream, name, w)  # counted as dropped: no reference
            return
        assert self.agent is not None  # configured before any window closes
        if not self.agent.defer(self, "window tests", work):
            self.tel.dropped(model, name, names.DROP_BACKLOG, w.rows_seen)
            return
        self._account(model, stream, name, w)

    def _run_window(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        """Test a closed input window (and its outputs) off the worker; called with the lock held."""
        prof, out_prof, cfg, number = st.inputs.profile, st.outputs.profile, st.config, st.inputs.windows + 1
        width = st.outputs.vector_width

        def work() -> None:
            assert prof is not None
            report = evaluate(prof, w.columns, cfg, model=model.name, window_start=w.start, window_end=w.end)
            outputs = None
            if w.outputs is not None and out_prof is not None:
                outputs = self._test_outputs(model, out_prof, width, cfg, w)
            found = self.tel.window(model, report, w, names.STREAM_INPUTS, number)
            results = list(report.results)
            if outputs is not None:
                results.extend(self._publish_outputs(model, st, outputs, w, number, found))
            with self._results_lock:
                st.latest = tuple(results) + tuple(r for r in st.latest if r.feature == LABEL)
            assert self.agent is not None
            self.agent.publish(found)  # joins the next tick (a flush's tick waits for this)

        self._defer(model, st.inputs, names.STREAM_INPUTS, w, work)

    def _test_outputs(self, model: ModelInfo, prof: ReferenceProfile, width: int, cfg: DriftConfig,
                      w: ClosedWindow) -> tuple[WindowReport | None, list[Signal]]:
        """The output window's tests and its Signals (touches no shared state: runs on the jobs thread)."""
        assert w.outputs is not None
        found: list[Signal] = []
        outputs = np.asarray(w.outputs)
        if outputs.dtype.kind == "O" and outputs.ndim == 1:
            # Rows whose outputs became the output reference (or were not captured) carry None.
            present = np.fromiter((o is not None for o in outputs.tolist()), dtype=bool, count=len(outputs))
            outputs = outputs[present]
            if not outputs.size:
                return None, found
        if width:
            matrix = _output_matrix(outputs)
            if matrix is None:
                self.tel.bad_values(model, OUTPUT, names.BAD_NON_NUMERIC, len(outputs))
                return None, found
            if matrix.shape[1] != width:
                found.append(signal(names.SIGNAL_NEW_OUTPUT_CLASS, float(matrix.shape[1]), model, OUTPUT,
                                    {"reference_width": width, "window_width": matrix.shape[1]}, w.end))
                return None, found
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
                        found.append(signal(
                            names.SIGNAL_OUTPUT_OUT_OF_RANGE, outside / vals.size, model, OUTPUT,
                            {"count": outside, "reference_min": ref.min, "reference_max": ref.max}, w.end))
        return report, found

    def _publish_outputs(self, model: ModelInfo, st: _ModelState, tested: tuple[WindowReport | None, list[Signal]],
                         w: ClosedWindow, number: int, found: list[Signal]) -> list[DriftResult]:
        """Record an output window's results (on the jobs thread); its Signals are added to ``found``."""
        report, signals = tested
        found.extend(signals)
        if report is None:
            return []
        self.tel.window_closed(model, names.STREAM_OUTPUTS)
        st.outputs.windows = number
        found.extend(self.tel.window(model, report, w, names.STREAM_OUTPUTS, number, names.SIGNAL_NEW_OUTPUT_CLASS))
        return list(report.results)

    def _run_labels(self, model: ModelInfo, st: _ModelState, w: ClosedWindow) -> None:
        if not self._account(model, st.labels, names.STREAM_LABELS, w):
            return
        prof = st.labels.profile
        assert prof is not None
        cfg = replace(st.config, multivariate=Multivariate.OFF)
        report = evaluate(prof, w.columns, cfg, model=model.name, window_start=w.start, window_end=w.end)
        st.pending.extend(self.tel.window(model, report, w, names.STREAM_LABELS, st.labels.windows))
        with self._results_lock:
            st.latest = tuple(r for r in st.latest if r.feature != LABEL) + report.results


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
