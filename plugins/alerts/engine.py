"""The alert engine: per rule and label set, Prometheus's inactive → pending → firing → resolved.

Signals are matched against rules indexed by signal name, so each signal costs one dict
lookup plus the rules written for its name. Every method takes ``now`` explicitly; the
engine never reads a clock and never does I/O (delivery is the caller's business).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent.plugin import Notification, Signal
from plugins.alerts.annotations import alert_labels, fingerprint
from plugins.alerts.config import AlertsConfig
from plugins.alerts.grouping import AlertInstance, Grouper
from plugins.alerts.names import REASON_MALFORMED, REASON_NOT_A_NUMBER, REASON_SERIES_LIMIT
from plugins.alerts.rules import OPERATORS, Matcher, Rule

RowState = Literal["pending", "firing", "resolved", "no_data"]

_INACTIVE, _PENDING, _FIRING = 0, 1, 2


class _Series:
    """State of one rule on one label set (mutable, engine-private; slots for the hot loop)."""

    __slots__ = (
        "active_since", "cmp", "count", "details", "fired", "keep_since", "last_seen", "no_data",
        "no_data_limit", "rule", "signal_labels", "state", "value",
    )

    def __init__(self, rule: Rule, signal_labels: Mapping[str, str], now: float, no_data_limit: float) -> None:
        self.rule = rule
        self.cmp = OPERATORS[rule.op]
        self.signal_labels = dict(signal_labels)
        self.state = _INACTIVE
        self.active_since = 0.0
        self.count = 0
        self.keep_since: float | None = None
        self.value = math.nan
        self.details: Mapping[str, Any] = {}
        self.last_seen = now
        self.fired: AlertInstance | None = None
        self.no_data: AlertInstance | None = None
        self.no_data_limit = no_data_limit


class _RuleSlot:
    """A rule with its series, indexed by label tuple as received and by sorted label tuple."""

    __slots__ = ("canonical", "cmp", "matchers", "rule", "series", "threshold")

    def __init__(self, rule: Rule, matchers: tuple[Matcher, ...]) -> None:
        self.rule = rule
        self.threshold = rule.threshold
        self.cmp = OPERATORS[rule.op]
        self.matchers = matchers  # those not already enforced by the signal index
        self.series: dict[tuple[tuple[str, str], ...], _Series] = {}
        self.canonical: dict[tuple[tuple[str, str], ...], _Series] = {}


class _SignalIndex:
    """The rules of one signal name, dispatched on the label most of them match by equality.

    With many rules per signal told apart by ``model="..."``, a signal is checked only
    against the rules for its own model (plus rules without that matcher).
    """

    __slots__ = ("by_value", "label", "rest")

    def __init__(self, rules: list[Rule]) -> None:
        votes: dict[str, int] = {}
        for rule in rules:
            for m in rule.matchers:
                if m.op == "=":
                    votes[m.label] = votes.get(m.label, 0) + 1
        self.label = max(votes, key=lambda k: votes[k]) if votes else None
        indexed: dict[str, list[_RuleSlot]] = {}
        self.rest: list[_RuleSlot] = []
        for rule in rules:
            key = next((m for m in rule.matchers if m.op == "=" and m.label == self.label), None)
            others = tuple(m for m in rule.matchers if m is not key)
            slot = _RuleSlot(rule, others)
            if key is None:
                self.rest.append(slot)
            else:
                indexed.setdefault(key.value, []).append(slot)
        # Each value's list also holds the unindexed rules, so the hot loop walks one list.
        self.by_value = {v: [*slots, *self.rest] for v, slots in indexed.items()}

    def slots(self) -> list[_RuleSlot]:
        """Every rule slot of this signal name, once."""
        seen = {id(s): s for slots in self.by_value.values() for s in slots}
        seen.update({id(s): s for s in self.rest})
        return list(seen.values())


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One line of current alert state (for ``infersight alerts`` and the state file)."""

    rule: str
    state: RowState
    severity: str
    labels: Mapping[str, str]
    value: float
    threshold: float
    op: str
    since: float
    fired_at: float | None
    resolved_at: float | None
    fingerprint: str
    summary: str


class AlertEngine:
    """Evaluates rules over signals and returns the notifications due; state lives in memory."""

    def __init__(self, config: AlertsConfig, max_series: int = 100_000) -> None:
        self.config = config
        self.max_series = max_series
        self.dropped_series = 0
        self.skipped: dict[str, int] = {}  # signals not evaluated, by reason (see REASON_*)
        grouped: dict[str, list[Rule]] = {}
        for rule in config.rules:
            grouped.setdefault(rule.signal, []).append(rule)
        self._by_signal = {name: _SignalIndex(rules) for name, rules in grouped.items()}
        self._slots = [slot for index in self._by_signal.values() for slot in index.slots()]
        self._n_series = 0
        self._grouper = Grouper(config)
        self._recent_resolved: list[AlertInstance] = []
        # (deadline, seq, series): one entry per series, re-armed lazily when it pops early.
        self._silence: list[tuple[float, int, _Series]] = []
        self._seq = itertools.count()

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, signals: Iterable[Signal], now: float) -> list[Notification]:
        """Apply one tick's signals at time ``now``; return the notifications due (possibly none)."""
        by_signal = self._by_signal
        for sig in signals:
            index = by_signal.get(sig.name)
            if index is None:
                continue
            value = sig.value
            if value.__class__ is not float:  # ints, bools and numpy scalars convert; text and None are no sample
                number = _as_number(value)
                if number is None:
                    self._skip(REASON_NOT_A_NUMBER)
                    continue
                value = number
            # NaN is not a sample: it neither breaches nor counts as data (inline test: hot loop).
            if value != value:  # noqa: PLR0124
                continue
            labels = sig.labels
            try:
                slots = index.rest if index.label is None else index.by_value.get(labels.get(index.label, ""),
                                                                                   index.rest)
                raw = None
                for slot in slots:
                    if slot.matchers and not _matches(slot.matchers, labels):
                        continue
                    if raw is None:
                        raw = tuple(labels.items())
                    s = slot.series.get(raw)
                    if s is None:
                        s = self._lookup(slot, labels, raw, now)
                        if s is None:
                            continue
                    s.value = value
                    s.details = sig.details
                    s.last_seen = now
                    if s.no_data is not None:
                        self._resolve(s.no_data, now)
                        s.no_data = None
                        self._arm(s, now + s.no_data_limit)
                    if slot.cmp(value, slot.threshold):
                        self._breach(s, now)
                    elif s.state:
                        self._clear(s, now)
            except (AttributeError, TypeError):
                if _well_formed(labels):
                    raise  # the engine's own bug: the host counts it
                self._skip(REASON_MALFORMED)  # labels not a mapping of strings: that signal alone is skipped
        self._check_no_data(now)
        self._prune_resolved(now)
        return self._grouper.notifications(now)

    def _lookup(self, slot: _RuleSlot, labels: Mapping[str, str], raw: tuple[tuple[str, str], ...],
                now: float) -> _Series | None:
        # Signals usually repeat their labels in one order; the canonical (sorted) key catches the rest.
        canonical = tuple(sorted(raw))
        s = slot.canonical.get(canonical)
        if s is None:
            if self._n_series >= self.max_series:
                self.dropped_series += 1
                self._skip(REASON_SERIES_LIMIT)
                return None
            s = slot.canonical[canonical] = self._new_series(slot.rule, labels, now)
            self._n_series += 1
        if len(slot.series) < 4 * self.max_series:
            slot.series[raw] = s
        return s

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def take_skipped(self) -> dict[str, int]:
        """Signals skipped since the last call, by reason (the plugin counts them in a metric)."""
        out, self.skipped = self.skipped, {}
        return out

    def _new_series(self, rule: Rule, labels: Mapping[str, str], now: float) -> _Series:
        limit = rule.no_data_after if rule.no_data_after is not None else self.config.no_data_after
        s = _Series(rule, labels, now, limit)
        self._arm(s, now + limit)
        return s

    def _arm(self, s: _Series, deadline: float) -> None:
        if s.no_data_limit > 0:
            heapq.heappush(self._silence, (deadline, next(self._seq), s))

    def _breach(self, s: _Series, now: float) -> None:
        s.keep_since = None
        if s.state == _FIRING:
            assert s.fired is not None
            s.fired.value, s.fired.details = s.value, s.details
            return
        if s.state == _INACTIVE:
            s.state, s.active_since, s.count = _PENDING, now, 1
        else:
            s.count += 1
        rule = s.rule
        if now - s.active_since >= rule.for_seconds and s.count >= rule.for_windows:
            s.state = _FIRING
            labels = alert_labels(rule, s.signal_labels)
            inst = AlertInstance(
                kind="threshold", rule=rule, labels=labels, fingerprint=fingerprint(labels),
                severity=rule.severity, status="firing", starts_at=now, active_since=s.active_since,
                value=s.value, details=s.details, last_seen=now,
            )
            s.fired = inst
            self._grouper.add(inst, now)

    def _clear(self, s: _Series, now: float) -> None:
        if s.state == _PENDING:
            s.state, s.count = _INACTIVE, 0
            return
        keep = s.rule.keep_firing_for
        if keep > 0:
            if s.keep_since is None:
                s.keep_since = now
            if now - s.keep_since < keep:
                return
        s.state, s.count, s.keep_since = _INACTIVE, 0, None
        if s.fired is not None:
            s.fired.value, s.fired.details = s.value, s.details
            self._resolve(s.fired, now)
            s.fired = None

    def _resolve(self, inst: AlertInstance, now: float) -> None:
        inst.status, inst.ends_at = "resolved", now
        self._recent_resolved.append(inst)
        self._grouper.touch(inst)

    def _check_no_data(self, now: float) -> None:
        silence = self._silence
        while silence and silence[0][0] <= now:
            _, _, s = heapq.heappop(silence)
            if s.no_data is not None:
                continue  # re-armed when the signal returns
            deadline = s.last_seen + s.no_data_limit
            if deadline > now:
                self._arm(s, deadline)  # data arrived since this entry was pushed
                continue
            labels = alert_labels(s.rule, s.signal_labels, no_data=True,
                                  no_data_severity=self.config.no_data_severity)
            inst = AlertInstance(
                kind="no_data", rule=s.rule, labels=labels, fingerprint=fingerprint(labels),
                severity=self.config.no_data_severity, status="firing", starts_at=now,
                active_since=s.last_seen, value=math.nan, last_seen=s.last_seen, no_data_limit=s.no_data_limit,
            )
            s.no_data = inst
            self._grouper.add(inst, now)

    def _prune_resolved(self, now: float) -> None:
        keep = max(self.config.resolved_resend_for, self.config.group_interval)
        if self._recent_resolved and now - (self._recent_resolved[0].ends_at or now) >= keep:
            self._recent_resolved = [
                i for i in self._recent_resolved if i.ends_at is not None and now - i.ends_at < keep
            ]

    # -- views ----------------------------------------------------------------------

    def snapshot(self, now: float) -> list[AlertRow]:
        """Pending, firing, no-data and recently resolved alerts, most severe state first: one row per label set.

        A label set that fired and resolved more than once within the resolved period is listed
        once, with its latest episode, and not at all while it is pending or firing again.
        """
        rows: list[AlertRow] = []
        for s in self._all_series():
            if s.state == _PENDING:
                labels = alert_labels(s.rule, s.signal_labels)
                rows.append(AlertRow(
                    rule=s.rule.name, state="pending", severity=s.rule.severity, labels=labels, value=s.value,
                    threshold=s.rule.threshold, op=s.rule.op, since=s.active_since, fired_at=None,
                    resolved_at=None, fingerprint=fingerprint(labels), summary="",
                ))
            elif s.fired is not None:
                rows.append(_row(s.fired, "firing", now))
            if s.no_data is not None:
                rows.append(_row(s.no_data, "no_data", now))
        active = {r.fingerprint for r in rows}
        latest = {inst.fingerprint: inst for inst in self._recent_resolved}  # resolution order: the last wins
        rows.extend(_row(inst, "resolved", now) for fp, inst in latest.items() if fp not in active)
        order = {"firing": 0, "no_data": 1, "pending": 2, "resolved": 3}
        rows.sort(key=lambda r: (order[r.state], r.rule, r.fingerprint))
        return rows

    def firing_counts(self) -> dict[tuple[str, str], int]:
        """Firing alerts (no-data included) by (rule, severity); every rule present, zero when quiet."""
        counts = {(r.name, r.severity): 0 for r in self.config.rules}
        for s in self._all_series():
            if s.fired is not None:
                key = (s.rule.name, s.rule.severity)
                counts[key] = counts.get(key, 0) + 1
            if s.no_data is not None:
                key = (s.rule.name, s.no_data.severity)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def _all_series(self) -> Iterator[_Series]:
        for slot in self._slots:
            yield from slot.canonical.values()

    @property
    def series_count(self) -> int:
        """Number of (rule, label set) series tracked."""
        return self._n_series


def _row(inst: AlertInstance, state: RowState, now: float) -> AlertRow:
    alert = inst.to_alert(now, "")
    return AlertRow(
        rule=inst.rule.name, state=state, severity=inst.severity, labels=dict(inst.labels), value=alert.value,
        threshold=alert.threshold, op=">=" if inst.kind == "no_data" else inst.rule.op,
        since=inst.active_since,
        fired_at=inst.starts_at, resolved_at=inst.ends_at, fingerprint=inst.fingerprint,
        summary=alert.annotations.get("summary", ""),
    )


def _as_number(value: object) -> float | None:
    """A real number as float (bools count as 0/1), or None for text, None and other objects."""
    if isinstance(value, str | bytes):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def _well_formed(labels: object) -> bool:
    return isinstance(labels, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())


def _matches(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    # A plain loop: all() over a generator costs twice as much in the per-signal path.
    for m in matchers:  # noqa: SIM110
        if not m.matches(labels):
            return False
    return True
