"""Delivery thread: takes notifications off the worker, retries with backoff, counts what fails.

The queue is bounded (a full queue drops the new notification from memory and counts it;
its outbox row stays for the next start). Each attempt calls the notifier hook through the
``send`` callable; a raise is a failed attempt, retried with exponential backoff up to
``retries`` times, then counted in ``ml.alerts.notification_failures``. Permanent failures
(no notifier for the channel type, HTTP 4xx) are counted and dropped at once.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import ssl
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent._types import Channel, Notification
from plugins.alerts.outbox import Outbox
from plugins.alerts.redact import redact_url, scrub

Send = Callable[[Notification, Channel], "bool | None"]


class DeliveryError(Exception):
    """A failed delivery attempt with a short machine-readable reason; messages carry no secrets."""

    def __init__(self, reason: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable


def classify(exc: BaseException) -> tuple[str, bool]:
    """(reason, retryable) for an exception raised by a notifier."""
    if isinstance(exc, DeliveryError):
        return exc.reason, exc.retryable
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        return f"http_{code}", code >= 500 or code in (408, 429)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", True
    if isinstance(exc, urllib.error.URLError):
        return ("timeout", True) if isinstance(exc.reason, TimeoutError) else ("connection", True)
    if isinstance(exc, ssl.SSLError):
        return "tls", False
    if isinstance(exc, ConnectionError | OSError):
        return "connection", True
    return "error", True


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    row_id: int = field(compare=False)
    channel: str = field(compare=False)
    notification: Notification = field(compare=False)
    attempts: int = field(compare=False, default=0)


class Delivery:
    """Owns the delivery thread, its bounded queue and the retry schedule."""

    def __init__(
        self,
        *,
        send: Send,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        log: Any,
        sent_counter: Any,
        failure_counter: Any,
        max_queue: int = 1000,
        retries: int = 3,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._outbox = outbox
        self._channels = channels
        self._log = log
        self._sent = sent_counter
        self._failed = failure_counter
        self.max_queue = max_queue
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._clock = clock
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._inflight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread (daemon: it never holds the process open)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="infersight-alerts-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the attempt in flight; queued rows stay in the outbox for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, row_id: int, channel: str, notification: Notification, attempts: int = 0) -> bool:
        """Queue a persisted notification; False (counted, logged) when the queue is full."""
        with self._cond:
            if len(self._heap) + self._inflight < self.max_queue:
                heapq.heappush(self._heap, _Item(self._clock(), next(self._seq), row_id, channel,
                                                 notification, attempts))
                self._cond.notify_all()
                return True
            self.dropped += 1
        self._failed.add(1, {"channel": channel, "reason": "queue_full"})
        self._log.warning("ml.alerts.queue_full", channel=channel, queue_size=self.max_queue,
                          group_key=notification.group_key)
        return False

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._cond.wait(left)
        return True

    @property
    def queued(self) -> int:
        """Notifications waiting (including those waiting for a retry)."""
        with self._cond:
            return len(self._heap) + self._inflight

    # -- thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                item = None
                while not self._stopping:
                    now = self._clock()
                    if self._heap and self._heap[0].due <= now:
                        item = heapq.heappop(self._heap)
                        self._inflight += 1
                        break
                    self._cond.wait(self._heap[0].due - now if self._heap else None)
                if item is None:
                    return
            try:
                self._attempt(item)
            except Exception as exc:  # the thread must survive anything a notifier or SQLite does
                self._log.error("ml.alerts.delivery_error", channel=item.channel, error=type(exc).__name__)
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

    def _attempt(self, item: _Item) -> None:
        if not self._outbox.exists(item.row_id):
            return  # superseded by a newer re-post of the same group
        channel = self._channels.get(item.channel)
        if channel is None:
            self._give_up(item, "unknown_channel", "channel no longer configured", keep=False, target="")
            return
        target = redact_url(channel.options["url"]) if isinstance(channel.options.get("url"), str) else ""
        try:
            result = self._send(item.notification, channel)
        except Exception as exc:
            reason, retryable = classify(exc)
            message = scrub(f"{type(exc).__name__}: {exc}", channel)[:300]
            self._outbox.record_failure(item.row_id, f"{reason}: {message}")
            item.attempts += 1
            if retryable and item.attempts <= self.retries:
                delay = min(self.backoff_max, self.backoff * 2 ** (item.attempts - 1))
                self._log.warning(
                    "ml.alerts.notification_retry", channel=channel.name, type=channel.type, url=target,
                    reason=reason, error=message, attempt=item.attempts, delay_s=delay,
                )
                with self._cond:
                    item.due = self._clock() + delay
                    heapq.heappush(self._heap, item)
                return
            self._give_up(item, reason, message, keep=retryable, target=target)
            return
        if result is None:
            self._give_up(item, "no_notifier", f"no plugin handles channel type {channel.type!r}",
                          keep=False, target=target)
            return
        self._outbox.remove(item.row_id)
        self._sent.add(1, {"channel": channel.name, "status": item.notification.status})
        self._log.debug("ml.alerts.notification_sent", channel=channel.name, type=channel.type, url=target,
                        group_key=item.notification.group_key, status=item.notification.status,
                        alerts=len(item.notification.alerts))

    def _give_up(self, item: _Item, reason: str, message: str, *, keep: bool, target: str) -> None:
        self._failed.add(1, {"channel": item.channel, "reason": reason})
        if not keep:
            self._outbox.remove(item.row_id)
        self._log.error("ml.alerts.notification_failed", channel=item.channel, url=target, reason=reason,
                        error=message, attempts=item.attempts, kept_in_outbox=keep,
                        group_key=item.notification.group_key)
