"""The alerts plugin: evaluates rules on the worker tick, persists and hands notifications to delivery."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from agent._types import Channel, Notification, Signal
from agent.hookspecs import hookimpl
from plugins.alerts.config import AlertsConfig, parse_alerts_config
from plugins.alerts.delivery import Delivery, DeliveryError
from plugins.alerts.engine import AlertEngine
from plugins.alerts.outbox import Outbox
from plugins.alerts.redact import redacted_channel_config
from plugins.alerts.state import OUTBOX_FILE, write_state

METRIC_FIRING = "ml.alerts.firing"
METRIC_NOTIFICATIONS = "ml.alerts.notifications"
METRIC_FAILURES = "ml.alerts.notification_failures"
EVENT_STARTED = "ml.alerts.started"
EVENT_EVALUATION_ERROR = "ml.alerts.evaluation_error"
EVENT_OUTBOX_ERROR = "ml.alerts.outbox_error"
EVENT_OUTBOX_EXPIRED = "ml.alerts.outbox_expired"


class AlertsPlugin:
    """Rules over signals → notifications, delivered on the plugin's own thread via ``infersight_notify``."""

    def __init__(self, *, backoff: float | None = None, backoff_max: float | None = None) -> None:
        # backoff overrides exist so tests can retry in milliseconds without touching config.
        self._backoff_override = backoff
        self._backoff_max_override = backoff_max
        self.config: AlertsConfig | None = None
        self.engine: AlertEngine | None = None
        self.delivery: Delivery | None = None
        self.outbox: Outbox | None = None
        self._agent: Any = None
        self._log: Any = None
        self._firing: dict[tuple[str, str], int] = {}

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight alerts`` to the command line."""
        from plugins.alerts.commands import add_commands

        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: Any) -> None:
        """Validate ``[alerts]`` (ConfigError fails init), open the outbox, start delivery, re-queue leftovers."""
        cfg = parse_alerts_config(agent.section("alerts"))
        self.config, self._agent, self._log = cfg, agent, agent.log
        outbox_path = agent.data_dir / OUTBOX_FILE
        if not cfg.rules and not outbox_path.exists():
            return  # nothing to evaluate and nothing left to deliver: stay inert, no thread
        self.engine = AlertEngine(cfg)
        meter = agent.meter
        sent = meter.create_counter(METRIC_NOTIFICATIONS, unit="{notification}",
                                    description="Alert notifications delivered, by channel and status")
        failed = meter.create_counter(METRIC_FAILURES, unit="{notification}",
                                      description="Alert notifications not delivered, by channel and reason")
        meter.create_observable_gauge(METRIC_FIRING, callbacks=[self._observe_firing], unit="{alert}",
                                      description="Alerts currently firing, by rule and severity")
        self._firing = self.engine.firing_counts()
        self.outbox = Outbox(outbox_path)
        expired = self.outbox.expire(agent.clock() - cfg.outbox_max_age)
        if expired:
            self._log.warning(EVENT_OUTBOX_EXPIRED, dropped=expired, max_age_s=cfg.outbox_max_age)
        self.delivery = Delivery(
            send=self._send, outbox=self.outbox, channels=cfg.channels, log=self._log,
            sent_counter=sent, failure_counter=failed, max_queue=cfg.queue_size, retries=cfg.retries,
            backoff=self._backoff_override if self._backoff_override is not None else cfg.backoff,
            backoff_max=self._backoff_max_override if self._backoff_max_override is not None else cfg.backoff_max,
        )
        self.delivery.start()
        leftovers = self.outbox.pending()
        for entry in leftovers:
            self.delivery.submit(entry.id, entry.channel, entry.notification)
        self._log.info(EVENT_STARTED, rules=len(cfg.rules), channels=redacted_channel_config(cfg.channels),
                       redelivering=len(leftovers))

    def _send(self, notification: Notification, channel: Channel) -> bool | None:
        if self._agent is None:
            raise DeliveryError("no_agent", "the alerts plugin was not configured", retryable=False)
        result: bool | None = self._agent.notify(notification, channel)
        return result

    def _observe_firing(self, options: CallbackOptions) -> Iterable[Observation]:
        for (rule, severity), count in list(self._firing.items()):
            yield Observation(count, {"rule": rule, "severity": severity})

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        """Evaluate rules over this tick's signals; persist and queue the notifications due."""
        engine, cfg = self.engine, self.config
        if engine is None or cfg is None:
            return
        try:
            notes = engine.evaluate(signals, now)
        except Exception as exc:  # a bug here must not stop the worker; the next tick tries again
            self._log.error(EVENT_EVALUATION_ERROR, error=f"{type(exc).__name__}: {exc}", signals=len(signals))
            return
        for note in notes:
            self.enqueue(note, now)
        self._firing = engine.firing_counts()
        self._write_state(now)

    def enqueue(self, note: Notification, now: float) -> None:
        """Persist ``note`` in the outbox and queue it for its channel."""
        if self.outbox is None or self.delivery is None or self.config is None:
            return
        channel = self.config.channels[note.receiver]
        replace = note.group_key if channel.type == "alertmanager" else None
        try:
            # The agent's clock, not the tick's ``now``: expiry at the next start compares against it.
            created = self._agent.clock() if self._agent is not None else now
            row = self.outbox.add(note.receiver, note, created, replace_key=replace)
        except Exception as exc:  # disk full or similar: still try to deliver from memory
            self._log.error(EVENT_OUTBOX_ERROR, error=type(exc).__name__, channel=note.receiver)
            row = -1
        if row >= 0:
            self.delivery.submit(row, note.receiver, note)

    def _write_state(self, now: float) -> None:
        if self.engine is None or self._agent is None:
            return
        try:
            write_state(self._agent.data_dir, self.engine.snapshot(now), now,
                        {"undelivered": self.delivery.queued if self.delivery else 0})
        except Exception as exc:
            self._log.error(EVENT_OUTBOX_ERROR, error=type(exc).__name__, file="state.json")

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued notification is delivered or given up; False on timeout."""
        return self.delivery.flush(timeout) if self.delivery is not None else True

    def close(self) -> None:
        """Stop delivery (undelivered rows stay in the outbox) and close the outbox."""
        if self.delivery is not None:
            self.delivery.stop()
            self.delivery = None
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    @hookimpl
    def infersight_shutdown(self, agent: Any) -> None:
        """Give delivery ``shutdown_timeout`` to drain, write the final state, then stop."""
        if self.config is None or self.engine is None:
            return
        self.flush(self.config.shutdown_timeout)
        self._write_state(agent.clock() if hasattr(agent, "clock") else time.time())
        self.close()
