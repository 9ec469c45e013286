"""The alerts plugin: evaluates rules on the worker tick, persists notifications and hands them to delivery.

Hook bodies let unexpected errors reach the host (which logs, counts and, after repeated
failures, disables the plugin); only expected local failures are caught here and counted
under a named reason: an outbox or state file that cannot be written (the notification is
still delivered from memory), a signal that is not a number (skipped alone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from agent.plugin import Notification, PluginContext, Signal, hookimpl
from plugins.alerts import names
from plugins.alerts.commands import add_commands
from plugins.alerts.config import AlertsConfig, parse_alerts_config
from plugins.alerts.delivery import Delivery
from plugins.alerts.engine import AlertEngine
from plugins.alerts.outbox import Outbox
from plugins.alerts.redact import redacted_channel_config
from plugins.alerts.state import OUTBOX_FILE, write_state

# Earlier names of the metric constants, kept for code that imported them from here.
METRIC_FIRING = names.FIRING
METRIC_NOTIFICATIONS = names.NOTIFICATIONS
METRIC_FAILURES = names.NOTIFICATION_FAILURES


class AlertsPlugin:
    """Rules over signals → notifications, delivered on the plugin's own threads through the host's notifiers."""

    def __init__(self) -> None:
        self.config: AlertsConfig | None = None
        self.engine: AlertEngine | None = None
        self.delivery: Delivery | None = None
        self.outbox: Outbox | None = None
        self._agent: PluginContext | None = None
        self._firing: dict[tuple[str, str], int] = {}
        self._skipped: Any = None
        self._outbox_errors: Any = None

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight alerts`` to the command line."""
        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, agent: PluginContext) -> None:
        """Check ``[alerts]`` (a ConfigError fails init), open the outbox, start delivery, re-queue leftovers."""
        cfg = parse_alerts_config(agent.section("alerts"))
        self.config, self._agent = cfg, agent
        outbox_path = agent.data_dir / OUTBOX_FILE
        if not cfg.rules and not outbox_path.exists():
            return  # nothing to evaluate and nothing left to deliver: stay inert, no thread
        self.engine = AlertEngine(cfg)
        meter = agent.meter
        sent = meter.create_counter(names.NOTIFICATIONS, unit="{notification}",
                                    description="Alert notifications delivered, by channel and status")
        failed = meter.create_counter(names.NOTIFICATION_FAILURES, unit="{notification}",
                                      description="Alert notifications given up, by channel and reason")
        errors = meter.create_counter(names.DELIVERY_ERRORS, unit="{error}",
                                      description="Unexpected errors on the alert delivery threads, by channel")
        self._skipped = meter.create_counter(names.SKIPPED_SIGNALS, unit="{signal}",
                                             description="Signals the alert rules could not evaluate, by reason")
        self._outbox_errors = meter.create_counter(names.OUTBOX_ERRORS, unit="{error}",
                                                   description="Alert outbox or state file errors, by reason")
        meter.create_observable_gauge(names.FIRING, callbacks=[self._observe_firing], unit="{alert}",
                                      description="Alerts currently firing, by rule and severity")
        self._firing = self.engine.firing_counts()
        self.outbox = Outbox(outbox_path, agent.file_mode, agent.dir_mode)
        expired = self.outbox.expire(agent.clock() - cfg.outbox_max_age)
        if expired:
            agent.log.warning(names.EVENT_OUTBOX_EXPIRED, **{names.ATTR_EXPIRED: expired,
                                                              names.ATTR_OUTBOX_MAX_AGE: cfg.outbox_max_age})
        self.delivery = Delivery(
            send=agent.notify, outbox=self.outbox, channels=cfg.channels, log=agent.log, now=agent.clock,
            sent_counter=sent, failure_counter=failed, error_counter=errors, max_queue=cfg.queue_size,
            retries=cfg.retries, backoff=cfg.backoff, backoff_max=cfg.backoff_max,
        )
        leftovers = self.outbox.pending()
        if self.outbox.unreadable:
            self._outbox_errors.add(self.outbox.unreadable, {names.ATTR_REASON: names.REASON_OUTBOX_UNREADABLE})
        for entry in leftovers:
            self.delivery.submit(entry.id, entry.channel, entry.notification, entry.created)
        agent.log.info(names.EVENT_STARTED, **{
            names.ATTR_RULE_COUNT: len(cfg.rules), names.ATTR_CHANNELS: redacted_channel_config(cfg.channels),
            names.ATTR_REDELIVERING: len(leftovers),
        })

    def _observe_firing(self, options: CallbackOptions) -> Iterable[Observation]:
        for (rule, severity), count in list(self._firing.items()):
            yield Observation(count, {names.ATTR_RULE: rule, names.ATTR_SEVERITY: severity})

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        """Evaluate rules over this tick's signals; persist and queue the notifications due."""
        engine = self.engine
        if engine is None:
            return
        for note in engine.evaluate(signals, now):
            self.enqueue(note)
        for reason, count in engine.take_skipped().items():
            self._skipped.add(count, {names.ATTR_REASON: reason})
        self._firing = engine.firing_counts()
        self._write_state(now)

    def enqueue(self, note: Notification) -> None:
        """Persist ``note`` in the outbox and queue it on its channel's lane."""
        if self.outbox is None or self.delivery is None or self.config is None or self._agent is None:
            return
        agent = self._agent
        alertmanager = self.config.channels[note.receiver].type == "alertmanager"
        # The agent's clock, not the tick's ``now``: expiry and the endsAt refresh compare against it.
        created = agent.clock()
        row: int | None
        try:
            row = self.outbox.add(note.receiver, note, created, replace_key=note.group_key if alertmanager else None)
        except (sqlite3.Error, OSError) as exc:  # disk full or similar: deliver from memory, count it
            self._outbox_errors.add(1, {names.ATTR_REASON: names.REASON_OUTBOX_WRITE})
            agent.log.error(names.EVENT_OUTBOX_ERROR, **{names.ATTR_REASON: names.REASON_OUTBOX_WRITE,
                                                          names.ATTR_ERROR: type(exc).__name__,
                                                          names.ATTR_CHANNEL: note.receiver})
            row = None
        self.delivery.submit(row, note.receiver, note, created, supersede=alertmanager)

    def _write_state(self, now: float) -> None:
        if self.engine is None or self._agent is None:
            return
        try:
            write_state(self._agent.data_dir, self.engine.snapshot(now), now,
                        {"undelivered": self.delivery.queued if self.delivery else 0},
                        file_mode=self._agent.file_mode, dir_mode=self._agent.dir_mode)
        except OSError as exc:  # a full or read-only disk: the next tick tries again
            self._outbox_errors.add(1, {names.ATTR_REASON: names.REASON_STATE_WRITE})
            self._agent.log.error(names.EVENT_OUTBOX_ERROR, **{names.ATTR_REASON: names.REASON_STATE_WRITE,
                                                                names.ATTR_ERROR: type(exc).__name__})

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
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Give delivery ``shutdown_timeout`` to drain, write the final state, then stop."""
        if self.config is None or self.engine is None:
            return
        self.flush(self.config.shutdown_timeout)
        self._write_state(agent.clock())
        self.close()


def make_plugin() -> AlertsPlugin:
    """The alerts plugin instance the agent registers (the ``alerts`` entry point)."""
    return AlertsPlugin()
