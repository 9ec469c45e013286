"""Notification policy: alerts grouped per channel, with Alertmanager-style wait, interval and repeat.

De-duplication works as in Alertmanager's notification log: a group is notified when its
set of firing alerts differs from the set it last announced, at most once per
``group_interval``; an unchanged firing set is re-announced only after ``repeat_interval``.
A condition that flaps between two notifications therefore announces nothing new.
Channels of type ``alertmanager`` instead get every active alert on each evaluation, with
``endsAt`` ahead, as Prometheus does (Alertmanager de-duplicates them itself).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.plugin import Alert, AlertStatus, Channel, Notification
from plugins.alerts.annotations import no_data_annotations, threshold_annotations
from plugins.alerts.config import AlertsConfig
from plugins.alerts.rules import Rule

AlertKind = Literal["threshold", "no_data"]


@dataclass(slots=True)
class AlertInstance:
    """One alert (a rule on a label set) from the moment it fires until its resolution is announced."""

    kind: AlertKind
    rule: Rule
    labels: dict[str, str]
    fingerprint: str
    severity: str
    status: AlertStatus
    starts_at: float
    active_since: float
    value: float
    details: Mapping[str, Any] = field(default_factory=dict)
    ends_at: float | None = None
    last_seen: float = 0.0
    no_data_limit: float = 0.0
    groups: list[str] = field(default_factory=list)

    def to_alert(self, now: float, generator_url: str, ends_at: float | None = None) -> Alert:
        """Freeze into an ``Alert`` with annotations rendered as of ``now``."""
        if self.kind == "no_data":
            ref = self.ends_at if self.ends_at is not None else now
            annotations = no_data_annotations(self.rule, self.labels, self.last_seen, self.no_data_limit, ref)
            value, threshold = ref - self.last_seen, self.no_data_limit
        else:
            annotations = threshold_annotations(
                self.rule, self.labels, value=self.value, details=self.details,
                active_since=self.active_since, now=self.ends_at if self.ends_at is not None else now,
            )
            value, threshold = self.value, self.rule.threshold
        return Alert(
            rule=self.rule.name, status=self.status, labels=dict(self.labels), annotations=annotations,
            severity=self.severity, value=value if math.isfinite(value) else 0.0, threshold=threshold,
            starts_at=self.starts_at, ends_at=self.ends_at if ends_at is None else ends_at,
            fingerprint=self.fingerprint, generator_url=generator_url,
        )


@dataclass(slots=True)
class _Group:
    key: str
    channel: Channel
    labels: dict[str, str]
    created_at: float
    members: dict[str, AlertInstance] = field(default_factory=dict)
    last_sent_at: float | None = None
    last_firing: frozenset[str] = frozenset()
    next_check: float = math.inf


def group_key(receiver: str, labels: Mapping[str, str]) -> str:
    """Alertmanager-style group key: ``receiver:{a="x",b="y"}``."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{receiver}:{{{inner}}}"


class Grouper:
    """Holds alert groups per channel and decides, each evaluation, which notifications to send."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config
        self._groups: dict[str, _Group] = {}
        # Only groups that changed or have a timer due are visited each evaluation, so the cost
        # follows the number of changes, not the number of alerts held.
        self._dirty: set[str] = set()
        self._timers: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def _group_labels(self, channel: Channel, labels: Mapping[str, str]) -> dict[str, str]:
        if channel.type == "alertmanager" or "..." in self.config.group_by:
            return {} if channel.type == "alertmanager" else dict(labels)
        return {k: labels[k] for k in self.config.group_by if k in labels}

    def add(self, inst: AlertInstance, now: float) -> None:
        """Put a (newly firing or no-data) instance in its group on each of its rule's channels."""
        for name in inst.rule.channels:
            channel = self.config.channels[name]
            glabels = self._group_labels(channel, inst.labels)
            key = group_key(name, glabels)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(key, channel, glabels, now)
            group.members[inst.fingerprint] = inst
            if key not in inst.groups:
                inst.groups.append(key)
            self._dirty.add(key)

    def touch(self, inst: AlertInstance) -> None:
        """Note that ``inst`` changed status (resolved), so its groups are re-evaluated."""
        self._dirty.update(inst.groups)

    def _schedule(self, group: _Group, when: float) -> None:
        if when < group.next_check or group.next_check == math.inf:
            group.next_check = when
            heapq.heappush(self._timers, (when, next(self._seq), group.key))

    def active(self) -> int:
        """Number of groups currently held."""
        return len(self._groups)

    def notifications(self, now: float) -> list[Notification]:
        """Notifications due at ``now``; updates what each group last announced."""
        due, self._dirty = self._dirty, set()
        while self._timers and self._timers[0][0] <= now:
            _, _, key = heapq.heappop(self._timers)
            due.add(key)
        out: list[Notification] = []
        for key in sorted(due):
            group = self._groups.get(key)
            if group is None:
                continue
            group.next_check = math.inf
            am = group.channel.type == "alertmanager"
            note = self._am_due(group, now) if am else self._due(group, now)
            if note is not None:
                out.append(note)
            if not group.members and (
                am or group.last_sent_at is None or now >= group.last_sent_at + self.config.group_interval
            ):
                del self._groups[key]
            else:
                self._schedule(group, self._next_check(group, now))
        return out

    def _next_check(self, g: _Group, now: float) -> float:
        cfg = self.config
        if g.channel.type == "alertmanager":
            ends = [i.ends_at + cfg.resolved_resend_for for i in g.members.values() if i.ends_at is not None]
            resend = (g.last_sent_at if g.last_sent_at is not None else now) + cfg.resend_delay
            # resend_delay 0 means every evaluation: any later time is "the next one".
            return min([max(resend, math.nextafter(now, math.inf)), *ends])
        firing = frozenset(fp for fp, i in g.members.items() if i.status == "firing")
        if g.last_sent_at is None:
            return g.created_at + cfg.group_wait if firing else math.inf
        if firing != g.last_firing or not g.members:
            return g.last_sent_at + cfg.group_interval
        return g.last_sent_at + cfg.repeat_interval if firing else math.inf

    def _due(self, g: _Group, now: float) -> Notification | None:
        cfg = self.config
        firing = frozenset(fp for fp, i in g.members.items() if i.status == "firing")
        if g.last_sent_at is None:
            send = bool(firing) and now >= g.created_at + cfg.group_wait
        elif firing != g.last_firing:
            send = now >= g.last_sent_at + cfg.group_interval
        else:
            send = bool(firing) and now >= g.last_sent_at + cfg.repeat_interval
        note = None
        if send:
            resolved = [i for fp, i in g.members.items() if i.status == "resolved" and fp in g.last_firing]
            alerts = [i for i in g.members.values() if i.status == "firing"]
            if cfg.send_resolved:
                alerts += resolved
            if alerts:
                note = self._build(g, [i.to_alert(now, cfg.external_url) for i in alerts])
            g.last_sent_at, g.last_firing = now, firing
        # Resolved alerts leave once announced, or at once if they were never announced as firing.
        for fp in [fp for fp, i in g.members.items() if i.status == "resolved" and fp not in g.last_firing]:
            del g.members[fp]
        return note

    def _am_due(self, g: _Group, now: float) -> Notification | None:
        cfg = self.config
        expired = [fp for fp, i in g.members.items()
                   if i.ends_at is not None and now - i.ends_at >= cfg.resolved_resend_for]
        for fp in expired:
            del g.members[fp]
        if not g.members or (g.last_sent_at is not None and now < g.last_sent_at + cfg.resend_delay):
            return None
        ahead = now + 4 * max(cfg.resend_delay, cfg.evaluation_interval)
        alerts = [
            i.to_alert(now, cfg.external_url, ends_at=ahead if i.status == "firing" else None)
            for i in g.members.values()
        ]
        g.last_sent_at = now
        return self._build(g, alerts)

    @staticmethod
    def _build(g: _Group, alerts: list[Alert]) -> Notification:
        alerts.sort(key=lambda a: (a.status != "firing", a.starts_at, a.fingerprint))
        status: AlertStatus = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
        return Notification(
            group_key=g.key, group_labels=dict(g.labels), status=status, alerts=tuple(alerts),
            receiver=g.channel.name,
        )
