"""InferSight: an in-process observability agent for machine-learning models.

This module is the whole public API; everything else in the package is private.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agent import _agent, _artifacts, _state
from agent._config import redact_url
from agent._errors import ConfigError, PluginError
from agent._ids import new_event_id
from agent._instrument import instrument, uninstrument
from agent._logging import add_trace_context, get_logger, otlp_processor
from agent._monitor import Observation, current_prediction_id, monitor, observe
from agent._plugins import instances
from agent._runtime import PluginContext
from agent._types import (
    Alert,
    Channel,
    FeedbackEvent,
    FlushResult,
    ModelInfo,
    Notification,
    RecordBatch,
    Signal,
    TrainingRecord,
)
from agent.hookspecs import hookimpl

__version__ = _agent.VERSION

FEEDBACK_KINDS = ("click", "hide", "purchase", "upvote", "downvote", "favourite", "bookmark", "share", "label")

__all__ = [
    "FEEDBACK_KINDS",
    "Alert",
    "Channel",
    "ConfigError",
    "FeedbackEvent",
    "FlushResult",
    "ModelInfo",
    "Notification",
    "Observation",
    "PluginContext",
    "PluginError",
    "RecordBatch",
    "Signal",
    "TrainingRecord",
    "__version__",
    "add_trace_context",
    "current_prediction_id",
    "flush",
    "get_logger",
    "hookimpl",
    "init",
    "instrument",
    "is_running",
    "log_feedback",
    "monitor",
    "observe",
    "otlp_processor",
    "record_artifact",
    "record_training",
    "redact_url",
    "register_plugin",
    "set_reference",
    "shutdown",
    "uninstrument",
]


def init(path_or_dict: str | Mapping[str, Any] | None = None, **overrides: Any) -> None:
    """Start the agent from a TOML path, a dict, INFERSIGHT_CONFIG or defaults; idempotent.

    ``overrides`` are sections as dicts (``exporter={"type": "none"}``) and win over
    environment variables, which win over the file. Raises ``ConfigError`` for bad config.
    """
    _agent.init(path_or_dict, **overrides)


def shutdown() -> None:
    """Flush everything and stop the agent (also registered at exit)."""
    _agent.shutdown()


def flush(timeout: float = 10.0, *, exporters: bool = True) -> FlushResult:
    """Wait until everything queued so far is done; the result is true when all of it finished in time.

    Done means: every call captured and every ``set_reference``/``log_feedback`` made
    before this call went through the plugins in order (with the work they deferred), a
    tick ran after them (windows tested, Signals collected, alert rules evaluated), and the
    exporters flushed — unless ``exporters=False``, for a program that only needs the
    plugins' results now and lets telemetry go out on its own schedule. When the
    ``timeout`` (seconds) runs out first, the result is false and ``result.pending`` names
    what did not finish (``worker``, ``exporters``). True at once when no agent runs.
    """
    agent = _state.AGENT
    return agent.flush(timeout, exporters=exporters) if agent is not None else FlushResult(worker=True, exporters=True)


def is_running() -> bool:
    """Whether an agent is initialised and enabled in this process."""
    return _state.AGENT is not None


def register_plugin(plugin: Any, name: str | None = None) -> list[str]:
    """Register a plugin with the running agent now: an object, a class, a factory or a module.

    The same loading rules as an ``infersight`` entry point. The plugin is configured at
    once (``infersight_configure`` is historic) and sees the calls made after this
    returns. Raises ``PluginError`` naming the hook when a method named ``infersight_*``
    is not a hook, and the plugin's ``ConfigError`` for a bad config table. Returns the
    names registered ([] when the agent is not running).
    """
    running = _state.AGENT
    if running is None:
        return []
    objs = instances(plugin)
    base = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    return [running.register_plugin(obj, str(base) if len(objs) == 1 else f"{base}.{type(obj).__name__.lower()}")
            for obj in objs]


def set_reference(model: str, rows: Any, outputs: Any = None) -> None:
    """Set the reference (training) data of ``model``: mappings, a 2-D array, a DataFrame, or columns.

    ``rows`` may also be a dict of equal-length 1-D arrays (columns, as ``[models.NAME]
    reference`` files load). ``outputs`` optionally gives the model's output for each
    reference row (scores or probability vectors), for plugins that compare outputs or
    calibrate on them. Plugins get it on the worker in order with the calls around it; the
    model's redaction applies. Raises ``ValueError`` when ``rows`` or ``outputs`` has a
    shape the agent cannot use. A no-op when the agent is not running.
    """
    agent = _state.AGENT
    if agent is not None:
        agent.set_reference(model, rows, outputs)


def record_artifact(model: str, path_or_bytes: Any) -> str | None:
    """Record the artifact ``model`` was loaded from (a path or bytes); returns its ``sha256:`` digest.

    Hashed here, on the calling thread (call it where the model is loaded). The digest
    is added to the model's spans as ``ml.model.artifact.sha256`` and handed to plugins
    (``infersight_artifact_recorded``): the health plugin logs it and compares it with the
    model's ``expected_digest`` pin, a mismatch being a Signal and an error event, never
    an exception. Before ``init`` it is kept and delivered at init. Returns None when the
    artifact cannot be read (reported by the health plugin, not raised).
    """
    identity = _artifacts.record(model, path_or_bytes)
    return identity.digest or None


def record_training(
    model: str,
    version: str,
    trained_at: float,
    data_until: float | None = None,
    metrics: Mapping[str, float] | None = None,
) -> TrainingRecord | None:
    """Record a retraining of ``model``: the version, when it was trained (seconds since the epoch),
    the end of its training data, and its metrics at release (``{"accuracy": 0.91}``).

    The performance plugin tracks each version's estimated and realized performance
    against its age and recommends a retraining interval (``infersight retrain MODEL``).
    Raises ``ValueError`` naming the field for a programming error. Returns the record, or
    None when the agent is not running.
    """
    if not isinstance(model, str) or not model:
        raise ValueError(f"record_training: model must be a non-empty string, got {model!r}")
    if not isinstance(version, str) or not version:
        raise ValueError(f"record_training: version must be a non-empty string, got {version!r}")
    for name, value in (("trained_at", trained_at), ("data_until", data_until)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"record_training: {name} must be seconds since the epoch, got {value!r}")
    clean: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"record_training: metric {key!r} must be a number, got {value!r}")
        clean[str(key)] = float(value)
    agent = _state.AGENT
    if agent is None:
        return None
    record = TrainingRecord(model, version, float(trained_at), None if data_until is None else float(data_until),
                            clean)
    agent.record_training(record)
    return record


def log_feedback(
    prediction_id: str,
    kind: str,
    value: Any = None,
    *,
    model: str | None = None,
    item_id: str | None = None,
    position: int | None = None,
    timestamp: float | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> FeedbackEvent | None:
    """Record feedback about a prediction; durable (in the feedback store) when this returns.

    Kinds: click, hide, purchase, upvote, downvote, favourite, bookmark, share, label
    (ground truth), plus custom kinds declared in ``[feedback] kinds``. Exploration
    traffic carries ``attributes={"exploration": True, "pscore": p}``. Raises
    ``ValueError`` naming the field for a programming error (bad id, kind or value
    type). Returns the stored event, or None when the agent is not running.
    """
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ValueError(f"log_feedback: prediction_id must be a non-empty string, got {prediction_id!r}")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"log_feedback: kind must be a non-empty string, got {kind!r}")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise ValueError(f"log_feedback: position must be a non-negative int, got {position!r}")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int | float)):
        raise ValueError(f"log_feedback: timestamp must be seconds since the epoch, got {timestamp!r}")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise ValueError(f"log_feedback: attributes must be a mapping, got {type(attributes).__name__}")
    agent = _state.AGENT
    if agent is None:
        return None
    event = FeedbackEvent(
        event_id=new_event_id(),
        prediction_id=prediction_id,
        kind=kind,
        value=value,
        model=model,
        item_id=None if item_id is None else str(item_id),
        position=position,
        timestamp=time.time() if timestamp is None else float(timestamp),
        attributes=dict(attributes or {}),
    )
    return agent.log_feedback(event)
