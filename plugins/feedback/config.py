"""The ``[feedback]`` config table, declared on the shared key table of ``agent.plugin``.

Windows are ``window = {type = "count"|"time", size, seconds}``; the old flat keys
(``window_type``, ``window_size``, ``window_seconds``) are errors that name the new key.
Durations (``*_s``) take seconds or strings such as ``"10m"``, ``"7d"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from agent import FEEDBACK_KINDS
from agent.plugin import (
    ConfigError,
    Key,
    Window,
    boolean,
    duration,
    enum_of,
    non_negative,
    nonempty_string,
    one_of,
    optional,
    parse_table,
    positive_int,
    ratio,
    str_list,
    table_of,
    window,
)
from plugins.feedback.store import CommitMode, LabelPolicy, Synchronous

BUILTIN_KINDS: tuple[str, ...] = tuple(FEEDBACK_KINDS)
DEFAULT_WINDOW = Window("count", 1000, 3600.0)


class SyncMode(Enum):
    """SQLite ``synchronous`` levels (case-insensitive in config)."""

    OFF = "off"
    NORMAL = "normal"
    FULL = "full"
    EXTRA = "extra"


def label_value(key: str, value: Any) -> Any:
    """The positive class of a binary classifier: a bool, number or string."""
    if not isinstance(value, bool | int | float | str):
        raise ConfigError(key, value, "a bool, number or string (the positive class)")
    return value


KEYS: dict[str, Key] = {
    "kinds": Key(str_list, ()),
    "db_file": Key(nonempty_string, "feedback.sqlite"),
    "synchronous": Key(enum_of(SyncMode), SyncMode.NORMAL),
    "commit": Key(one_of("auto", "group", "direct"), "auto"),
    "commit_wait_ms": Key(non_negative, 0.0),
    "prediction_max_age_s": Key(duration, 7 * 86400.0),
    "prediction_max_rows": Key(positive_int, 1_000_000),
    "feedback_max_age_s": Key(duration, 30 * 86400.0),
    "prune_interval_s": Key(duration, 60.0),
    "pending_timeout_s": Key(duration, 600.0),
    "max_pending": Key(positive_int, 100_000),
    "label_policy": Key(one_of("first", "last"), "last"),
    "window": Key(window, DEFAULT_WINDOW),
    "min_window_rows": Key(positive_int, 20),
    "degradation_threshold": Key(non_negative, 0.1),
    "baseline": Key(table_of(non_negative), {}),
    "item_column": Key(optional(nonempty_string), None),
    "position_column": Key(optional(nonempty_string), None),
    "click_kinds": Key(str_list, ("click",)),
    "k": Key(positive_int, 10),
    "click_grace_s": Key(duration, 60.0),
    "positive_label": Key(label_value, 1),
    "score_threshold": Key(ratio, 0.5),
    "export": Key(boolean, True),
    "export_batch": Key(positive_int, 512),
    "export_min_backoff_s": Key(duration, 1.0),
    "export_max_backoff_s": Key(duration, 60.0),
}

MOVED: dict[str, str] = {
    "window_type": "window.type",
    "window_size": "window.size",
    "window_seconds": "window.seconds",
}


@dataclass(frozen=True, slots=True)
class FeedbackConfig:
    """Checked ``[feedback]`` settings (defaults in ``KEYS``)."""

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
    window: Window = DEFAULT_WINDOW
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
    """Check the ``[feedback]`` table; raises ``ConfigError`` naming the key path (``feedback.window.size``)."""
    v = parse_table("feedback", section, KEYS, moved=MOVED)
    v["kinds"] = frozenset(BUILTIN_KINDS) | frozenset(v["kinds"])
    v["click_kinds"] = frozenset(v["click_kinds"])
    v["synchronous"] = v["synchronous"].value.upper()
    v["baseline"] = dict(v["baseline"])
    return FeedbackConfig(**v)
