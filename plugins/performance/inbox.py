"""``record_training``: the application records a retrain; the plugin picks it up on the worker.

This module holds the package's one piece of module state: trainings recorded while no
performance plugin is running under the name ``performance`` (before ``init``, or when the
plugin was registered under another name, as ``run_plugin(make_plugin)`` does). A running
plugin takes them at configuration and on every tick. Until the core grows
``agent.record_training``, applications call ``plugins.performance.record_training``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from agent.plugin import running_plugin
from plugins.performance.retrain import TrainingRecord, training_record

PLUGIN_NAME = "performance"
MAX_PENDING = 10_000

_lock = threading.Lock()
_pending: deque[TrainingRecord] = deque(maxlen=MAX_PENDING)


def record_training(model: str, version: Any, trained_at: Any, data_until: Any = None,
                    metrics: Mapping[str, Any] | None = None) -> TrainingRecord:
    """Record that ``model`` was retrained into ``version`` at ``trained_at`` on data up to ``data_until``.

    Times are datetimes, ISO-8601 strings or seconds since the epoch; ``metrics`` the
    version's offline metrics (``{"accuracy": 0.91}``). Raises ``ValueError`` naming a bad
    field. Thread-safe; the plugin applies it on its next tick (and persists it).
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model: expected a non-empty string, got {model!r}")
    rec = training_record(model, version, trained_at, data_until, metrics)
    plugin = running_plugin(PLUGIN_NAME)
    submit = getattr(plugin, "submit_training", None)
    if callable(submit):
        submit(rec)
    else:
        with _lock:
            _pending.append(rec)
    return rec


def take_pending() -> list[TrainingRecord]:
    """Remove and return the trainings recorded while no plugin took them."""
    with _lock:
        out = list(_pending)
        _pending.clear()
    return out
