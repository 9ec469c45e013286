"""The ``[feedback]`` config table, declared on the shared key table of ``agent.plugin``.

Windows are ``window = {type = "count"|"time", size, seconds}``; the old flat keys
(``window_type``, ``window_size``, ``window_seconds``) are errors that name the new key.
Durations (``*_s``) take seconds or strings such as ``"10m"``, ``"7d"``.

``[feedback.phoenix]`` (opt-in) delivers each stored event whose prediction has a span as
an Arize Phoenix span annotation::

    [feedback.phoenix]
    endpoint = "http://127.0.0.1:6006"   # Phoenix's base URL (the REST API is under /v1)
    annotator_kind = "HUMAN"              # HUMAN | CODE | LLM
    api_key_env = "PHOENIX_API_KEY"       # optional: sent as "Authorization: Bearer <key>"
    headers = { "x-tenant" = "ml" }       # optional, secret: never logged nor shown in errors
    kinds = ["label", "upvote"]           # optional: only these feedback kinds (default: all)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

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
    str_table,
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


ANNOTATOR_KINDS = ("HUMAN", "CODE", "LLM")  # Phoenix's span annotation annotator kinds


@dataclass(frozen=True, slots=True)
class PhoenixConfig:
    """Checked ``[feedback.phoenix]`` settings; ``headers`` (with the API key) are secret and kept out of repr."""

    endpoint: str
    annotator_kind: str = "HUMAN"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    kinds: frozenset[str] = frozenset()  # empty: every kind
    batch: int = 100
    timeout_s: float = 10.0
    min_backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    @property
    def url(self) -> str:
        """Where the annotations are POSTed."""
        return self.endpoint.rstrip("/") + "/v1/span_annotations"


def http_url(key: str, value: Any) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
        raise ConfigError(key, value, "an http:// or https:// URL with a host, e.g. \"http://127.0.0.1:6006\"")
    return value


def env_name(key: str, value: Any) -> str:
    """The name of an environment variable that is set (its value is a secret: never shown)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(key, value, "the name of an environment variable")
    if not os.environ.get(value):
        raise ConfigError(key, value, f"the name of an environment variable that is set ({value} is empty or unset)")
    return value


PHOENIX_KEYS: dict[str, Key] = {
    "endpoint": Key(optional(http_url), None),
    "annotator_kind": Key(one_of(*ANNOTATOR_KINDS), "HUMAN"),
    "api_key": Key(optional(nonempty_string), None),
    "api_key_env": Key(optional(env_name), None),
    "headers": Key(str_table, {}),
    "kinds": Key(str_list, ()),
    "batch": Key(positive_int, 100),
    "timeout_s": Key(duration, 10.0),
    "min_backoff_s": Key(duration, 1.0),
    "max_backoff_s": Key(duration, 60.0),
}


def phoenix(key: str, value: Any) -> PhoenixConfig:
    """A ``[feedback.phoenix]`` table: ``endpoint`` required, the rest optional."""
    v = parse_table(key, value, PHOENIX_KEYS)
    if v["endpoint"] is None:
        raise ConfigError(f"{key}.endpoint", None, "Phoenix's base URL, e.g. \"http://127.0.0.1:6006\" "
                          f"(required when [{key}] is set)")
    if v["api_key"] is not None and v["api_key_env"] is not None:
        raise ConfigError(f"{key}.api_key", "", "either api_key or api_key_env, not both")
    headers = dict(v["headers"])
    for name, text in headers.items():
        if any(c in name + text for c in "\r\n\0") or not name.strip():
            raise ConfigError(f"{key}.headers.{name}", text, "a header name and value without line breaks")
    secret = v["api_key"] or (os.environ[v["api_key_env"]] if v["api_key_env"] else None)
    if secret:
        headers.setdefault("Authorization", f"Bearer {secret}")
    if v["min_backoff_s"] <= 0 or v["max_backoff_s"] < v["min_backoff_s"]:
        raise ConfigError(f"{key}.max_backoff_s", v["max_backoff_s"],
                          f"a duration of at least min_backoff_s ({v['min_backoff_s']:g} s), which is above 0")
    return PhoenixConfig(endpoint=v["endpoint"], annotator_kind=v["annotator_kind"], headers=headers,
                         kinds=frozenset(v["kinds"]), batch=v["batch"], timeout_s=v["timeout_s"],
                         min_backoff_s=v["min_backoff_s"], max_backoff_s=v["max_backoff_s"])


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
    "phoenix": Key(optional(phoenix), None),
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
    phoenix: PhoenixConfig | None = None


def parse_config(section: Mapping[str, Any]) -> FeedbackConfig:
    """Check the ``[feedback]`` table; raises ``ConfigError`` naming the key path (``feedback.window.size``)."""
    v = parse_table("feedback", section, KEYS, moved=MOVED)
    v["kinds"] = frozenset(BUILTIN_KINDS) | frozenset(v["kinds"])
    ph = v["phoenix"]
    if ph is not None and not ph.kinds <= v["kinds"]:
        raise ConfigError("feedback.phoenix.kinds", sorted(ph.kinds - v["kinds"]),
                          f"feedback kinds (built-in or declared in [feedback] kinds): {sorted(v['kinds'])}")
    v["click_kinds"] = frozenset(v["click_kinds"])
    v["synchronous"] = v["synchronous"].value.upper()
    v["baseline"] = dict(v["baseline"])
    return FeedbackConfig(**v)
