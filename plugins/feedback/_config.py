"""The ``[feedback]`` config section and validation of feedback events at the API boundary."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from agent._errors import ConfigError
from agent._types import FeedbackEvent
from plugins.feedback.store import CommitMode, LabelPolicy, Synchronous

BUILTIN_KINDS = ("click", "hide", "purchase", "upvote", "downvote", "favourite", "bookmark", "share", "label")
WindowType = Literal["count", "time"]


@dataclass(frozen=True, slots=True)
class FeedbackConfig:
    """Validated ``[feedback]`` settings (see each field's default)."""

    kinds: frozenset[str] = frozenset(BUILTIN_KINDS)
    db_file: str = "feedback.sqlite"
    synchronous: Synchronous = "NORMAL"
    commit: CommitMode = "auto"
    commit_wait_ms: float = 0.0
    prediction_max_age_s: float = 7 * 86400.0
    prediction_max_rows: int = 1_000_000
    feedback_max_age_s: float = 30 * 86400.0
    prune_interval_s: float = 60.0
    pending_timeout_s: float = 600.0
    max_pending: int = 100_000
    label_policy: LabelPolicy = "last"
    window_type: WindowType = "count"
    window_size: int = 1000
    window_seconds: float = 3600.0
    min_window_rows: int = 20
    degradation_threshold: float = 0.1
    baseline: Mapping[str, float] = field(default_factory=dict)
    item_column: str | None = None
    position_column: str | None = None
    click_kinds: frozenset[str] = frozenset({"click"})
    k: int = 10
    click_grace_s: float = 60.0
    positive_label: Any = 1
    score_threshold: float = 0.5
    export: bool = True
    export_batch: int = 512
    export_min_backoff_s: float = 1.0
    export_max_backoff_s: float = 60.0


def parse_config(section: Mapping[str, Any]) -> FeedbackConfig:
    """Validate the ``[feedback]`` table, raising ``ConfigError`` naming the bad key."""
    known = {f.name for f in dataclasses.fields(FeedbackConfig)}
    for key in section:
        if key not in known:
            raise ConfigError(f"feedback.{key}", section[key], f"one of {sorted(known)}")
    out: dict[str, Any] = {}
    if "kinds" in section:
        custom = section["kinds"]
        if not isinstance(custom, list | tuple) or not all(isinstance(k, str) and k for k in custom):
            raise ConfigError("feedback.kinds", custom, "a list of non-empty strings (custom feedback kinds)")
        out["kinds"] = frozenset(BUILTIN_KINDS) | frozenset(custom)
    if "click_kinds" in section:
        ck = section["click_kinds"]
        if not isinstance(ck, list | tuple) or not all(isinstance(k, str) for k in ck):
            raise ConfigError("feedback.click_kinds", ck, "a list of feedback kinds counted as clicks")
        out["click_kinds"] = frozenset(ck)
    _choice(section, out, "synchronous", ("OFF", "NORMAL", "FULL", "EXTRA"), upper=True)
    _choice(section, out, "label_policy", ("first", "last"))
    _choice(section, out, "commit", ("auto", "group", "direct"))
    _choice(section, out, "window_type", ("count", "time"))
    for key in ("commit_wait_ms", "prediction_max_age_s", "feedback_max_age_s", "prune_interval_s",
                "pending_timeout_s", "window_seconds", "degradation_threshold", "score_threshold",
                "export_min_backoff_s", "export_max_backoff_s", "click_grace_s"):
        if key in section:
            v = section[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"feedback.{key}", v, "a finite number >= 0")
            out[key] = float(v)
    for key in ("prediction_max_rows", "max_pending", "window_size", "min_window_rows", "k", "export_batch"):
        if key in section:
            v = section[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"feedback.{key}", v, "an integer >= 1")
            out[key] = v
    for key in ("db_file", "item_column", "position_column"):
        if key in section:
            v = section[key]
            if not isinstance(v, str) or not v:
                raise ConfigError(f"feedback.{key}", v, "a non-empty string")
            out[key] = v
    if "export" in section:
        if not isinstance(section["export"], bool):
            raise ConfigError("feedback.export", section["export"], "true or false")
        out["export"] = section["export"]
    if "positive_label" in section:
        out["positive_label"] = section["positive_label"]
    if "baseline" in section:
        b = section["baseline"]
        if not isinstance(b, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in b.values()
        ):
            raise ConfigError("feedback.baseline", b, "a table of metric name = number")
        out["baseline"] = {str(k): float(v) for k, v in b.items()}
    return FeedbackConfig(**out)


def _choice(section: Mapping[str, Any], out: dict[str, Any], key: str, allowed: tuple[str, ...], *,
            upper: bool = False) -> None:
    if key not in section:
        return
    v = section[key]
    norm = v.upper() if upper and isinstance(v, str) else v
    if norm not in allowed:
        raise ConfigError(f"feedback.{key}", v, f"one of {list(allowed)}")
    out[key] = norm


# -- event validation (caller's thread) --------------------------------------------------


def validate_event(event: FeedbackEvent, kinds: frozenset[str]) -> FeedbackEvent:
    """Check one event; return it with values normalised to JSON types, or raise ``ValueError`` naming the field.

    ``label`` needs a value: bool, number, string, or a list of those. Behavioural kinds
    (click, purchase, ...) take no value or a number (an amount, a dwell time, a rating).
    Custom kinds take any JSON scalar or list.
    """
    if _plain_event(event, kinds):
        return event
    if not isinstance(event.event_id, str) or not event.event_id:
        raise ValueError(f"event_id: expected a non-empty string, got {event.event_id!r}")
    if not isinstance(event.prediction_id, str) or not event.prediction_id:
        raise ValueError(f"prediction_id: expected a non-empty string, got {event.prediction_id!r}")
    if event.kind not in kinds:
        raise ValueError(f"kind: unknown feedback kind {event.kind!r}; expected one of {sorted(kinds)}"
                         " (declare custom kinds in [feedback] kinds)")
    value = _plain(event.value, "value")
    if event.kind == "label":
        if value is None or isinstance(value, dict):
            raise ValueError(f"value: a label needs a bool, number, string or list value, got {event.value!r}")
    elif event.kind in BUILTIN_KINDS and value is not None and not isinstance(value, bool | int | float):
        raise ValueError(f"value: {event.kind!r} feedback takes no value or a number, got {event.value!r}")
    if event.model is not None and not isinstance(event.model, str):
        raise ValueError(f"model: expected a string, got {event.model!r}")
    item_id = event.item_id
    if item_id is not None:
        if isinstance(item_id, bool) or not isinstance(item_id, str | int | np.integer):
            raise ValueError(f"item_id: expected a string or an integer, got {item_id!r}")
        item_id = str(item_id)
    position = event.position
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int | np.integer) or position < 0:
            raise ValueError(f"position: expected an integer >= 0, got {position!r}")
        position = int(position)
    ts = event.timestamp
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(f"timestamp: expected seconds since the epoch, got {ts!r}")
    if not isinstance(event.attributes, Mapping):
        raise ValueError(f"attributes: expected a mapping, got {type(event.attributes).__name__}")
    attrs = {}
    for k, v in event.attributes.items():
        if not isinstance(k, str):
            raise ValueError(f"attributes: keys must be strings, got {k!r}")
        attrs[k] = _plain(v, f"attributes[{k!r}]")
    if "pscore" in attrs:
        p = attrs["pscore"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
            raise ValueError(f"attributes['pscore']: expected a propensity in (0, 1], got {p!r}")
    if "exploration" in attrs and not isinstance(attrs["exploration"], bool):
        raise ValueError(f"attributes['exploration']: expected true or false, got {attrs['exploration']!r}")
    if (value is event.value and item_id is event.item_id and position is event.position
            and type(ts) is float and not attrs):
        return event
    return dataclasses.replace(event, value=value, item_id=item_id, position=position, attributes=attrs,
                               timestamp=float(ts))


_SCALARS = (str, int, float, bool, type(None))


def _plain_event(e: FeedbackEvent, kinds: frozenset[str]) -> bool:
    # Fast path for the common, already-clean event (log_feedback runs on the caller's
    # thread at thousands of events/s): exact builtin types only, nothing to convert.
    v = e.value
    tv = type(v)
    if tv is float and not math.isfinite(v):
        return False
    if e.kind == "label":
        if v is None or tv not in _SCALARS:
            return False
    elif (tv not in (int, float, bool, type(None)) and e.kind in BUILTIN_KINDS) or tv not in _SCALARS:
        return False
    a = e.attributes
    p = a.get("pscore", 0.5) if a else 0.5
    return (
        type(e.event_id) is str and e.event_id != "" and type(e.prediction_id) is str and e.prediction_id != ""
        and e.kind in kinds and type(e.timestamp) is float and math.isfinite(e.timestamp)
        and type(e.item_id) in (str, type(None)) and type(e.model) in (str, type(None))
        and (e.position is None or (type(e.position) is int and e.position >= 0))
        and (not a or (type(a) is dict and all(type(k) is str and type(x) in _SCALARS
                                               and not (type(x) is float and not math.isfinite(x))
                                               for k, x in a.items())))
        and type(p) in (int, float) and 0 < p <= 1
        and type(a.get("exploration", False) if a else False) is bool
    )


def _plain(value: Any, name: str) -> Any:
    """Convert numpy scalars/arrays to Python values and check the result is JSON-serialisable."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        return value
    if isinstance(value, np.generic | np.ndarray):
        return _plain(cast(Any, value).tolist(), name)
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, name) for k, v in value.items()}
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a JSON-serialisable value, got {type(value).__name__}") from None
    return value
