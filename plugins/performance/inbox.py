"""``record_training`` with the conveniences of this plugin: datetimes and ISO-8601 strings for times.

A thin layer over ``agent.record_training``, which hands the record to every plugin
through ``infersight_training_recorded`` in order with the calls around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import agent
from agent.plugin import TrainingRecord
from plugins.performance.retrain import training_record


def record_training(model: str, version: Any, trained_at: Any, data_until: Any = None,
                    metrics: Mapping[str, Any] | None = None) -> TrainingRecord:
    """Record that ``model`` was retrained into ``version`` at ``trained_at`` on data up to ``data_until``.

    Times are datetimes, ISO-8601 strings or seconds since the epoch; ``metrics`` the
    version's offline metrics (``{"accuracy": 0.91}``). Raises ``ValueError`` naming a bad
    field. Equivalent to ``agent.record_training`` once the times are converted.
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model: expected a non-empty string, got {model!r}")
    rec = training_record(model, version, trained_at, data_until, metrics)
    agent.record_training(rec.model, rec.version, rec.trained_at, rec.data_until, dict(rec.metrics))
    return rec
