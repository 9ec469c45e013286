"""The feedback plugin: durable feedback sink, prediction memory, joins, realized performance, export.

Join outcomes (each counted):
- feedback whose prediction is already stored: joined at once;
- feedback arriving before its prediction row (capture is asynchronous): pending,
  retried on every tick until ``pending_timeout_s``, then an orphan;
- feedback for an unknown or pruned prediction: an orphan after the same timeout
  (``ml.feedback.orphans``, reason ``timeout``; ``overflow`` when more than
  ``max_pending`` wait);
- the same ``event_id`` twice: the second is ignored by the store (``ml.feedback.duplicates``,
  what=event);
- a second label for the same prediction row: ``label_policy = "last"`` (default) treats it
  as a correction and scores it (replacing the first in the open window),
  ``"first"`` ignores it; counted either way (``ml.feedback.duplicates``, what=label).
A ranking window stops taking lists when full (or its time is up) and is scored
``click_grace_s`` later, so clicks that follow their list still count; clicks arriving
after that are counted in ``ml.feedback.late`` and not scored.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from agent.hookspecs import hookimpl
from plugins.feedback._config import FeedbackConfig, parse_config, validate_event
from plugins.feedback._windows import RANKING_TASKS, LabelWindow, RankWindow, ranked_items
from plugins.feedback.export import ExportThread, FeedbackExport
from plugins.feedback.performance import PerformanceResult, degraded_metrics
from plugins.feedback.store import JOIN_JOINED, JOIN_ORPHAN, FeedbackStore, PredictionRow, StoredFeedback

Key = tuple[str, str]


class FeedbackPlugin:
    """Logs feedback durably, joins it to predictions, scores realized performance, exports it."""

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        self.cfg = FeedbackConfig()
        self.store: FeedbackStore | None = None
        self.export: FeedbackExport | None = None
        self.export_thread: ExportThread | None = None
        self.stats: dict[str, int] = defaultdict(int)
        self._scan = 0
        self._pending: dict[int, StoredFeedback] = {}
        self._label_windows: dict[Key, LabelWindow] = {}
        self._rank_windows: dict[Key, RankWindow] = {}
        self._rank_maturing: dict[Key, list[RankWindow]] = {}
        self._baselines: dict[Key, dict[str, float]] = {}
        self._signals: dict[str, list[Signal]] = defaultdict(list)
        self._predicted: dict[Key, int] = defaultdict(int)
        self._labelled: dict[Key, int] = defaultdict(int)
        self._duplicates_seen = 0
        self._last_tick: float | None = None
        self._last_prune = -math.inf
        self.results: list[tuple[Key, PerformanceResult]] = []

    # -- lifecycle ---------------------------------------------------------------------

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Read ``[feedback]``, open the store, register the sink, start the exporter."""
        self.ctx = agent
        self.cfg = cfg = parse_config(agent.section("feedback"))
        self.store = FeedbackStore(agent.data_dir / cfg.db_file, synchronous=cfg.synchronous,
                                   commit_mode=cfg.commit, max_wait_s=cfg.commit_wait_ms / 1000.0, clock=agent.clock)
        m = agent.meter
        self._count = m.create_counter("ml.feedback.count", "{event}", "Feedback events logged, by kind")
        self._joined = m.create_counter("ml.feedback.joined", "{event}", "Feedback joined to its prediction")
        self._orphans = m.create_counter("ml.feedback.orphans", "{event}", "Feedback whose prediction never matched")
        self._dups = m.create_counter("ml.feedback.duplicates", "{event}", "Repeated feedback events or labels")
        self._late = m.create_counter("ml.feedback.late", "{event}", "Clicks after their ranking window closed")
        self._pending_g = m.create_gauge("ml.feedback.pending", "{event}", "Feedback waiting for its prediction")
        self._delay = m.create_histogram("ml.feedback.label_delay", "s", "Feedback time minus prediction time")
        self._ratio = m.create_gauge("ml.feedback.labelled_ratio", "1", "Share of predictions labelled so far")
        self._exported = m.create_counter("ml.feedback.exported", "{event}", "Feedback acknowledged by the exporter")
        self._export_fail = m.create_counter("ml.feedback.export_failures", "{batch}", "Failed export batches")
        self._errors = m.create_counter("ml.feedback.errors", "{error}", "Bad input skipped by the feedback plugin")
        self._gauges: dict[str, Any] = {}
        self._scan = self.store.mark("join")
        exporter = agent.new_log_exporter() if cfg.export else None
        if exporter is not None:
            self.export = FeedbackExport(
                self.store, exporter, resource=agent.resource, batch_size=cfg.export_batch,
                min_backoff_s=cfg.export_min_backoff_s, max_backoff_s=cfg.export_max_backoff_s,
                clock=agent.clock, on_result=self._on_export,
            )
            self.export_thread = ExportThread(self.export, on_error=lambda e: self._error("export", e))
            self.export_thread.kick()  # rows an earlier process left unexported
        agent.register_feedback_sink(self.log_event)

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Join what is pending, flush the export, close the store."""
        try:
            self.join_pass(agent.clock())
            self._flush_counts()
            if self.export_thread is not None:
                self.export_thread.flush(timeout=10.0)
                self.export_thread.stop()
        except Exception as exc:
            self._error("shutdown", exc)
        if self.store is not None:
            self.store.close()

    # -- the sink (caller's thread) --------------------------------------------------------

    def log_event(self, event: FeedbackEvent) -> FeedbackEvent:
        """Validate ``event`` and make it durable; raises ValueError naming a bad field."""
        if self.store is None:
            raise RuntimeError("the feedback plugin is not configured")
        # ml.feedback.count is added from the store's per-kind tally on the worker tick:
        # an OTel counter add here would cost as much as the validation.
        return self.store.append(validate_event(event, self.cfg.kinds))

    # -- worker hooks ------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Remember the batch's predictions for the join (and ranking impressions for CTR)."""
        if self.store is None or len(records) == 0:
            return
        try:
            rows = prediction_rows(model, records, self.cfg)
            self.store.add_predictions(rows)
            self._predicted[model.key] += len(rows)
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
        except Exception as exc:
            self._error("process_records", exc)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join new feedback (these events are already in the store)."""
        try:
            self.join_pass(self._now(), retry_all=False)
        except Exception as exc:
            self._error("process_feedback", exc)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Once per tick: join, close time windows, prune, checkpoint, kick export. Returns this model's signals."""
        try:
            if now != self._last_tick:
                self._last_tick = now
                self._tick(now)
        except Exception as exc:
            self._error("collect_signals", exc)
        return self._signals.pop(model.name, None) or None

    def _tick(self, now: float) -> None:
        assert self.store is not None
        self.join_pass(now)
        for key, win in list(self._label_windows.items()):
            if self.cfg.window_type == "time" and win.ready(now, self.cfg):
                self._close_labels(key, now)
        for key, rwin in list(self._rank_windows.items()):
            if self.cfg.window_type == "time" and rwin.ready(now, self.cfg):
                self._close_rank(key, now)
        self._mature_rank(now)
        if now - self._last_prune >= self.cfg.prune_interval_s:
            self._last_prune = now
            pruned = self.store.prune(now, max_age_s=self.cfg.prediction_max_age_s,
                                      max_rows=self.cfg.prediction_max_rows,
                                      feedback_max_age_s=self.cfg.feedback_max_age_s)
            self.stats["pruned_predictions"] += pruned.predictions_by_age + pruned.predictions_by_count
            self.store.checkpoint()
        self._flush_counts()
        if self.store.duplicates > self._duplicates_seen:
            self._dups.add(self.store.duplicates - self._duplicates_seen, {"what": "event"})
            self.stats["duplicate_events"] += self.store.duplicates - self._duplicates_seen
            self._duplicates_seen = self.store.duplicates
        for key, n in self._predicted.items():
            if n:
                self._ratio.set(self._labelled[key] / n, _attrs(key))
        if self.export_thread is not None:
            self.export_thread.kick()

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
        for reason, rows_ in (("timeout", expired), ("overflow", overflow)):
            live = [r for r in rows_ if r.seq in self._pending]
            if live:
                self.store.set_join_state([r.seq for r in live], JOIN_ORPHAN)
                for r in live:
                    del self._pending[r.seq]
                    self._orphans.add(1, {"ml.feedback.kind": r.event.kind, "reason": reason})
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
        self.stats["joined"] += 1
        self._joined.add(1, {"ml.feedback.kind": e.kind, **_attrs(key)})
        self._delay.record(max(0.0, e.timestamp - row.timestamp), {"ml.feedback.kind": e.kind, **_attrs(key)})
        task = self.ctx.model(row.model).task
        if e.kind == "label":
            use, dup = self.store.claim_label(row.prediction_id, row.row_index, e.event_id, self.cfg.label_policy)
            if dup:
                self.stats["duplicate_labels"] += 1
                self._dups.add(1, {"what": "label", **_attrs(key)})
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
        self.results.append((key, result))
        del self.results[:-100]
        labels = {"model": key[0], "version": key[1]}
        out = self._signals[key[0]]
        for name, value in result.metrics.items():
            if math.isnan(value):
                continue
            gauge = self._gauges.get(name)
            if gauge is None:
                assert self.ctx is not None
                gauge = self._gauges[name] = self.ctx.meter.create_gauge(
                    f"ml.performance.{name}", "1", f"Realized {name} per window")
            gauge.set(value, _attrs(key))
            out.append(Signal(f"ml.performance.{name}", value, labels, {"n": result.n}, now))
        baseline = self._baselines.get(key)
        if baseline is None:
            # Configured values win; other metrics take the first window as their baseline.
            baseline = dict(self.cfg.baseline)
            baseline.update({k: v for k, v in result.metrics.items() if k not in baseline})
            self._baselines[key] = baseline
        for name, drop in degraded_metrics(baseline, result.metrics, self.cfg.degradation_threshold).items():
            out.append(Signal(
                "ml.performance.degraded", drop, {**labels, "metric": name},
                {"baseline": baseline[name], "current": result.metrics[name], "n": result.n,
                 "threshold": self.cfg.degradation_threshold}, now))

    # -- helpers ---------------------------------------------------------------------

    def _flush_counts(self) -> None:
        if self.store is not None:
            for kind, n in self.store.take_kind_counts().items():
                self._count.add(n, {"ml.feedback.kind": kind})

    def _now(self) -> float:
        return self.ctx.clock() if self.ctx is not None else 0.0

    def _on_export(self, n: int, ok: bool) -> None:
        if ok:
            self._exported.add(n)
            self.stats["exported"] += n
        else:
            self._export_fail.add(1)
            self.stats["export_failures"] += 1

    def _error(self, where: str, exc: BaseException) -> None:
        self.stats[f"errors.{where}"] += 1
        try:
            self._errors.add(1, {"hook": where, "error.type": type(exc).__name__})
            if self.ctx is not None:
                self.ctx.log.warning("ml.feedback.error", hook=where, error=f"{type(exc).__name__}: {exc}")
        except Exception:  # never let error reporting raise into the worker
            pass


def _attrs(key: Key) -> dict[str, str]:
    return {"ml.model.name": key[0], "ml.model.version": key[1]}


def prediction_rows(model: ModelInfo, records: RecordBatch, cfg: FeedbackConfig) -> list[PredictionRow]:
    """The rows of a captured batch as the store remembers them (output, item, position, span)."""
    n = len(records)
    outputs: list[Any] = [None] * n
    if records.outputs is not None:
        outputs = [_jsonable(o) for o in records.outputs.tolist()] if records.outputs.dtype != object else [
            _jsonable(o) for o in records.outputs]
    items = _column(records.columns, cfg.item_column, n)
    positions = _column(records.columns, cfg.position_column, n)
    traces = records.trace_ids if len(records.trace_ids) == n else (0,) * n
    spans = records.span_ids if len(records.span_ids) == n else (0,) * n
    ts = records.timestamps.tolist()
    ri = records.row_index.tolist()
    return [
        PredictionRow(
            records.prediction_ids[i], int(ri[i]), float(ts[i]), model.name, model.version, outputs[i],
            None if items[i] is None else str(items[i]),
            None if positions[i] is None else int(positions[i]),
            f"{traces[i]:032x}" if traces[i] else None,
            f"{spans[i]:016x}" if spans[i] else None,
        )
        for i in range(n)
    ]


def _column(columns: Mapping[str, np.ndarray], name: str | None, n: int) -> list[Any]:
    if name is None or name not in columns:
        return [None] * n
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in columns[name].tolist()]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic | np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
