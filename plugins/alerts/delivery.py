"""Delivery: one lane (a FIFO queue and a thread) per channel, retries with backoff, failures counted.

Each attempt calls ``send``, the host's guarded ``PluginContext.notify``: every notifier
runs there under ``agent.notify_timeout``, and a notifier that raises or overruns comes
back as a ``DeliveryError``. Lanes keep channels apart: a receiver that is slow or a
notifier that blocks holds up its own channel only, never the others. Within a lane order
is kept: a notification waiting for a retry holds back the later ones of its channel, so
a "resolved" never overtakes its "firing".

A failed attempt is retried with exponential backoff up to ``retries`` times, then given up
and counted in ``ml.alerts.notification_failures``; when a retry could still help the row
stays in the outbox for the next start. Permanent failures (no notifier for the channel
type, HTTP 4xx, TLS) are given up at once. A full queue drops the new notification from
memory (counted; its outbox row stays). Firing alerts that carry an ``endsAt`` (the
Alertmanager channel) get it moved forward by the time the notification waited, so a
re-send after backoff or a restart never arrives already expired.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent.plugin import Channel, DeliveryError, Notification, describe_exception, redact_url
from plugins.alerts.names import (
    ATTR_ALERT_COUNT,
    ATTR_ATTEMPTS,
    ATTR_CHANNEL,
    ATTR_CHANNEL_TYPE,
    ATTR_ERROR,
    ATTR_GROUP_KEY,
    ATTR_KEPT_IN_OUTBOX,
    ATTR_QUEUE_SIZE,
    ATTR_REASON,
    ATTR_RETRY_DELAY,
    ATTR_STATUS,
    ATTR_URL,
    EVENT_DELIVERY_ERROR,
    EVENT_NOTIFICATION_FAILED,
    EVENT_NOTIFICATION_RETRY,
    EVENT_NOTIFICATION_SENT,
    EVENT_QUEUE_FULL,
    REASON_INTERNAL,
    REASON_NO_NOTIFIER,
    REASON_QUEUE_FULL,
    REASON_UNKNOWN_CHANNEL,
)
from plugins.alerts.outbox import Outbox
from plugins.alerts.redact import scrub

Send = Callable[[Notification, Channel], "bool | None"]


def classify(exc: BaseException) -> tuple[str, bool]:
    """(reason, retryable) of a failed attempt: a ``DeliveryError`` says so itself; anything else may pass."""
    if isinstance(exc, DeliveryError):
        reason = getattr(exc, "reason", None)
        return (reason if isinstance(reason, str) and reason else "error"), bool(getattr(exc, "retryable", True))
    return "error", True


def refreshed(notification: Notification, created: float, now: float) -> Notification:
    """``notification`` with each firing alert's ``ends_at`` moved forward by ``now - created``.

    Alertmanager resolves an alert at its ``endsAt``; a notification re-sent after a wait
    (backoff, an outage, a restart) keeps the lifetime it was given instead of arriving
    expired. Resolved alerts keep their ``ends_at``: they stay resolved.
    """
    shift = now - created
    if not shift > 0 or not any(a.status == "firing" and a.ends_at is not None for a in notification.alerts):
        return notification
    alerts = tuple(
        replace(a, ends_at=a.ends_at + shift) if a.status == "firing" and a.ends_at is not None else a
        for a in notification.alerts
    )
    return replace(notification, alerts=alerts)


@dataclass(slots=True)
class _Item:
    row_id: int | None  # None: only in memory (the outbox could not be written)
    channel: str
    notification: Notification
    created: float  # agent clock when first queued (for the endsAt refresh)
    attempts: int = 0
    due: float = 0.0  # monotonic time of the next attempt


@dataclass(slots=True)
class _Lane:
    items: deque[_Item]
    thread: threading.Thread | None = None
    busy: bool = False


class Delivery:
    """Owns one lane per channel, the bound on queued notifications, and the retry schedule."""

    def __init__(
        self,
        *,
        send: Send,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        log: Any,
        sent_counter: Any,
        failure_counter: Any,
        error_counter: Any,
        now: Callable[[], float],
        max_queue: int = 1000,
        retries: int = 3,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self._send = send
        self._outbox = outbox
        self._channels = channels
        self._log = log
        self._sent = sent_counter
        self._failed = failure_counter
        self._errors = error_counter
        self._now = now  # the agent's clock: endsAt and outbox times
        self.max_queue = max_queue
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._cond = threading.Condition()
        self._lanes: dict[str, _Lane] = {}
        self._queued = 0
        self._stopping = False
        self.dropped = 0

    # -- lifecycle --------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the attempts in flight; queued rows stay in the outbox for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads = [lane.thread for lane in self._lanes.values() if lane.thread is not None]
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def submit(self, row_id: int | None, channel: str, notification: Notification, created: float, *,
               supersede: bool = False) -> bool:
        """Queue a notification for ``channel``; False (counted, logged) when it cannot be queued.

        ``supersede`` drops queued notifications of the same group on that channel (an
        Alertmanager re-post replaces the older one, as its outbox row does).
        """
        ch = self._channels.get(channel)
        if ch is None:
            item = _Item(row_id, channel, notification, created)
            self._give_up(item, REASON_UNKNOWN_CHANNEL, "the channel is no longer configured", keep=False, target="")
            return False
        with self._cond:
            if self._stopping:
                return False
            lane = self._lanes.get(channel)
            if lane is None:
                lane = self._lanes[channel] = _Lane(deque())
            if supersede:
                keep_head = 1 if lane.busy else 0
                kept = [it for i, it in enumerate(lane.items)
                        if i < keep_head or it.notification.group_key != notification.group_key]
                self._queued -= len(lane.items) - len(kept)
                lane.items = deque(kept)
            if self._queued < self.max_queue:
                lane.items.append(_Item(row_id, channel, notification, created, due=time.monotonic()))
                self._queued += 1
                if lane.thread is None:
                    lane.thread = threading.Thread(target=self._run, args=(lane,), daemon=True,
                                                   name=f"infersight-alerts-{channel}")
                    lane.thread.start()
                self._cond.notify_all()
                return True
            self.dropped += 1
        self._failed.add(1, {ATTR_CHANNEL: channel, ATTR_REASON: REASON_QUEUE_FULL})
        self._log.warning(EVENT_QUEUE_FULL, **{ATTR_CHANNEL: channel, ATTR_QUEUE_SIZE: self.max_queue,
                                               ATTR_GROUP_KEY: notification.group_key})
        return False

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queued:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    return False
                self._cond.wait(left)
        return True

    @property
    def queued(self) -> int:
        """Notifications waiting (including those waiting for a retry and those in flight)."""
        with self._cond:
            return self._queued

    # -- lane threads ---------------------------------------------------------------------

    def _run(self, lane: _Lane) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if lane.items:
                        wait = lane.items[0].due - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                item = lane.items[0]
                lane.busy = True
            retry_in: float | None = None
            try:
                retry_in = self._attempt(item)
            except Exception as exc:  # the lane outlives anything SQLite or a bug does; counted, retried
                try:
                    retry_in = self._internal_error(item, exc)
                except Exception:
                    retry_in = None  # dropped from memory; an outbox row stays for the next start
            finally:
                with self._cond:
                    lane.busy = False
                    if retry_in is None:
                        if lane.items and lane.items[0] is item:
                            lane.items.popleft()
                            self._queued -= 1
                    else:
                        item.due = time.monotonic() + retry_in
                    self._cond.notify_all()

    def _attempt(self, item: _Item) -> float | None:
        """One delivery attempt; the delay before the next one, or None when the item is done."""
        if item.row_id is not None and not self._outbox.exists(item.row_id):
            return None  # superseded by a newer re-post of the same group
        channel = self._channels[item.channel]
        target = _target(channel)
        note = refreshed(item.notification, item.created, self._now())
        try:
            result = self._send(note, channel)
        except Exception as exc:
            return self._failed_attempt(item, channel, exc, target)
        if result is None:
            self._give_up(item, REASON_NO_NOTIFIER, f"no notifier plugin handles channel type {channel.type!r}",
                          keep=False, target=target)
            return None
        if item.row_id is not None:
            self._outbox.remove(item.row_id)
        self._sent.add(1, {ATTR_CHANNEL: channel.name, ATTR_STATUS: note.status})
        self._log.debug(EVENT_NOTIFICATION_SENT, **{
            ATTR_CHANNEL: channel.name, ATTR_CHANNEL_TYPE: channel.type, ATTR_URL: target,
            ATTR_GROUP_KEY: note.group_key, ATTR_STATUS: note.status, ATTR_ALERT_COUNT: len(note.alerts),
        })
        return None

    def _failed_attempt(self, item: _Item, channel: Channel, exc: Exception, target: str) -> float | None:
        reason, retryable = classify(exc)
        message = scrub(_message(exc), channel)[:300]
        if item.row_id is not None:
            self._outbox.record_failure(item.row_id, f"{reason}: {message}")
        item.attempts += 1
        if retryable and item.attempts <= self.retries:
            delay = self._delay(item.attempts)
            self._log.warning(EVENT_NOTIFICATION_RETRY, **{
                ATTR_CHANNEL: channel.name, ATTR_CHANNEL_TYPE: channel.type, ATTR_URL: target,
                ATTR_REASON: reason, ATTR_ERROR: message, ATTR_ATTEMPTS: item.attempts, ATTR_RETRY_DELAY: delay,
            })
            return delay
        self._give_up(item, reason, message, keep=retryable, target=target)
        return None

    def _internal_error(self, item: _Item, exc: Exception) -> float | None:
        """An unexpected failure on the lane (the outbox, a bug): counted, logged, retried by the same rule."""
        channel = self._channels.get(item.channel)
        text = describe_exception(exc)
        message = (scrub(text, channel) if channel is not None else text)[:300]
        self._errors.add(1, {ATTR_CHANNEL: item.channel})
        self._log.error(EVENT_DELIVERY_ERROR, **{ATTR_CHANNEL: item.channel, ATTR_ERROR: message})
        item.attempts += 1
        if item.attempts <= self.retries:
            return self._delay(item.attempts)
        # The row (if any) stays in the outbox: the next start tries again.
        self._failed.add(1, {ATTR_CHANNEL: item.channel, ATTR_REASON: REASON_INTERNAL})
        return None

    def _delay(self, attempts: int) -> float:
        return float(min(self.backoff_max, self.backoff * 2 ** (attempts - 1)))

    def _give_up(self, item: _Item, reason: str, message: str, *, keep: bool, target: str) -> None:
        self._failed.add(1, {ATTR_CHANNEL: item.channel, ATTR_REASON: reason})
        if not keep and item.row_id is not None:
            self._outbox.remove(item.row_id)
        self._log.error(EVENT_NOTIFICATION_FAILED, **{
            ATTR_CHANNEL: item.channel, ATTR_URL: target, ATTR_REASON: reason, ATTR_ERROR: message,
            ATTR_ATTEMPTS: item.attempts, ATTR_KEPT_IN_OUTBOX: keep, ATTR_GROUP_KEY: item.notification.group_key,
        })


def _message(exc: BaseException) -> str:
    """A notifier's ``DeliveryError`` message as it is, anything else as ``Type: text`` (even if ``__str__`` fails)."""
    text = describe_exception(exc)
    prefix = f"{type(exc).__name__}: "
    return text.removeprefix(prefix) if isinstance(exc, DeliveryError) else text


def _target(channel: Channel) -> str:
    url = channel.options.get("url")
    return redact_url(url) if isinstance(url, str) else ""
