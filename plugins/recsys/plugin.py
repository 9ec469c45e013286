"""Live degenerate-feedback-loop detector for ranking and recommendation models.

Every captured output of a ``task = "ranking"`` or ``"recommendation"`` model is a
shown list: a sequence of item ids, or ``{"items": [...], "exploration": [...],
"pscore": [...]}`` as ``exploration.ExploredList.as_output`` returns. Slots are
exploration traffic when flagged so, exploitation otherwise. Clicks (feedback of the
``click_kinds``) are attributed to the slot by ``item_id`` or ``position``.

Per window (``window_size`` lists, or ``window_seconds``; scored ``click_grace_s``
after it closes so that clicks following the last lists still count) and per traffic class
(``ml.traffic`` = ``all``, ``exploration``, ``exploitation``) the plugin records
coverage, exposure Gini over the whole catalog, ARP, long-tail share, head-vs-tail
CTR ratio and CTR by position. Popularity is the item's share of interactions: from
the reference data (``infersight_set_reference`` with an ``item_column``) when set,
else from running click counts. Across windows, Gini rising while coverage falls
(``metrics.loop_trend``) publishes ``ml.recsys.feedback_loop`` = 1.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from agent.hookspecs import hookimpl
from plugins.recsys import metrics as rm
from plugins.recsys._config import RecsysConfig, parse_config

RANKING_TASKS = frozenset({"ranking", "recommendation"})
TRAFFIC = ("all", "exploration", "exploitation")
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TrafficStats:
    """Exposure and click statistics of one traffic class in one window."""

    lists: int
    impressions: int
    clicks: int
    coverage: float
    gini: float
    arp: float
    long_tail_share: float
    head_tail_ctr_ratio: float
    ctr_by_position: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowReport:
    """One closed window of one model version: stats per traffic class and the loop verdict."""

    model: str
    version: str
    index: int
    traffic: Mapping[str, TrafficStats]
    verdict: rm.LoopVerdict


class _Window:
    def __init__(self, index: int, start: float) -> None:
        self.index = index
        self.start = start
        # one entry per slot: (list no, item, position, traffic)
        self.closed_at = math.inf
        self.slots: list[tuple[int, str, int, str]] = []
        self.clicks: list[tuple[int, str, int, str]] = []
        self.lists = 0


class _ModelState:
    def __init__(self) -> None:
        self.window = _Window(0, 0.0)
        self.maturing: list[_Window] = []
        self.tracked: OrderedDict[str, tuple[int, int, list[str], list[bool], list[float]]] = OrderedDict()
        self.history: deque[tuple[float, float]] = deque(maxlen=64)
        self.reference_popularity: Counter[str] | None = None
        self.click_popularity: Counter[str] = Counter()
        self.seen_items: set[str] = set()
        self.ips: dict[str, list[float]] = {}
        self.ips_slots = 0
        self.pending: list[tuple[float, FeedbackEvent]] = []


class RecsysPlugin:
    """Tracks exposure per window for ranking models and flags degenerate feedback loops."""

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        self.cfg = RecsysConfig()
        self.states: dict[Key, _ModelState] = {}
        self.reports: list[WindowReport] = []
        self.stats: Counter[str] = Counter()
        self._signals: dict[str, list[Signal]] = defaultdict(list)
        self._gauges: dict[str, Any] = {}

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Read ``[recsys]`` and create the instruments."""
        self.ctx = agent
        self.cfg = parse_config(agent.section("recsys"))
        m = agent.meter
        self._late = m.create_counter("ml.recsys.late_clicks", "{click}", "Clicks after their window closed")
        self._unmatched = m.create_counter("ml.recsys.unmatched_clicks", "{click}", "Clicks on no known impression")
        self._errors = m.create_counter("ml.recsys.errors", "{error}", "Bad input skipped by the recsys plugin")
        for name, unit, desc in (
            ("coverage", "1", "Share of the catalog shown in the window"),
            ("gini", "1", "Gini index of exposure over the whole catalog"),
            ("arp", "1", "Average recommendation popularity (share of interactions)"),
            ("long_tail_share", "1", "Average share of long-tail items per list (APLT)"),
            ("head_tail_ctr_ratio", "1", "CTR on head items / CTR on tail items"),
            ("ctr_by_position", "1", "Click-through rate per list position"),
        ):
            self._gauges[name] = m.create_gauge(f"ml.recsys.{name}", unit, desc)

    # -- hooks --------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Take item popularity from the training interactions (the ``item_column``)."""
        try:
            col = records.columns.get(self.cfg.item_column)
            if col is not None and model.task in RANKING_TASKS:
                self._state(model.key).reference_popularity = Counter(str(v) for v in col.tolist() if v is not None)
        except Exception as exc:
            self._error("set_reference", exc)

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add the batch's shown lists to the current window."""
        if model.task not in RANKING_TASKS or records.outputs is None:
            return
        try:
            st = self._state(model.key)
            now = self._now()
            for pid, row, output in zip(records.prediction_ids, records.row_index.tolist(), records.outputs,
                                        strict=True):
                parsed = _parse_output(output)
                if parsed is None:
                    self.stats["unparsed_outputs"] += 1
                    continue
                items, flags, pscores = parsed
                win = st.window
                if win.lists == 0:
                    win.start = now
                for pos, (item, explore) in enumerate(zip(items, flags, strict=True)):
                    win.slots.append((win.lists, item, pos, "exploration" if explore else "exploitation"))
                    if explore:
                        self._ips_add(st, item, pscores[pos], clicked=False)
                st.seen_items.update(items)
                st.tracked[pid if row == 0 else f"{pid}#{row}"] = (win.index, win.lists, items, flags, pscores)
                while len(st.tracked) > self.cfg.max_tracked:
                    st.tracked.popitem(last=False)
                win.lists += 1
                if self.cfg.window_type == "count" and win.lists >= self.cfg.window_size:
                    self._close(model, st, now)
            if any(st.pending for st in self.states.values()):
                self._retry_pending(now)
        except Exception as exc:
            self._error("process_records", exc)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Attribute clicks to shown slots (feedback for unseen lists waits for them)."""
        try:
            now = self._now()
            for ev in events:
                wanted = isinstance(ev, FeedbackEvent) and ev.kind in self.cfg.click_kinds
                if wanted and not self._attribute(ev):
                    self._pending_for(ev).append((now, ev))
        except Exception as exc:
            self._error("process_feedback", exc)

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close time windows, retry or expire pending clicks; return this model's signals."""
        try:
            self._retry_pending(now)
            for key, st in list(self.states.items()):
                if key[0] != model.name:
                    continue
                info = ModelInfo(key[0], key[1], task="ranking")
                if (self.cfg.window_type == "time" and st.window.lists
                        and now - st.window.start >= self.cfg.window_seconds):
                    self._close(info, st, now)
                self._mature(info, st, now)
        except Exception as exc:
            self._error("collect_signals", exc)
        return self._signals.pop(model.name, None) or None

    # -- public helpers ------------------------------------------------------------------

    def item_quality(self, model: str, version: str = "") -> dict[str, rm.ItemQuality]:
        """Self-normalised IPS estimate of each item's click rate from exploration traffic so far."""
        st = self.states.get((model, version))
        if st is None:
            return {}
        return {str(k): v for k, v in rm.ips_from_sums(st.ips, st.ips_slots).items()}

    # -- internals ---------------------------------------------------------------------

    def _state(self, key: Key) -> _ModelState:
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = _ModelState()
        return st

    def _pending_for(self, ev: FeedbackEvent) -> list[tuple[float, FeedbackEvent]]:
        # The model of a click may be unknown (None) before the join: park it on a shared list.
        return self._state(("", "")).pending

    def _attribute(self, ev: FeedbackEvent) -> bool:
        for key, st in self.states.items():
            entry = st.tracked.get(ev.prediction_id)
            if entry is None:
                continue
            win_index, list_no, items, flags, pscores = entry
            pos = ev.position
            if ev.item_id is not None and ev.item_id in items:
                pos = items.index(ev.item_id)
            if pos is None or not 0 <= pos < len(items):
                self.stats["unmatched_clicks"] += 1
                self._unmatched.add(1, {"ml.model.name": key[0], "reason": "item not in list"})
                return True
            item = items[pos]
            explore = flags[pos] or bool(ev.attributes.get("exploration", False))
            st.click_popularity[item] += 1
            if explore:
                self._ips_add(st, item, pscores[pos] if pscores[pos] else ev.attributes.get("pscore", 1.0), True)
            target = st.window if win_index == st.window.index else next(
                (w for w in st.maturing if w.index == win_index), None)
            if target is not None:
                target.clicks.append((list_no, item, pos, "exploration" if explore else "exploitation"))
            else:
                self.stats["late_clicks"] += 1
                self._late.add(1, {"ml.model.name": key[0], "ml.model.version": key[1]})
            return True
        return False

    def _retry_pending(self, now: float) -> None:
        pend = self._state(("", "")).pending
        if not pend:
            return
        keep = []
        for t, ev in pend:
            if self._attribute(ev):
                continue
            if now - t > self.cfg.pending_timeout_s:
                self.stats["unmatched_clicks"] += 1
                self._unmatched.add(1, {"reason": "no impression"})
            else:
                keep.append((t, ev))
        pend[:] = keep[-self.cfg.max_tracked:]

    def _ips_add(self, st: _ModelState, item: str, pscore: float, clicked: bool) -> None:
        if not pscore or pscore <= 0:
            return
        acc = st.ips.setdefault(item, [0.0, 0.0, 0.0, 0.0])
        if clicked:
            acc[1] += 1.0 / pscore
            acc[3] += 1
        else:
            acc[0] += 1.0 / pscore
            acc[2] += 1
            st.ips_slots += 1

    def _catalog_size(self, model: str, st: _ModelState) -> int:
        cs = self.cfg.catalog_size
        if isinstance(cs, Mapping):
            cs = cs.get(model)
        return int(cs) if cs else max(1, len(st.seen_items))

    def _close(self, model: ModelInfo, st: _ModelState, now: float) -> None:
        # The window takes no more lists, but clicks on its lists keep counting for
        # ``click_grace_s`` (users click after the list was served); then it is scored.
        self._retry_pending(now)  # clicks that arrived before their list count too
        win = st.window
        st.window = _Window(win.index + 1, now)
        win.closed_at = now
        st.maturing.append(win)
        self._mature(model, st, now)

    def _mature(self, model: ModelInfo, st: _ModelState, now: float) -> None:
        while st.maturing and now - st.maturing[0].closed_at >= self.cfg.click_grace_s:
            win = st.maturing.pop(0)
            if win.lists >= self.cfg.min_window_lists:
                self._score(model, st, win, now)

    def _score(self, model: ModelInfo, st: _ModelState, win: _Window, now: float) -> None:
        popularity = st.reference_popularity or st.click_popularity
        total = float(sum(popularity.values())) or 1.0
        share = {i: c / total for i, c in popularity.items()}
        head = rm.head_items(popularity, self.cfg.head_share)
        catalog = self._catalog_size(model.name, st)
        per: dict[str, TrafficStats] = {}
        for traffic in TRAFFIC:
            slots = [s for s in win.slots if traffic in ("all", s[3])]
            if not slots:
                continue
            clicks = [c for c in win.clicks if traffic in ("all", c[3])]
            lists: dict[int, list[str]] = defaultdict(list)
            for list_no, item, _, _ in slots:
                lists[list_no].append(item)
            exposure = Counter(s[1] for s in slots)
            ht = rm.head_tail_ctr([s[1] for s in slots], [c[1] for c in clicks], head)
            per[traffic] = TrafficStats(
                lists=len(lists), impressions=len(slots), clicks=len(clicks),
                coverage=rm.coverage(exposure, catalog), gini=rm.gini(exposure, catalog),
                arp=rm.arp(list(lists.values()), share) if popularity else math.nan,
                long_tail_share=rm.aplt(list(lists.values()), head) if popularity else math.nan,
                head_tail_ctr_ratio=ht.ratio,
                ctr_by_position=rm.ctr_by_position([s[2] for s in slots], [c[2] for c in clicks]),
            )
        overall = per["all"]
        st.history.append((overall.gini, overall.coverage))
        verdict = rm.loop_trend([h[0] for h in st.history], [h[1] for h in st.history],
                                windows=self.cfg.trend_windows, gini_rise=self.cfg.gini_rise,
                                coverage_drop=self.cfg.coverage_drop)
        report = WindowReport(model.name, model.version, win.index, per, verdict)
        self.reports.append(report)
        del self.reports[:-200]
        self._export(report, now)

    def _export(self, report: WindowReport, now: float) -> None:
        base = {"ml.model.name": report.model, "ml.model.version": report.version}
        for traffic, ts in report.traffic.items():
            attrs = {**base, "ml.traffic": traffic}
            for name in ("coverage", "gini", "arp", "long_tail_share", "head_tail_ctr_ratio"):
                value = getattr(ts, name)
                if not math.isnan(value):
                    self._gauges[name].set(value, attrs)
            for pos, ctr in ts.ctr_by_position.items():
                self._gauges["ctr_by_position"].set(ctr, {**attrs, "position": pos})
        labels = {"model": report.model, "version": report.version}
        overall = report.traffic["all"]
        v = report.verdict
        out = self._signals[report.model]
        out.append(Signal("ml.recsys.gini", overall.gini, labels, {"window": report.index}, now))
        out.append(Signal("ml.recsys.coverage", overall.coverage, labels, {"window": report.index}, now))
        out.append(Signal(
            "ml.recsys.feedback_loop", 1.0 if v.flagged else 0.0, labels,
            {"window": report.index, "gini_change": v.gini_change, "coverage_change": v.coverage_change,
             "windows": v.windows, "reason": v.reason}, now))

    def _now(self) -> float:
        return self.ctx.clock() if self.ctx is not None else 0.0

    def _error(self, where: str, exc: BaseException) -> None:
        self.stats[f"errors.{where}"] += 1
        try:
            self._errors.add(1, {"hook": where, "error.type": type(exc).__name__})
            if self.ctx is not None:
                self.ctx.log.warning("ml.recsys.error", hook=where, error=f"{type(exc).__name__}: {exc}")
        except Exception:  # error reporting must not raise into the worker
            pass


def _parse_output(output: Any) -> tuple[list[str], list[bool], list[float]] | None:
    flags: Any = None
    pscores: Any = None
    if isinstance(output, Mapping):
        flags, pscores = output.get("exploration"), output.get("pscore")
        output = output.get("items")
    if output is None or isinstance(output, str | bytes) or not hasattr(output, "__iter__"):
        return None
    items = [str(x) for x in output]
    n = len(items)
    if isinstance(flags, bool):
        flags = [flags] * n
    if not isinstance(flags, list | tuple) or len(flags) != n:
        flags = [False] * n
    if not isinstance(pscores, list | tuple) or len(pscores) != n:
        pscores = [0.0] * n
    return items, [bool(f) for f in flags], [float(p) if isinstance(p, int | float) else 0.0 for p in pscores]
