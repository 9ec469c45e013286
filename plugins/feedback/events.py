"""Validation of feedback events at the API boundary (``agent.log_feedback``, on the caller's thread)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from agent.plugin import FeedbackEvent
from plugins.feedback.config import BUILTIN_KINDS

_MAX_INT64 = 2**63 - 1  # the store's integer columns are SQLite INTEGERs


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
        if (isinstance(position, bool) or not isinstance(position, int | np.integer)
                or not 0 <= position <= _MAX_INT64):
            raise ValueError(f"position: expected an integer >= 0 (a list position), got {position!r}")
        position = int(position)
    ts = event.timestamp
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not _finite(ts):
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


def _finite(x: float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond float range
        return False


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
        and (e.position is None or (type(e.position) is int and 0 <= e.position <= _MAX_INT64))
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
