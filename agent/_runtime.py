"""What a plugin sees of the running agent: ``PluginContext`` (the ``agent`` hook argument)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import Resource

from agent._types import Channel, FeedbackEvent, ModelInfo, Notification, Signal


class PluginContext:
    """The agent as plugins see it: config sections, data directory, meter, logger, models.

    One instance per ``init``; passed to ``infersight_configure`` and
    ``infersight_shutdown`` as ``agent``. Plugins keep it for later use from the worker.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        data_dir: Path,
        meter: Meter,
        log: Any,
        models: dict[str, ModelInfo],
        clock: Callable[[], float] = time.time,
        resource: Resource | None = None,
        new_log_exporter: Callable[[], LogRecordExporter | None] | None = None,
        notify: Callable[[Notification, Channel], bool | None] | None = None,
        file_mode: int = 0o600,
        defer: Callable[[object, str, Callable[[], object]], bool] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.meter = meter
        self.log = log
        self.clock = clock
        self.resource = resource or Resource.get_empty()
        self._new_log_exporter = new_log_exporter
        self.feedback_sink: Callable[[FeedbackEvent], FeedbackEvent] | None = None
        self._notify = notify
        self._defer = defer
        self.file_mode = file_mode
        """Mode for files a plugin creates in ``data_dir`` (``agent.file_mode``, owner-only by default)."""
        self.dir_mode = file_mode | ((file_mode & 0o444) >> 2)
        """Mode for directories a plugin creates (``file_mode`` plus search permission where readable)."""
        self._models = models
        self._claimed: set[str] = set()
        self._pending: list[Signal] = []
        self._lock = threading.Lock()

    def section(self, name: str) -> dict[str, Any]:
        """Return a copy of the top-level config table ``name`` ({} when absent) and claim it.

        Tables that no plugin claims during configure are reported as unknown keys.
        """
        self._claimed.add(name)
        value = self.config.get(name, {})
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def claimed_sections(self) -> frozenset[str]:
        """Names of the config tables claimed by plugins so far."""
        return frozenset(self._claimed)

    @property
    def models(self) -> Mapping[str, ModelInfo]:
        """Models known so far (configured or decorated), by name."""
        return dict(self._models)

    def model(self, name: str) -> ModelInfo:
        """Return the model named ``name``, or a default ``ModelInfo`` when it is unknown."""
        return self._models.get(name) or ModelInfo(name=name)

    def defer(self, plugin: object, what: str, work: Callable[[], object]) -> bool:
        """Run ``work`` later on the agent's jobs thread, in order with the plugins' other deferred work.

        For work too long for one worker cycle (a window's tests): the worker goes on
        draining captures and ticking meanwhile, and ``agent.flush()`` waits for it.
        ``plugin`` is the registered plugin object (``self``): ``work`` runs guarded like one
        of its hooks (``what`` names it in error events), is skipped once the plugin is
        disabled, and must take its own locks on state the plugin's hooks also touch. False when the
        queue is full: the plugin counts what it could not run. Without a jobs thread (a
        bare context) the work runs at once.
        """
        if self._defer is None:
            work()
            return True
        return self._defer(plugin, what, work)

    def publish(self, signals: list[Signal]) -> None:
        """Queue signals from any thread; they join the next tick's ``infersight_handle_signals``."""
        with self._lock:
            self._pending.extend(signals)

    def take_published(self) -> list[Signal]:
        """Remove and return the signals queued with ``publish`` (called by the worker)."""
        with self._lock:
            out, self._pending = self._pending, []
        return out

    def new_log_exporter(self) -> LogRecordExporter | None:
        """A fresh log exporter built from the agent's exporter config (None when export is off).

        For plugins that must know whether an export succeeded (the feedback plugin
        retries failed exports from its store); ordinary events go through ``log``.
        """
        return self._new_log_exporter() if self._new_log_exporter else None

    def notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Deliver ``notification`` to ``channel`` through the notifier plugins (``infersight_notify``).

        Called from a plugin's own delivery thread. Each notifier runs through the host's
        guard with the ``agent.notify_timeout`` limit: one that raises or blocks is counted
        (and disabled by the usual rule) and the next is asked. Returns True when a
        notifier delivered, None when none handles ``channel.type``; raises the
        ``DeliveryError`` (or other exception) of the notifier that owns the channel and
        failed, so the caller can retry.
        """
        if self._notify is None:
            return None
        return self._notify(notification, channel)

    def register_feedback_sink(self, sink: Callable[[FeedbackEvent], FeedbackEvent]) -> None:
        """Make ``sink`` receive every ``agent.log_feedback`` event on the caller's thread.

        The sink must make the event durable before returning, may fill in fields it
        can resolve (such as ``model``), and raises ``ValueError`` for a programming
        error (unknown kind, wrong value type). One sink per agent (the feedback plugin).
        """
        self.feedback_sink = sink
