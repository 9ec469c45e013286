"""The performance plugin: estimated performance per window before labels arrive, checked when they do.

Hooks run on the worker thread under the host's guard (an unexpected error reaches the
host and is counted in ``ml.agent.plugin_errors``). Expected bad input is handled here
and counted under a named reason:

- rows before a usable reference, outputs that are not probabilities/numbers, score
  vectors of the wrong width, missing loss-model features: ``ml.performance.rows.dropped``;
- labels for rows never seen or already forgotten, labels naming no class:
  ``ml.performance.labels`` by outcome; unlabelled rows forgotten by the bounded join
  memory: ``ml.performance.join.evicted``;
- a reference that cannot be fitted: a warning ``ml.performance.reference_set`` event
  naming the column, and the model's rows are dropped (``no_reference``) until a good one.

Accounting per model: ``ml.performance.rows`` = rows put in windows + rows dropped.
Count windows close as rows arrive; time windows on the tick (``now``). Window times are
the rows' capture times, so model age is measured at prediction time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.plugin import FeedbackEvent, ModelInfo, PluginContext, RecordBatch, Signal, TrainingRecord, hookimpl
from plugins.performance import names as n
from plugins.performance.commands import add_commands
from plugins.performance.config import PerformanceConfig, parse_config
from plugins.performance.emit import Emitter
from plugins.performance.estimate import estimate_window, evaluate_labels, score_rows
from plugins.performance.reference import (
    CLASSIFICATION,
    FittedReference,
    UnusableReferenceError,
    fit_reference,
    label_index,
)
from plugins.performance.retrain import History, Point, decay_json, fit_decay, recommend, training_record
from plugins.performance.windows import ClosedWindow, ClosedWindows, OpenWindow, RowIndex, close


@dataclass
class _Model:
    """Per-model state: fitted reference, the open window, closed windows waiting for labels, the join index."""

    cfg: PerformanceConfig
    closed: ClosedWindows
    index: RowIndex
    ref: FittedReference | None = None
    open: OpenWindow | None = None
    seq: int = 0
    pending: list[Signal] = field(default_factory=list)
    history_changed: bool = False
    recommended: bool = False


class PerformancePlugin:
    """Estimates classifier (CBPE, BBSE) and regressor (DLE) performance per window; tracks decay across retrains."""

    def __init__(self) -> None:
        self.agent: PluginContext | None = None
        self.default = PerformanceConfig()
        self.per_model: dict[str, PerformanceConfig] = {}
        self.history = History()
        self._history_ok = True
        self._models: dict[str, _Model] = {}
        self.emit: Emitter | None = None

    # -- configuration --------------------------------------------------------------------

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight retrain``."""
        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check ``[performance]``, create the instruments, load the history, apply configured trainings."""
        self.default, self.per_model = parse_config(agent.section("performance"))
        self.agent = agent
        self.emit = Emitter(agent)
        path = agent.data_dir / self.default.history_file
        try:
            self.history = History.load(path)
        except (OSError, ValueError) as exc:  # unreadable or not a history: keep it in memory, never overwrite
            self._history_ok = False
            self.history = History(path)
            self.emit.history_error(path, exc)
        for name, cfg in self.per_model.items():
            for rec in cfg.trainings:
                self.history.add_training(rec)
            if cfg.trainings:
                self._state(name).history_changed = True

    def config_for(self, model: str) -> PerformanceConfig:
        """The effective config of ``model``."""
        return self.per_model.get(model, self.default)

    def _state(self, name: str) -> _Model:
        st = self._models.get(name)
        if st is None:
            cfg = self.config_for(name)
            st = self._models[name] = _Model(cfg, ClosedWindows(cfg.label_windows), RowIndex(cfg.max_tracked_rows))
        return st

    # -- retrains -------------------------------------------------------------------------

    @hookimpl
    def infersight_training_recorded(self, model: ModelInfo, training: TrainingRecord) -> None:
        """``agent.record_training``: add the retrain to the history (in order with the calls around it)."""
        rec = training_record(training.model, training.version, training.trained_at, training.data_until,
                              training.metrics)
        self.history.add_training(rec)
        self._state(rec.model).history_changed = True
        if self.emit is not None:
            self.emit.training(rec)

    # -- reference ------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Fit CBPE + BBSE or DLE on the reference and report the calibration's quality."""
        assert self.emit is not None
        st = self._state(model.name)
        old = st.ref
        try:
            st.ref = fit_reference(st.cfg, model.task, records.columns)
        except UnusableReferenceError as exc:
            st.ref = None
            self.emit.reference_problem(model, str(exc))
            return
        if old is not None and (old.task, old.classes) != (st.ref.task, st.ref.classes):
            self._reset_windows(model, st)  # rows scored for other classes cannot be estimated any more
        self.emit.reference(model, st.ref)

    def _reset_windows(self, model: ModelInfo, st: _Model) -> None:
        assert self.emit is not None
        unlabelled = 0
        for seq, pos in st.index.entries():
            win = st.closed.get(seq)
            if win is not None:
                unlabelled += bool(np.isnan(win.labels[pos]))
            elif st.open is not None and st.open.seq == seq:
                unlabelled += pos not in st.open.early_labels
        st.open = None
        st.closed = ClosedWindows(st.cfg.label_windows)
        st.index = RowIndex(st.cfg.max_tracked_rows)
        if unlabelled:
            self.emit.evicted(model, n.EVICT_REFERENCE, unlabelled)

    # -- rows -----------------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Score the batch's rows and put them in windows; count windows close here."""
        assert self.emit is not None and self.agent is not None
        total = len(records)
        if total == 0:
            return
        st = self._state(model.name)
        self.emit.rows(model, total)
        if st.ref is None:
            self.emit.dropped(model, n.DROP_NO_REFERENCE, total)
            return
        payload, keep, reasons = score_rows(st.ref, records)
        for reason, count in reasons.items():
            self.emit.dropped(model, reason, count)
        if payload is None or not keep.any():
            return
        ids = records.prediction_ids
        rows = records.row_index.tolist()
        keys = [(ids[i], int(rows[i])) for i in np.flatnonzero(keep).tolist()]
        ts = np.asarray(records.timestamps, dtype=float)[keep]
        version = self._version(model, st, float(ts.max()) if len(ts) else self.agent.clock())
        if st.open is not None and st.open.version != version:
            self._close(model, st, self.agent.clock())
        size = st.cfg.window.size if st.cfg.window.type == "count" else None
        start = 0
        while start < len(payload):
            if st.open is None:
                st.seq += 1
                st.open = OpenWindow(st.seq, version, self.agent.clock())
            room = len(payload) - start if size is None else size - st.open.rows
            stop = start + room
            evicted = st.index.add(keys[start:stop], st.open.seq, st.open.rows)
            self._count_evicted(model, st, evicted, n.EVICT_CAPACITY)
            st.open.add(payload[start:stop], keys[start:stop], ts[start:stop])
            start = stop
            if size is not None and st.open.rows >= size:
                self._close(model, st, self.agent.clock())

    def _version(self, model: ModelInfo, st: _Model, t: float) -> str:
        if model.version:
            return model.version
        return self.history.model(model.name).version_at(t) or ""

    # -- windows ----------------------------------------------------------------------------

    def _close(self, model: ModelInfo, st: _Model, now: float) -> None:
        assert self.emit is not None and st.ref is not None
        win, st.open = st.open, None
        if win is None or win.rows == 0:
            return
        if win.rows < st.cfg.min_window_rows:
            st.index.forget(win.keys, win.seq)
            self.emit.skipped(model, n.SKIP_TOO_FEW_ROWS)
            return
        closed = close(win, now)
        estimate_window(st.ref, st.cfg, closed)
        st.pending.extend(self.emit.window(model, st.ref, st.cfg, closed))
        metric = self._retrain_metric(st)
        primary = closed.estimates.get(n.METHOD_CBPE) or closed.estimates.get(n.METHOD_DLE) or {}
        if metric in primary:
            value = primary[metric].value
            self.history.observe(model.name, closed.version, Point(closed.window_id, closed.end,
                                 value if math.isfinite(value) else None, None, closed.rows),
                                 st.cfg.history_max_points)
            st.history_changed = True
        for old in st.closed.add(closed):
            gone = st.index.forget(old.keys, old.seq)
            unlabelled = int(np.isnan(old.labels[gone]).sum()) if gone else 0
            if unlabelled:
                self.emit.evicted(model, n.EVICT_WINDOW, unlabelled)

    def _count_evicted(self, model: ModelInfo, st: _Model, evicted: list[tuple[int, int]], reason: str) -> None:
        if not evicted or self.emit is None:
            return
        count = 0
        for seq, pos in evicted:
            win = st.closed.get(seq)
            if win is None or math.isnan(win.labels[pos]):
                count += 1
        if count:
            self.emit.evicted(model, reason, count)

    def _retrain_metric(self, st: _Model) -> str:
        if st.cfg.retrain_metric != "auto":
            return st.cfg.retrain_metric
        return "accuracy" if st.ref is None or st.ref.task == CLASSIFICATION else "mae"

    # -- labels -------------------------------------------------------------------------------

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join label events to their window's rows (realized metrics follow on the tick)."""
        assert self.emit is not None
        st = self._models.get(model.name)
        outcomes: Counter[str] = Counter()
        for e in events:
            if e.kind != "label":
                continue
            if st is None or st.ref is None:
                outcomes[n.LABEL_UNKNOWN] += 1
                continue
            try:
                row = int(e.attributes.get("row_index", 0))
            except (TypeError, ValueError):
                row = -1
            where = st.index.get((e.prediction_id, row))
            if where is None:
                outcomes[n.LABEL_UNKNOWN] += 1
                continue
            value = self._label_value(st.ref, e.value)
            if value is None:
                outcomes[n.LABEL_INVALID] += 1
                continue
            seq, pos = where
            win = st.closed.get(seq)
            if win is not None:
                outcomes[n.LABEL_JOINED if math.isnan(win.labels[pos]) else n.LABEL_DUPLICATE] += 1
                win.labels[pos] = value
                win.dirty = True
            elif st.open is not None and st.open.seq == seq:
                outcomes[n.LABEL_DUPLICATE if pos in st.open.early_labels else n.LABEL_JOINED] += 1
                st.open.early_labels[pos] = value
            else:
                outcomes[n.LABEL_UNKNOWN] += 1
        for outcome, count in outcomes.items():
            self.emit.labels(model, outcome, count)

    @staticmethod
    def _label_value(ref: FittedReference, value: Any) -> float | None:
        if ref.task == CLASSIFICATION:
            idx = label_index(value, ref.classes)
            return None if idx is None else float(idx)
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            return None
        v = float(value)
        return v if math.isfinite(v) else None

    # -- the tick -----------------------------------------------------------------------------

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close a due time window, score windows whose labels arrived, update the decay fit; return Signals."""
        assert self.emit is not None
        st = self._models.get(model.name)
        if st is None:
            return None
        if st.open is not None and st.cfg.window.type == "time" and now - st.open.opened_at >= st.cfg.window.seconds:
            self._close(model, st, now)
        if st.ref is not None:
            for win in st.closed:
                if win.dirty and win.labelled >= st.cfg.min_labelled_rows:
                    self._realized(model, st, win)
        self.emit.tracked(model, len(st.index))
        mh = self.history.model(model.name)
        version = model.version or mh.version_at(now)
        if version is not None and version in mh.trainings:
            self.emit.age(model, version, now - mh.trainings[version].trained_at)
        if st.history_changed:
            st.history_changed = False
            self._evaluate_decay(model, st, now, version)
            self._save()
        out, st.pending = st.pending, []
        return out or None

    def _realized(self, model: ModelInfo, st: _Model, win: ClosedWindow) -> None:
        assert self.emit is not None and st.ref is not None
        win.dirty = False
        errors = evaluate_labels(st.ref, st.cfg, win)
        st.pending.extend(self.emit.realized(model, st.cfg, win, errors))
        metric = self._retrain_metric(st)
        if metric in win.realized and math.isfinite(win.realized[metric]):
            self.history.observe(model.name, win.version, Point(win.window_id, win.end, None, win.realized[metric],
                                                                win.rows), st.cfg.history_max_points)
            st.history_changed = True

    def _evaluate_decay(self, model: ModelInfo, st: _Model, now: float, version: str | None) -> None:
        assert self.emit is not None
        mh = self.history.model(model.name)
        mh.metric = self._retrain_metric(st)
        mh.floor = st.cfg.retrain_floor
        fit = fit_decay(mh)
        if fit is None:
            return
        rec = None
        if st.cfg.retrain_floor is not None:
            rec = recommend(mh, fit, st.cfg.retrain_floor, now=now, lead_s=st.cfg.retrain_lead, version=version,
                            model=model.name)
        self.emit.decay(model, decay_json(fit, rec))
        if rec is not None:
            st.pending.append(self.emit.retrain_signal(model, rec))
            if rec.recommended and not st.recommended:
                self.emit.retrain_event(model, rec)
            st.recommended = rec.recommended

    def _save(self) -> None:
        if not self._history_ok or self.agent is None or self.emit is None:
            return
        try:
            self.history.save(self.agent.file_mode, self.agent.dir_mode)
        except OSError as exc:  # disk full, permissions: reported, the estimates go on
            self.emit.history_error(self.history.path, exc)

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Persist the history."""
        self._save()


def make_plugin() -> PerformancePlugin:
    """A fresh performance plugin for the plugin manager (the ``performance`` entry point)."""
    return PerformancePlugin()
