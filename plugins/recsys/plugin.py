"""Live degenerate-feedback-loop detector for ranking and recommendation models.

Every captured output of a ``task = "ranking"`` or ``"recommendation"`` model is a
shown list: a sequence of item ids, or ``{"items": [...], "exploration": [...],
"pscore": [...]}`` as ``exploration.ExploredList.as_output`` returns. Slots are
exploration traffic when flagged so, exploitation otherwise. Clicks (feedback of the
``click_kinds``) are attributed to the slot by ``item_id`` or ``position``.

Per window (``window = {type, size, seconds}``: ``size`` lists, or ``seconds``; scored
``click_grace_s`` after it closes so that clicks following the last lists still count) and
per traffic class (``ml.recsys.traffic`` = ``all``, ``exploration``, ``exploitation``) the
plugin records coverage, exposure Gini over the whole catalog, ARP, long-tail share,
head-vs-tail CTR ratio and CTR by position. Popularity is the item's share of
interactions: from the reference data (``infersight_set_reference`` with an
``item_column``) when set, else from running click counts. Across windows, Gini rising
while coverage falls (``metrics.loop_trend``) publishes ``ml.recsys.feedback_loop`` = 1
and logs it (info).

Accounting: every captured row of a ranking model is a list received; it ends scored
(its window was scored) or dropped, counted by reason (see ``names``). A malformed row is
skipped alone, never its batch. Every click is attributed, late, or unmatched by reason.
Unexpected failures reach the host's guard (``ml.agent.plugin_errors``).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.plugin import FeedbackEvent, ModelInfo, PluginContext, RecordBatch, Signal, hookimpl
from plugins.recsys import metrics as rm
from plugins.recsys import names as n
from plugins.recsys.config import RecsysConfig, RecsysSettings, parse_config

RANKING_TASKS = frozenset({"ranking", "recommendation"})
TRAFFIC = (n.TRAFFIC_ALL, n.TRAFFIC_EXPLORATION, n.TRAFFIC_EXPLOITATION)
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
        self.closed_at = math.inf
        # one entry per slot: (list no, item, position, traffic)
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


class RecsysPlugin:
    """Tracks exposure per window for ranking models and flags degenerate feedback loops."""

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        self.settings = RecsysSettings()
        self.states: dict[Key, _ModelState] = {}
        self.reports: list[WindowReport] = []
        self.stats: Counter[str] = Counter()
        self._pending: list[tuple[float, FeedbackEvent]] = []
        self._signals: dict[str, list[Signal]] = defaultdict(list)
        self._gauges: dict[str, Any] = {}

    @property
    def cfg(self) -> RecsysConfig:
        """The ``[recsys]`` defaults (``settings.for_model(name)`` gives a model's own)."""
        return self.settings.defaults

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Read ``[recsys]`` and create the instruments."""
        self.ctx = agent
        self.settings = parse_config(agent.section("recsys"))
        m = agent.meter
        self._lists = m.create_counter(n.LISTS, "{list}", "Shown lists received (captured rows of ranking models)")
        self._lists_scored = m.create_counter(n.LISTS_SCORED, "{list}", "Shown lists in scored windows")
        self._lists_dropped = m.create_counter(n.LISTS_DROPPED, "{list}", "Shown lists not scored, by reason")
        self._clicks = m.create_counter(n.CLICKS, "{click}", "Click feedback received")
        self._attributed = m.create_counter(n.CLICKS_ATTRIBUTED, "{click}", "Clicks attributed to a shown slot")
        self._late = m.create_counter(n.LATE_CLICKS, "{click}", "Clicks after their window was scored")
        self._unmatched = m.create_counter(n.UNMATCHED_CLICKS, "{click}", "Clicks on no known impression, by reason")
        for name, desc in (
            (n.COVERAGE, "Share of the catalog shown in the window"),
            (n.GINI, "Gini index of exposure over the whole catalog"),
            (n.ARP, "Average recommendation popularity (share of interactions)"),
            (n.LONG_TAIL_SHARE, "Average share of long-tail items per list (APLT)"),
            (n.HEAD_TAIL_CTR_RATIO, "CTR on head items / CTR on tail items"),
            (n.CTR_BY_POSITION, "Click-through rate per list position"),
        ):
            self._gauges[name] = m.create_gauge(name, "1", desc)

    # -- hooks --------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Take item popularity from the training interactions (the ``item_column``)."""
        col = records.columns.get(self.settings.for_model(model.name).item_column)
        if col is not None and model.task in RANKING_TASKS:
            self._state(model.key).reference_popularity = Counter(
                str(v) for v in col.tolist() if v is not None and not (isinstance(v, float) and math.isnan(v)))

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Add the batch's shown lists to the current window; a malformed row is skipped alone, counted."""
        if model.task not in RANKING_TASKS or len(records) == 0:
            return
        if records.outputs is not None and not len(records.prediction_ids) == len(records.row_index) == len(
                records.outputs) == len(records):
            # A batch the core could not have built: refused whole, before any state changes (the host counts it).
            raise ValueError(f"RecordBatch of {model.name!r} with columns of different lengths")
        attrs = _attrs(model.key)
        self._lists.add(len(records), attrs)
        self.stats["lists"] += len(records)
        if records.outputs is None:
            self._drop_lists(attrs, n.LIST_NO_OUTPUT, len(records))
            return
        cfg = self.settings.for_model(model.name)
        st = self._state(model.key)
        now = self._now()
        dropped: Counter[str] = Counter()
        for pid, row, output in zip(records.prediction_ids, records.row_index.tolist(), records.outputs,
                                    strict=True):
            try:
                parsed = _parse_output(output)
            except (TypeError, ValueError, OverflowError):
                dropped[n.LIST_MALFORMED] += 1
                continue
            if parsed is None:
                dropped[n.LIST_NOT_A_LIST] += 1
                continue
            items, flags, pscores = parsed
            win = st.window
            if win.lists == 0:
                win.start = now
            for pos, (item, explore) in enumerate(zip(items, flags, strict=True)):
                win.slots.append((win.lists, item, pos, n.TRAFFIC_EXPLORATION if explore else n.TRAFFIC_EXPLOITATION))
                if explore:
                    self._ips_add(st, item, pscores[pos], clicked=False)
            st.seen_items.update(items)
            st.tracked[pid if row == 0 else f"{pid}#{row}"] = (win.index, win.lists, items, flags, pscores)
            while len(st.tracked) > self.cfg.max_tracked:
                st.tracked.popitem(last=False)
            win.lists += 1
            if cfg.window.type == "count" and win.lists >= cfg.window.size:
                self._close(model, st, cfg, now)
        for reason, count in dropped.items():
            self._drop_lists(attrs, reason, count)
        if self._pending:
            self._retry_pending(now)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Attribute clicks to shown slots (a click for a list not seen yet waits for it)."""
        now = self._now()
        clicks = 0
        for ev in events:
            if not isinstance(ev, FeedbackEvent):
                clicks += 1
                self._unmatch(n.CLICK_MALFORMED)
                continue
            if ev.kind not in self.cfg.click_kinds:
                continue
            clicks += 1
            if not self._attribute(ev):
                self._pending.append((now, ev))
        if clicks:
            self._clicks.add(clicks)
            self.stats["clicks"] += clicks
        self._bound_pending()

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close time windows, retry or expire pending clicks; return this model's signals."""
        self._retry_pending(now)
        cfg = self.settings.for_model(model.name)
        for key, st in list(self.states.items()):
            if key[0] != model.name:
                continue
            info = ModelInfo(key[0], key[1], task="ranking")
            if cfg.window.type == "time" and st.window.lists and now - st.window.start >= cfg.window.seconds:
                self._close(info, st, cfg, now)
            self._mature(info, st, cfg, now)
        return self._signals.pop(model.name, None) or None

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Score the windows that closed (no click can come any more); count what stays unscored."""
        now = agent.clock()
        self._retry_pending(now)
        for key, st in self.states.items():
            info = ModelInfo(key[0], key[1], task="ranking")
            cfg = self.settings.for_model(key[0])
            while st.maturing:
                self._finish(info, st, cfg, st.maturing.pop(0), now)
            if st.window.lists:
                self._drop_lists(_attrs(key), n.LIST_SHUTDOWN, st.window.lists)
                st.window = _Window(st.window.index + 1, now)
        for _ in self._pending:
            self._unmatch(n.CLICK_SHUTDOWN)
        self._pending.clear()

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

    def _drop_lists(self, attrs: Mapping[str, str], reason: str, count: int) -> None:
        self.stats[f"lists_dropped.{reason}"] += count
        self._lists_dropped.add(count, {**attrs, n.ATTR_REASON: reason})

    def _unmatch(self, reason: str, key: Key | None = None) -> None:
        self.stats["unmatched_clicks"] += 1
        self.stats[f"unmatched_clicks.{reason}"] += 1
        attrs = {n.ATTR_REASON: reason}
        if key is not None:
            attrs[n.ATTR_MODEL] = key[0]
            attrs[n.ATTR_VERSION] = key[1]
        self._unmatched.add(1, attrs)

    def _attribute(self, ev: FeedbackEvent) -> bool:
        """Count ``ev`` against the slot it clicked; False when its list has not been seen (yet)."""
        for key, st in self.states.items():
            entry = st.tracked.get(ev.prediction_id)
            if entry is None:
                continue
            win_index, list_no, items, flags, pscores = entry
            pos = ev.position
            if ev.item_id is not None and ev.item_id in items:
                pos = items.index(ev.item_id)
            if isinstance(pos, bool) or not isinstance(pos, int) or not 0 <= pos < len(items):
                self._unmatch(n.CLICK_ITEM_NOT_IN_LIST, key)
                return True
            item = items[pos]
            attributes = ev.attributes if isinstance(ev.attributes, Mapping) else {}
            explore = flags[pos] or attributes.get("exploration") is True
            st.click_popularity[item] += 1
            if explore:
                self._ips_add(st, item, pscores[pos] or _pscore(attributes.get("pscore", 1.0)), clicked=True)
            target = st.window if win_index == st.window.index else next(
                (w for w in st.maturing if w.index == win_index), None)
            if target is not None:
                target.clicks.append((list_no, item, pos, n.TRAFFIC_EXPLORATION if explore else n.TRAFFIC_EXPLOITATION))
                self.stats["clicks_attributed"] += 1
                self._attributed.add(1, _attrs(key))
            else:
                self.stats["late_clicks"] += 1
                self._late.add(1, _attrs(key))
            return True
        return False

    def _retry_pending(self, now: float) -> None:
        if not self._pending:
            return
        keep = []
        for t, ev in self._pending:
            if self._attribute(ev):
                continue
            if now - t > self.cfg.pending_timeout_s:
                self._unmatch(n.CLICK_NO_IMPRESSION)
            else:
                keep.append((t, ev))
        self._pending = keep
        self._bound_pending()

    def _bound_pending(self) -> None:
        excess = len(self._pending) - self.cfg.max_tracked
        if excess > 0:  # the oldest go first
            for _ in range(excess):
                self._unmatch(n.CLICK_OVERFLOW)
            del self._pending[:excess]

    def _ips_add(self, st: _ModelState, item: str, pscore: float, clicked: bool) -> None:
        if not 0 < pscore <= 1:
            return
        acc = st.ips.setdefault(item, [0.0, 0.0, 0.0, 0.0])
        if clicked:
            acc[1] += 1.0 / pscore
            acc[3] += 1
        else:
            acc[0] += 1.0 / pscore
            acc[2] += 1
            st.ips_slots += 1

    def _catalog_size(self, cfg: RecsysConfig, st: _ModelState) -> int:
        return cfg.catalog_size or max(1, len(st.seen_items))

    def _close(self, model: ModelInfo, st: _ModelState, cfg: RecsysConfig, now: float) -> None:
        # The window takes no more lists, but clicks on its lists keep counting for
        # ``click_grace_s`` (users click after the list was served); then it is scored.
        self._retry_pending(now)  # clicks that arrived before their list count too
        win = st.window
        st.window = _Window(win.index + 1, now)
        win.closed_at = now
        st.maturing.append(win)
        self._mature(model, st, cfg, now)

    def _mature(self, model: ModelInfo, st: _ModelState, cfg: RecsysConfig, now: float) -> None:
        while st.maturing and now - st.maturing[0].closed_at >= cfg.click_grace_s:
            self._finish(model, st, cfg, st.maturing.pop(0), now)

    def _finish(self, model: ModelInfo, st: _ModelState, cfg: RecsysConfig, win: _Window, now: float) -> None:
        if win.lists >= cfg.min_window_lists:
            self._score(model, st, cfg, win, now)
            self.stats["lists_scored"] += win.lists
            self._lists_scored.add(win.lists, _attrs(model.key))
        elif win.lists:
            self._drop_lists(_attrs(model.key), n.LIST_SMALL_WINDOW, win.lists)

    def _score(self, model: ModelInfo, st: _ModelState, cfg: RecsysConfig, win: _Window, now: float) -> None:
        popularity = st.reference_popularity or st.click_popularity
        total = float(sum(popularity.values())) or 1.0
        share = {i: c / total for i, c in popularity.items()}
        head = rm.head_items(popularity, cfg.head_share)
        catalog = self._catalog_size(cfg, st)
        per: dict[str, TrafficStats] = {}
        for traffic in TRAFFIC:
            slots = [s for s in win.slots if traffic in (n.TRAFFIC_ALL, s[3])]
            if not slots and traffic != n.TRAFFIC_ALL:
                continue
            clicks = [c for c in win.clicks if traffic in (n.TRAFFIC_ALL, c[3])]
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
        overall = per[n.TRAFFIC_ALL]
        st.history.append((overall.gini, overall.coverage))
        verdict = rm.loop_trend([h[0] for h in st.history], [h[1] for h in st.history],
                                windows=cfg.trend_windows, gini_rise=cfg.gini_rise,
                                coverage_drop=cfg.coverage_drop)
        report = WindowReport(model.name, model.version, win.index, per, verdict)
        self.reports.append(report)
        del self.reports[:-200]
        self._export(report, now)

    def _export(self, report: WindowReport, now: float) -> None:
        base = {n.ATTR_MODEL: report.model, n.ATTR_VERSION: report.version}
        for traffic, ts in report.traffic.items():
            attrs = {**base, n.ATTR_TRAFFIC: traffic}
            for name, value in ((n.COVERAGE, ts.coverage), (n.GINI, ts.gini), (n.ARP, ts.arp),
                                (n.LONG_TAIL_SHARE, ts.long_tail_share),
                                (n.HEAD_TAIL_CTR_RATIO, ts.head_tail_ctr_ratio)):
                if not math.isnan(value):
                    self._gauges[name].set(value, attrs)
            for pos, ctr in ts.ctr_by_position.items():
                self._gauges[n.CTR_BY_POSITION].set(ctr, {**attrs, n.ATTR_POSITION: pos})
        labels = {n.LABEL_MODEL: report.model, n.LABEL_VERSION: report.version}
        overall = report.traffic[n.TRAFFIC_ALL]
        v = report.verdict
        window = {"window": report.index}
        out = self._signals[report.model]
        if not math.isnan(overall.gini):
            out.append(Signal(n.SIGNAL_GINI, overall.gini, labels, window, now))
        if not math.isnan(overall.coverage):
            out.append(Signal(n.SIGNAL_COVERAGE, overall.coverage, labels, window, now))
        out.append(Signal(
            n.SIGNAL_FEEDBACK_LOOP, 1.0 if v.flagged else 0.0, labels,
            {**window, "gini_change": v.gini_change, "coverage_change": v.coverage_change,
             "windows": v.windows, "reason": v.reason}, now))
        if v.flagged and self.ctx is not None:
            self.ctx.log.info(n.EVENT_FEEDBACK_LOOP, **{
                **base, n.ATTR_WINDOW: report.index, n.ATTR_GINI_CHANGE: v.gini_change,
                n.ATTR_COVERAGE_CHANGE: v.coverage_change, n.ATTR_TREND_WINDOWS: v.windows})

    def _now(self) -> float:
        return self.ctx.clock() if self.ctx is not None else 0.0


def make_plugin() -> RecsysPlugin:
    """A fresh recsys plugin instance for the plugin manager (the ``recsys`` entry point)."""
    return RecsysPlugin()


def _attrs(key: Key) -> dict[str, str]:
    return {n.ATTR_MODEL: key[0], n.ATTR_VERSION: key[1]}


def _pscore(value: Any) -> float:
    """A logged propensity in (0, 1], else 0 (unusable: the slot is left out of the IPS sums)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    p = float(value)
    return p if 0.0 < p <= 1.0 else 0.0


def _parse_output(output: Any) -> tuple[list[str], list[bool], list[float]] | None:
    """(items, exploration flags, pscores) of one shown list; None when the output is no list."""
    flags: Any = None
    pscores: Any = None
    if isinstance(output, Mapping):
        flags, pscores = output.get("exploration"), output.get("pscore")
        output = output.get("items")
    if output is None or isinstance(output, str | bytes) or not hasattr(output, "__iter__"):
        return None
    items = [str(x) for x in output]
    count = len(items)
    if isinstance(flags, bool):
        flags = [flags] * count
    if not isinstance(flags, list | tuple) or len(flags) != count:
        flags = [False] * count
    if not isinstance(pscores, list | tuple) or len(pscores) != count:
        pscores = [0.0] * count
    return items, [bool(f) for f in flags], [_pscore(p) for p in pscores]
