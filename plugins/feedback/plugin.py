"""The feedback plugin: durable feedback sink, prediction memory, joins, realized performance, export.

Accounting (every event and row ends in exactly one counter):
- events handed to ``agent.log_feedback`` (``ml.feedback.received``) are stored
  (``ml.feedback.count``, by kind) or dropped (``ml.feedback.dropped``, by reason: ``invalid``
  — the call raised ``ValueError`` naming the field —, ``duplicate`` — an ``event_id`` already
  stored —, ``store_error`` — the commit failed and the call raised);
- captured prediction rows (``ml.feedback.prediction_rows``) are remembered for the join
  (``ml.feedback.prediction_rows_stored``) or dropped (``ml.feedback.prediction_rows_dropped``,
  by reason: ``malformed_row`` — skipped alone, never its batch —, ``duplicate``, ``store_error``).

Join outcomes of stored events (each counted):
- feedback whose prediction is already stored: joined at once;
- feedback arriving before its prediction row (capture is asynchronous): pending,
  retried on every tick until ``pending_timeout_s``, then an orphan;
- feedback for an unknown or pruned prediction: an orphan after the same timeout
  (``ml.feedback.orphans``, reason ``timeout``; ``overflow`` when more than
  ``max_pending`` wait);
- a second label for the same prediction row: ``label_policy = "last"`` (default) treats it
  as a correction and scores it (replacing the first in the open window),
  ``"first"`` ignores it; counted either way (``ml.feedback.duplicates``, duplicate=label).
A ranking window stops taking lists when full (or its time is up) and is scored
``click_grace_s`` later, so clicks that follow their list still count; clicks arriving
after that are counted in ``ml.feedback.late`` and not scored.

Every hook runs under the host's guard: an unexpected failure reaches the host (counted
in ``ml.agent.plugin_errors``). Findings (a degraded metric) are info log events; warnings
are kept for the plugin's own health (the store failing).
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from agent.plugin import (
    FeedbackEvent,
    ModelInfo,
    PluginContext,
    RecordBatch,
    Signal,
    describe_exception,
    hookimpl,
)
from plugins.feedback import names as n
from plugins.feedback._windows import RANKING_TASKS, LabelWindow, RankWindow, ranked_items
from plugins.feedback.config import FeedbackConfig, parse_config
from plugins.feedback.events import validate_event
from plugins.feedback.export import ExportPass, ExportThread, FeedbackExport
from plugins.feedback.performance import PerformanceResult, degraded_metrics
from plugins.feedback.phoenix import PhoenixSender
from plugins.feedback.store import (
    JOIN_JOINED,
    JOIN_ORPHAN,
    FeedbackStore,
    FeedbackStoreError,
    PredictionRow,
    StoredFeedback,
)

Key = tuple[str, str]

_RECEIVED = "received"
_MAX_INT64 = 2**63 - 1
_MAX_DEPTH = 32


class FeedbackPlugin:
    """Logs feedback durably, joins it to predictions, scores realized performance, exports it."""

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        self.cfg = FeedbackConfig()
        self.store: FeedbackStore | None = None
        self.export: FeedbackExport | None = None
        self.export_thread: ExportThread | None = None
        self.annotations: FeedbackExport | None = None  # [feedback.phoenix]: span annotations
        self.annotation_thread: ExportThread | None = None
        self._annotations_down = False
        self.stats: Counter[str] = Counter()
        self._scan = 0
        self._pending: dict[int, StoredFeedback] = {}
        self._label_windows: dict[Key, LabelWindow] = {}
        self._rank_windows: dict[Key, RankWindow] = {}
        self._rank_maturing: dict[Key, list[RankWindow]] = {}
        self._baselines: dict[Key, dict[str, float]] = {}
        self._signals: dict[str, list[Signal]] = defaultdict(list)
        self._predicted: dict[Key, int] = defaultdict(int)
        self._labelled: dict[Key, int] = defaultdict(int)
        self._ticked = False  # the tick's work ran (at the first model's collect_signals)
        self._last_tick = -math.inf
        self._last_prune = -math.inf
        self._gauges: dict[str, Any] = {}
        # Sink tallies, added to the counters on the worker's tick: an OTel counter add on
        # the caller's thread would cost as much as the validation.
        self._tally_lock = threading.Lock()
        self._tally: Counter[str] = Counter()
        self.results: list[tuple[Key, PerformanceResult]] = []

    # -- lifecycle ---------------------------------------------------------------------

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Read ``[feedback]``, open the store, register the sink, start the exporter."""
        self.ctx = agent
        self.cfg = cfg = parse_config(agent.section("feedback"))
        self.store = FeedbackStore(agent.data_dir / cfg.db_file, synchronous=cfg.synchronous,
                                   commit_mode=cfg.commit, max_wait_s=cfg.commit_wait_ms / 1000.0,
                                   clock=agent.clock, file_mode=agent.file_mode, dir_mode=agent.dir_mode)
        for problem in self.store.mode_problems:
            agent.log.warning(n.EVENT_STORE_ERROR, **{n.ATTR_OPERATION: n.OP_PERMISSIONS,
                                                       n.ATTR_EXCEPTION_MESSAGE: problem})
        m = agent.meter
        self._received = m.create_counter(n.RECEIVED, "{event}", "Feedback events handed to log_feedback")
        self._count = m.create_counter(n.COUNT, "{event}", "Feedback events made durable, by kind")
        self._dropped = m.create_counter(n.DROPPED, "{event}", "Feedback events not stored, by reason")
        self._joined = m.create_counter(n.JOINED, "{event}", "Feedback joined to its prediction")
        self._orphans = m.create_counter(n.ORPHANS, "{event}", "Feedback whose prediction never matched")
        self._dups = m.create_counter(n.DUPLICATES, "{event}", "Repeated feedback events or labels")
        self._late = m.create_counter(n.LATE, "{event}", "Clicks after their ranking window closed")
        self._pending_g = m.create_gauge(n.PENDING, "{event}", "Feedback waiting for its prediction")
        self._delay = m.create_histogram(n.LABEL_DELAY, "s", "Feedback time minus prediction time")
        self._ratio = m.create_gauge(n.LABELLED_RATIO, "1", "Share of predictions labelled so far")
        self._exported = m.create_counter(n.EXPORTED, "{event}", "Feedback acknowledged by the exporter")
        self._export_fail = m.create_counter(n.EXPORT_FAILURES, "{export}", "Failed export passes, by reason")
        self._rows = m.create_counter(n.PREDICTION_ROWS, "{row}", "Captured rows received for the join")
        self._rows_stored = m.create_counter(n.PREDICTION_ROWS_STORED, "{row}", "Prediction rows remembered")
        self._rows_dropped = m.create_counter(n.PREDICTION_ROWS_DROPPED, "{row}",
                                              "Prediction rows not remembered, by reason")
        self._scan = self.store.mark("join")
        exporter = agent.new_log_exporter() if cfg.export else None
        if exporter is not None:
            self.export = FeedbackExport(
                self.store, exporter, resource=agent.resource, batch_size=cfg.export_batch,
                min_backoff_s=cfg.export_min_backoff_s, max_backoff_s=cfg.export_max_backoff_s,
                clock=agent.clock, on_result=self._on_export,
            )
            self.export_thread = ExportThread(self.export, on_error=self._on_export_error)
            self.export_thread.kick()  # rows an earlier process left unexported
        if cfg.phoenix is not None:
            self._start_annotations(agent)
        agent.register_feedback_sink(self.log_event)

    def _start_annotations(self, agent: PluginContext) -> None:
        """Deliver stored feedback to Phoenix as span annotations from the store's own mark, on its own thread."""
        cfg = self.cfg.phoenix
        assert cfg is not None and self.store is not None
        m = agent.meter
        self._ann_delivered = m.create_counter(n.ANNOTATIONS_DELIVERED, "{annotation}",
                                               "Feedback events Phoenix accepted as span annotations")
        self._ann_failures = m.create_counter(n.ANNOTATIONS_FAILURES, "{request}",
                                              "Annotation batches not accepted (retried), by reason")
        self._ann_skipped = m.create_counter(n.ANNOTATIONS_SKIPPED, "{event}",
                                             "Feedback events never sent as annotations, by reason")
        self._ann_pending = m.create_gauge(n.ANNOTATIONS_PENDING, "{event}",
                                           "Stored feedback events not yet delivered or skipped")
        self.annotations = FeedbackExport(
            self.store, PhoenixSender(cfg), batch_size=cfg.batch, min_backoff_s=cfg.min_backoff_s,
            max_backoff_s=cfg.max_backoff_s, clock=agent.clock, on_result=self._on_annotations,
            on_skipped=self._on_annotations_skipped, mark=n.PHOENIX_MARK, hold_pending=True, count_pending=True,
        )
        self.annotation_thread = ExportThread(self.annotations, on_error=self._on_annotations_error,
                                              on_pass=self._on_annotation_pass, name="infersight-feedback-phoenix")
        self.annotation_thread.kick()  # events an earlier process left undelivered

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Join what is pending, count, flush the export, close the store."""
        try:
            if self.store is not None:
                self.join_pass(agent.clock())
                self._flush_counts()
            for thread in (self.export_thread, self.annotation_thread):
                if thread is not None:
                    thread.flush(timeout=10.0)
        finally:
            for thread in (self.export_thread, self.annotation_thread):
                if thread is not None:
                    thread.stop()
            if self.store is not None:
                self.store.close()

    # -- the sink (caller's thread) --------------------------------------------------------

    def log_event(self, event: FeedbackEvent) -> FeedbackEvent:
        """Validate ``event`` and make it durable; raises ValueError naming a bad field, OSError when not stored."""
        store = self.store
        if store is None:
            raise RuntimeError("the feedback plugin is not configured")
        with self._tally_lock:
            self._tally[_RECEIVED] += 1
        try:
            event = validate_event(event, self.cfg.kinds)
            # ml.feedback.count and the duplicates come from the store's tallies on the tick.
            return store.append(event)
        except BaseException as exc:  # counted, then raised to the caller as before
            reason = n.DROP_STORE_ERROR if isinstance(exc, FeedbackStoreError) else n.DROP_INVALID
            with self._tally_lock:
                self._tally[reason] += 1
            raise

    # -- worker hooks ------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Remember the batch's predictions for the join (and ranking impressions for CTR)."""
        if self.store is None or len(records) == 0:
            return
        attrs = _attrs(model.key)
        rows, malformed = prediction_rows(model, records, self.cfg)
        self._rows.add(len(rows) + malformed, attrs)
        if malformed:
            self.stats["malformed_rows"] += malformed
            self._rows_dropped.add(malformed, {**attrs, n.ATTR_REASON: n.ROW_MALFORMED})
        if not rows:
            return
        try:
            stored = self.store.add_predictions(rows)
        except sqlite3.Error as exc:  # database locked past the busy timeout, disk full: expected, counted
            self.stats["rows_store_error"] += len(rows)
            self._rows_dropped.add(len(rows), {**attrs, n.ATTR_REASON: n.ROW_STORE_ERROR})
            self._log_store_error(n.OP_ADD_PREDICTIONS, exc)
            return
        self._rows_stored.add(stored, attrs)
        if stored < len(rows):
            self._rows_dropped.add(len(rows) - stored, {**attrs, n.ATTR_REASON: n.ROW_DUPLICATE})
        self._predicted[model.key] += stored
        if model.task in RANKING_TASKS:
            now = self._now()
            win = self._rank_windows.setdefault(model.key, RankWindow(now))
            for r in rows:
                items = ranked_items(r.output)
                if items is not None:
                    win.add_list(r.prediction_id, items)
                if win.ready(now, self.cfg):
                    self._close_rank(model.key, now)
                    win = self._rank_windows.setdefault(model.key, RankWindow(now))

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join new feedback (these events are already in the store)."""
        if self.store is not None:
            self.join_pass(self._now(), retry_all=False)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Once per tick: join, close time windows, prune, count, kick the export; returns this model's signals."""
        if not self._ticked or now != self._last_tick:
            self._ticked, self._last_tick = True, now
            self._tick(now)
        return self._signals.pop(model.name, None) or None

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        """Ends the tick; its work also runs here in a process with no models (a label-ingestion job)."""
        if not self._ticked:
            self._tick(now)
        self._ticked = False

    def _tick(self, now: float) -> None:
        if self.store is None:
            return
        self._flush_counts()  # first: the sink's counts go out even if the store fails below
        self.join_pass(now)
        if self.cfg.window.type == "time":
            for key, win in list(self._label_windows.items()):
                if win.ready(now, self.cfg):
                    self._close_labels(key, now)
            for key, rwin in list(self._rank_windows.items()):
                if rwin.ready(now, self.cfg):
                    self._close_rank(key, now)
        self._mature_rank(now)
        if now - self._last_prune >= self.cfg.prune_interval_s:
            self._last_prune = now
            pruned = self.store.prune(now, max_age_s=self.cfg.prediction_max_age_s,
                                      max_rows=self.cfg.prediction_max_rows,
                                      feedback_max_age_s=self.cfg.feedback_max_age_s)
            self.stats["pruned_predictions"] += pruned.predictions_by_age + pruned.predictions_by_count
            self.store.checkpoint()
        for key, count in self._predicted.items():
            if count:
                self._ratio.set(self._labelled[key] / count, _attrs(key))
        for thread in (self.export_thread, self.annotation_thread):
            if thread is not None:
                thread.kick()

    # -- joins ------------------------------------------------------------------------

    def join_pass(self, now: float, *, retry_all: bool = True) -> None:
        """Read new feedback from the store, join what can be joined, age out orphans.

        ``retry_all=False`` (after each feedback batch) looks only at events new since
        the last pass; events still waiting for their prediction are retried on ticks.
        """
        assert self.store is not None
        new: list[StoredFeedback] = []
        while True:
            fresh = self.store.after(self._scan, 5000, pending_only=True)
            if not fresh:
                break
            for r in fresh:
                self._pending[r.seq] = r
            new.extend(fresh)
            self._scan = fresh[-1].seq
        if not self._pending:
            self.store.set_mark("join", self._scan)
            self._pending_g.set(0)
            self.stats["pending"] = 0
            return
        pending = sorted(self._pending.values(), key=lambda r: r.seq) if retry_all else new
        joined: list[tuple[StoredFeedback, list[PredictionRow]]] = []
        for start in range(0, len(pending), 2000):
            chunk = pending[start : start + 2000]
            preds = self.store.predictions_for(r.event.prediction_id for r in chunk)
            joined.extend((r, preds[r.event.prediction_id]) for r in chunk if r.event.prediction_id in preds)
        claimed = self.store.set_join_state([r.seq for r, _ in joined], JOIN_JOINED)
        if claimed == len(joined):
            for r, rows in joined:
                del self._pending[r.seq]
                self._on_joined(r, rows, now)
        else:  # another process joined some of them: leave them to it
            for r, _ in joined:
                self._pending.pop(r.seq, None)
            self.stats["joined_elsewhere"] += len(joined) - claimed
        expired = [r for r in self._pending.values() if now - r.received > self.cfg.pending_timeout_s]
        excess = len(self._pending) - self.cfg.max_pending
        overflow = sorted(self._pending.values(), key=lambda r: r.seq)[:excess] if excess > 0 else []
        for reason, rows_ in ((n.ORPHAN_TIMEOUT, expired), (n.ORPHAN_OVERFLOW, overflow)):
            live = [r for r in rows_ if r.seq in self._pending]
            if live:
                self.store.set_join_state([r.seq for r in live], JOIN_ORPHAN)
                for r in live:
                    del self._pending[r.seq]
                    self._orphans.add(1, {n.ATTR_KIND: r.event.kind, n.ATTR_REASON: reason})
                self.stats["orphans"] += len(live)
        self.stats["pending"] = len(self._pending)
        self._pending_g.set(len(self._pending))
        low = min(self._pending) - 1 if self._pending else self._scan
        self.store.set_mark("join", low)

    def _on_joined(self, r: StoredFeedback, rows: list[PredictionRow], now: float) -> None:
        assert self.ctx is not None and self.store is not None
        e = r.event
        want = e.attributes.get("row_index", 0)
        row = next((p for p in rows if p.row_index == want), rows[0])
        key: Key = (row.model, row.version)
        attrs = {n.ATTR_KIND: e.kind, **_attrs(key)}
        self.stats["joined"] += 1
        self._joined.add(1, attrs)
        self._delay.record(max(0.0, e.timestamp - row.timestamp), attrs)
        task = self.ctx.model(row.model).task
        if e.kind == "label":
            use, dup = self.store.claim_label(row.prediction_id, row.row_index, e.event_id, self.cfg.label_policy)
            if dup:
                self.stats["duplicate_labels"] += 1
                self._dups.add(1, {n.ATTR_DUPLICATE: n.DUPLICATE_LABEL, **_attrs(key)})
            else:
                self._labelled[key] += 1
            if use and task in ("classification", "regression"):
                win = self._label_windows.setdefault(key, LabelWindow(task, now))
                win.add((row.prediction_id, row.row_index), e.value, row.output)
                if win.ready(now, self.cfg):
                    self._close_labels(key, now)
        elif task in RANKING_TASKS and e.kind in self.cfg.click_kinds:
            wins = [w for w in (self._rank_windows.get(key), *self._rank_maturing.get(key, ())) if w is not None]
            if not any(w.add_click(row.prediction_id, e.item_id, e.position) for w in wins):
                self.stats["late"] += 1
                self._late.add(1, _attrs(key))

    # -- windows -> metrics and signals -------------------------------------------------

    def _close_labels(self, key: Key, now: float) -> None:
        win = self._label_windows.pop(key)
        if len(win.rows) >= self.cfg.min_window_rows:
            self._publish(key, win.score(self.cfg), now)
        self._label_windows[key] = LabelWindow(win.task, now)

    def _close_rank(self, key: Key, now: float) -> None:
        # New lists go to a fresh window; clicks on this one count for click_grace_s more.
        win = self._rank_windows.pop(key)
        win.closed_at = now
        self._rank_maturing.setdefault(key, []).append(win)
        self._rank_windows[key] = RankWindow(now)
        self._mature_rank(now)

    def _mature_rank(self, now: float) -> None:
        for key, wins in self._rank_maturing.items():
            while wins and now - wins[0].closed_at >= self.cfg.click_grace_s:
                win = wins.pop(0)
                if len(win.lists) >= self.cfg.min_window_rows:
                    self._publish(key, win.score(self.cfg.k), now)

    def _publish(self, key: Key, result: PerformanceResult, now: float) -> None:
        assert self.ctx is not None
        self.results.append((key, result))
        del self.results[:-100]
        labels = {n.LABEL_MODEL: key[0], n.LABEL_VERSION: key[1]}
        out = self._signals[key[0]]
        for metric, value in result.metrics.items():
            if math.isnan(value):
                continue
            name = n.performance(metric)
            gauge = self._gauges.get(name)
            if gauge is None:
                gauge = self._gauges[name] = self.ctx.meter.create_gauge(name, "1", f"Realized {metric} per window")
            gauge.set(value, _attrs(key))
            out.append(Signal(name, value, labels, {"n": result.n}, now))
        baseline = self._baselines.get(key)
        if baseline is None:
            # Configured values win; other metrics take the first window as their baseline.
            baseline = dict(self.cfg.baseline)
            baseline.update({k: v for k, v in result.metrics.items() if k not in baseline})
            self._baselines[key] = baseline
        for metric, drop in degraded_metrics(baseline, result.metrics, self.cfg.degradation_threshold).items():
            details = {"baseline": baseline[metric], "current": result.metrics[metric], "n": result.n,
                       "threshold": self.cfg.degradation_threshold}
            out.append(Signal(n.SIGNAL_DEGRADED, drop, {**labels, n.LABEL_METRIC: metric}, details, now))
            self.ctx.log.info(n.EVENT_DEGRADED, **{
                **_attrs(key), n.ATTR_METRIC: metric, n.ATTR_DROP: drop, n.ATTR_BASELINE: baseline[metric],
                n.ATTR_CURRENT: result.metrics[metric], n.ATTR_THRESHOLD: self.cfg.degradation_threshold,
                n.ATTR_WINDOW_ROWS: result.n})

    # -- helpers ---------------------------------------------------------------------

    def _flush_counts(self) -> None:
        assert self.store is not None
        kinds, dups = self.store.take_counts()
        for kind, count in kinds.items():
            self._count.add(count, {n.ATTR_KIND: kind})
        with self._tally_lock:
            tally, self._tally = self._tally, Counter()
        if tally[_RECEIVED]:
            self._received.add(tally[_RECEIVED])
        for reason in (n.DROP_INVALID, n.DROP_STORE_ERROR):
            if tally[reason]:
                self._dropped.add(tally[reason], {n.ATTR_REASON: reason})
        if dups:
            self._dropped.add(dups, {n.ATTR_REASON: n.DROP_DUPLICATE})
            self._dups.add(dups, {n.ATTR_DUPLICATE: n.DUPLICATE_EVENT})
        self.stats.update(tally)
        self.stats["stored"] += sum(kinds.values())
        self.stats["duplicate_events"] += dups

    def _now(self) -> float:
        return self.ctx.clock() if self.ctx is not None else 0.0

    def _on_export(self, count: int, ok: bool) -> None:
        if ok:
            self._exported.add(count)
            self.stats["exported"] += count
        else:
            self._export_fail.add(1, {n.ATTR_REASON: n.EXPORT_REJECTED})
            self.stats["export_failures"] += 1

    def _on_export_error(self, exc: BaseException) -> None:
        # The export thread's pass failed outside the exporter (the store locked or closed):
        # counted and retried on the next kick. This thread is not under the host's guard.
        self.stats["export_failures"] += 1
        self._export_fail.add(1, {n.ATTR_REASON: n.EXPORT_STORE})
        self._log_store_error(n.OP_EXPORT, exc)

    # -- Phoenix annotations (called on the annotation thread; OTel instruments are thread-safe) -----

    def _on_annotations(self, count: int, ok: bool) -> None:
        ann = self.annotations
        if ok:
            if count:
                self._ann_delivered.add(count)
            self.stats["annotations_delivered"] += count
            if self._annotations_down and self.ctx is not None and ann is not None:
                self._annotations_down = False
                self.ctx.log.info(n.EVENT_ANNOTATIONS_RESUMED, **{n.ATTR_ENDPOINT: _shown(ann)})
            return
        reason = (ann.last_reason if ann is not None else None) or n.EXPORT_REJECTED
        self._ann_failures.add(1, {n.ATTR_REASON: reason})
        self.stats["annotation_failures"] += 1
        if not self._annotations_down and self.ctx is not None and ann is not None:
            self._annotations_down = True  # one warning per outage, not one per retry
            self.ctx.log.warning(n.EVENT_ANNOTATIONS_FAILED, **{
                n.ATTR_REASON: reason, n.ATTR_ENDPOINT: _shown(ann), n.ATTR_EXCEPTION_MESSAGE: ann.last_error or ""})

    def _on_annotations_skipped(self, reason: str, count: int) -> None:
        self._ann_skipped.add(count, {n.ATTR_REASON: reason})
        self.stats[f"annotations_skipped_{reason}"] += count

    def _on_annotation_pass(self, outcome: ExportPass) -> None:
        if outcome.pending is not None:
            self._ann_pending.set(outcome.pending)
            self.stats["annotations_pending"] = outcome.pending

    def _on_annotations_error(self, exc: BaseException) -> None:
        # Reading the store for a pass failed (locked, closed): counted, retried on the next kick.
        self._ann_failures.add(1, {n.ATTR_REASON: n.EXPORT_STORE})
        self.stats["annotation_failures"] += 1
        self._log_store_error(n.OP_ANNOTATIONS, exc)

    def _log_store_error(self, operation: str, exc: BaseException) -> None:
        if self.ctx is not None:
            self.ctx.log.warning(n.EVENT_STORE_ERROR, **{
                n.ATTR_OPERATION: operation, n.ATTR_EXCEPTION_TYPE: type(exc).__name__,
                n.ATTR_EXCEPTION_MESSAGE: describe_exception(exc)})


def make_plugin() -> FeedbackPlugin:
    """A fresh feedback plugin instance for the plugin manager (the ``feedback`` entry point)."""
    return FeedbackPlugin()


def _shown(export: FeedbackExport) -> str:
    sender = export.sender
    return sender.shown if isinstance(sender, PhoenixSender) else ""


def _attrs(key: Key) -> dict[str, str]:
    return {n.ATTR_MODEL: key[0], n.ATTR_VERSION: key[1]}


def prediction_rows(model: ModelInfo, records: RecordBatch, cfg: FeedbackConfig) -> tuple[list[PredictionRow], int]:
    """The rows of a captured batch as the store remembers them, and how many were malformed.

    A row whose output, item or position the store cannot hold (a position that is not
    an integer >= 0, say) is skipped and counted alone; the rest of the batch is kept.
    """
    count = len(records)
    outputs = records.outputs
    items = _column(records.columns, cfg.item_column, count)
    positions = _column(records.columns, cfg.position_column, count)
    traces = records.trace_ids if len(records.trace_ids) == count else (0,) * count
    spans = records.span_ids if len(records.span_ids) == count else (0,) * count
    ts = records.timestamps.tolist()
    ri = records.row_index.tolist()
    rows: list[PredictionRow] = []
    malformed = 0
    for i in range(count):
        try:
            output = None if outputs is None else _jsonable(outputs[i])
            rows.append(PredictionRow(
                records.prediction_ids[i], int(ri[i]), float(ts[i]), model.name, model.version, output,
                None if items[i] is None else str(items[i]),
                _position(positions[i]),
                f"{traces[i]:032x}" if traces[i] else None,
                f"{spans[i]:016x}" if spans[i] else None,
            ))
        except (TypeError, ValueError, OverflowError):
            malformed += 1
    return rows, malformed


def _position(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"position {value!r} is not an integer")
    pos = int(value)
    if not 0 <= pos <= _MAX_INT64:
        raise ValueError(f"position {value!r} is out of range")
    return pos


def _column(columns: Mapping[str, np.ndarray], name: str | None, count: int) -> list[Any]:
    if name is None or name not in columns:
        return [None] * count
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in columns[name].tolist()]


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-serialisable data (numpy to Python, non-finite floats to None, the rest repr'd)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > _MAX_DEPTH:
        return _repr(value)
    if isinstance(value, np.generic | np.ndarray):
        return _jsonable(value.tolist(), depth + 1)
    if isinstance(value, list | tuple):
        # The common ranked list or score vector is flat: copied without a call per element.
        return list(value) if _flat(value) else [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        if all(type(k) is str for k in value):
            return {k: v if _flat((v,)) else _jsonable(v, depth + 1) for k, v in value.items()}
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    return _repr(value)


_SCALARS = frozenset({str, int, bool, type(None)})


def _flat(values: Any) -> bool:
    """Whether every value is a plain JSON scalar (finite floats included)."""
    for v in values:
        t = type(v)
        if t is float:
            if not math.isfinite(v):
                return False
        elif t not in _SCALARS:
            return False
    return True


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # an application object whose __repr__ fails is still a row
        return f"<{type(value).__name__}>"
