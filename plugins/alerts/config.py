"""The ``[alerts]`` config section, declared on the shared key table: settings, channels and rules.

``KEYS`` is the section; ``CHANNEL_KEYS`` the keys every ``[alerts.channels.NAME]`` takes,
and ``TYPE_KEYS`` those of each built-in channel type (a third party's channel type passes
its options through to its notifier). Every value is checked once here: a bad one raises
``ConfigError`` naming its key path (``alerts.channels.hook.url``), and never echoes a URL,
header value or password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.plugin import (
    Channel,
    Check,
    ConfigError,
    Key,
    boolean,
    duration,
    int_at_least,
    nonempty_string,
    one_of,
    parse_table,
    positive_int,
    str_list,
    str_table,
    string,
)
from plugins.alerts.rules import Rule, parse_rule

BUILTIN_TYPES = ("log", "webhook", "alertmanager", "otlp", "email")
WEBHOOK_FORMATS = ("alertmanager", "slack")
DAY = 86400.0


# -- plugin-specific value shapes --------------------------------------------------------


def at_most(check: Check, maximum: float) -> Check:
    """``check`` (a duration), and at most ``maximum`` seconds so timers stay representable."""

    def bounded(key: str, v: Any) -> float:
        seconds = float(check(key, v))
        if seconds > maximum:
            raise ConfigError(key, v, f"a duration of at most {maximum:g} seconds")
        return seconds

    return bounded


def positive(check: Check) -> Check:
    """``check`` (a duration), and more than zero."""

    def strictly(key: str, v: Any) -> float:
        seconds = float(check(key, v))
        if seconds <= 0:
            raise ConfigError(key, v, "a duration > 0")
        return seconds

    return strictly


class _Described:
    """Stands for a value an error message must not echo (a URL may hold a token): a description of it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def http_url(key: str, v: Any) -> str:
    """An http:// or https:// URL with a host (and a valid port); the URL is never echoed (it may hold a token)."""
    expected = "an http:// or https:// URL with a host"
    if not isinstance(v, str):
        raise ConfigError(key, _Described(f"a {type(v).__name__}"), expected)
    scheme, ok = "", False
    try:
        parts = urlsplit(v)
        scheme = parts.scheme
        ok = scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 literal: raised here, not at the first delivery
        ok = False
    if not ok or any(c in v for c in "\r\n\t "):
        raise ConfigError(key, _Described(f"a URL with scheme {scheme!r} (the rest not shown)"), expected)
    return v


def header_table(key: str, v: Any) -> dict[str, str]:
    """HTTP headers: name = string value, without line breaks (values are secrets: never echoed)."""
    headers = str_table(key, v)
    if any("\r" in f"{n}{x}" or "\n" in f"{n}{x}" for n, x in headers.items()):
        raise ConfigError(key, headers, "header names and values without line breaks")
    return headers


def recipients(key: str, v: Any) -> tuple[str, ...]:
    """One address or a non-empty list of addresses."""
    out = (v,) if isinstance(v, str) else str_list(key, v)
    if not out or not all(a.strip() for a in out):
        raise ConfigError(key, v, "an address or a non-empty list of addresses")
    return out


def port(key: str, v: Any) -> int:
    """A TCP port, 1 to 65535."""
    n = int(positive_int(key, v))
    if n > 65535:
        raise ConfigError(key, v, "a TCP port between 1 and 65535")
    return n


# -- channels ----------------------------------------------------------------------------

CHANNEL_KEYS: dict[str, Key] = {
    "type": Key(nonempty_string),
    "timeout": Key(at_most(positive(duration), 3600.0), 10.0),
    "verify_tls": Key(boolean, True),
    "headers": Key(header_table, {}),
}
"""Keys every channel takes."""

TYPE_KEYS: dict[str, dict[str, Key]] = {
    "log": {},
    "otlp": {},
    "webhook": {
        "url": Key(http_url),
        "format": Key(one_of(*WEBHOOK_FORMATS), "alertmanager"),
        "max_alerts": Key(int_at_least(0), 0),
        "external_url": Key(string),  # default: alerts.external_url
    },
    "alertmanager": {"url": Key(http_url)},
    "email": {
        "host": Key(nonempty_string),
        "port": Key(port),  # default: 587 with STARTTLS, 25 without
        "from": Key(nonempty_string),
        "to": Key(recipients),
        "starttls": Key(boolean, True),
        "username": Key(string),
        "password": Key(string),
    },
}
"""Keys of each built-in channel type, on top of ``CHANNEL_KEYS``."""

_REQUIRED = {"webhook": ("url",), "alertmanager": ("url",), "email": ("host", "from", "to")}


def parse_channel(name: str, raw: Any, external_url: str = "") -> Channel:
    """Check one ``[alerts.channels.NAME]`` table; options of a third party's type pass through unchecked."""
    key = f"alerts.channels.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(key, raw, f"a table with type = one of {list(BUILTIN_TYPES)} or a plugin's type")
    ctype = nonempty_string(f"{key}.type", raw.get("type"))
    own = TYPE_KEYS.get(ctype)
    if own is None:
        common = parse_table(key, {k: v for k, v in raw.items() if k in CHANNEL_KEYS}, CHANNEL_KEYS)
        opts = {**{k: v for k, v in raw.items() if k not in CHANNEL_KEYS}, **common}
    else:
        opts = parse_table(key, raw, {**CHANNEL_KEYS, **own})
        for required in _REQUIRED.get(ctype, ()):
            if opts[required] is None:
                raise ConfigError(f"{key}.{required}", None, _EXPECTED[required])
    opts.pop("type", None)
    if ctype == "webhook" and opts["external_url"] is None:
        opts["external_url"] = external_url
    if ctype == "email":
        if opts["port"] is None:
            opts["port"] = 587 if opts["starttls"] else 25
        opts["to"] = list(opts["to"])
        opts = {k: v for k, v in opts.items() if v is not None}
    return Channel(name=name, type=ctype, options=opts)


_EXPECTED = {
    "url": "an http:// or https:// URL with a host",
    "host": "the SMTP server's host name",
    "from": "the sender's address",
    "to": "an address or a non-empty list of addresses",
}


def channel_tables(key: str, v: Any) -> dict[str, Any]:
    """The ``[alerts.channels]`` table: one table per channel (checked by ``parse_channel``)."""
    if not isinstance(v, Mapping):
        raise ConfigError(key, v, "a table of [alerts.channels.NAME] tables")
    return {str(name): table for name, table in v.items()}


def rule_tables(key: str, v: Any) -> list[Any]:
    """The ``[[alerts.rules]]`` array (each rule is checked by ``parse_rule``)."""
    if not isinstance(v, list | tuple):
        raise ConfigError(key, v, "an array of [[alerts.rules]] tables")
    return list(v)


def label_names(key: str, v: Any) -> tuple[str, ...]:
    """Label names to group by (``["..."]`` for no grouping)."""
    names = str_list(key, v)
    if not all(n.strip() for n in names):
        raise ConfigError(key, v, "a list of label names (or ['...'] for no grouping)")
    return names


# -- the section -------------------------------------------------------------------------

KEYS: dict[str, Key] = {
    "rules": Key(rule_tables, []),
    "channels": Key(channel_tables, {}),
    "default_channels": Key(str_list, ("log",)),
    "group_by": Key(label_names, ("rule", "model")),
    "group_wait": Key(duration, 0.0),
    "group_interval": Key(duration, 60.0),
    "repeat_interval": Key(duration, 4 * 3600.0),
    "send_resolved": Key(boolean, True),
    "no_data_after": Key(duration, 900.0),
    "no_data_severity": Key(nonempty_string, "warning"),
    "evaluation_interval": Key(positive(duration), 60.0),
    "resend_delay": Key(duration, 0.0),
    "resolved_resend_for": Key(duration, 900.0),
    "external_url": Key(string, ""),
    "queue_size": Key(positive_int, 1000),
    "retries": Key(int_at_least(0), 3),
    "backoff": Key(at_most(duration, DAY), 1.0),
    "backoff_max": Key(at_most(duration, DAY), 60.0),
    "outbox_max_age": Key(duration, DAY),
    "shutdown_timeout": Key(at_most(duration, 3600.0), 5.0),
}
"""The ``[alerts]`` section. Durations are seconds or strings such as ``"30s"``, ``"5m"``, ``"1h30m"``."""

MOVED = {"resolve_timeout": "no_data_after"}
"""Keys that were renamed: using the old name is a ConfigError naming the new one."""


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Checked ``[alerts]`` settings (durations in seconds)."""

    rules: tuple[Rule, ...] = ()
    channels: Mapping[str, Channel] = field(default_factory=dict)
    group_by: tuple[str, ...] = ("rule", "model")
    group_wait: float = 0.0
    group_interval: float = 60.0
    repeat_interval: float = 4 * 3600.0
    send_resolved: bool = True
    no_data_after: float = 900.0
    no_data_severity: str = "warning"
    evaluation_interval: float = 60.0
    resend_delay: float = 0.0
    resolved_resend_for: float = 900.0
    external_url: str = ""
    queue_size: int = 1000
    retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 60.0
    outbox_max_age: float = DAY
    shutdown_timeout: float = 5.0


LOG_CHANNEL = Channel(name="log", type="log", options={"timeout": 10.0, "verify_tls": True, "headers": {}})
"""The ``log`` channel, always present (a table of that name replaces it)."""


def parse_alerts_config(section: Mapping[str, Any]) -> AlertsConfig:
    """Check the whole ``[alerts]`` section; ``ConfigError`` names the first bad key."""
    v = parse_table("alerts", section, KEYS, moved=MOVED)
    channels = {name: parse_channel(name, raw, v["external_url"]) for name, raw in v["channels"].items()}
    channels.setdefault("log", LOG_CHANNEL)
    default_channels = v["default_channels"]
    for c in default_channels:
        if c not in channels:
            raise ConfigError("alerts.default_channels", c, f"names of channels: {sorted(channels)}")
    rules = tuple(parse_rule(r, i, channels, default_channels) for i, r in enumerate(v["rules"]))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise ConfigError(f"alerts.rules[{i}].name", rule.name, "a rule name used only once")
        seen.add(rule.name)
    settings = {k: v[k] for k in KEYS if k not in ("rules", "channels", "default_channels")}
    return AlertsConfig(rules=rules, channels=channels, **settings)
