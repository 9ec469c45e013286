"""The ``[alerts]`` config section: evaluation and delivery settings, channels and rules, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent._errors import ConfigError
from agent._types import Channel
from plugins.alerts.rules import Rule, parse_rule
from plugins.alerts.timefmt import parse_duration

SECTION_KEYS = frozenset({
    "rules", "channels", "group_by", "group_wait", "group_interval", "repeat_interval", "send_resolved",
    "no_data_after", "no_data_severity", "evaluation_interval", "resend_delay", "resolved_resend_for",
    "external_url", "queue_size", "retries", "backoff", "backoff_max", "outbox_max_age", "shutdown_timeout",
    "default_channels", "resolve_timeout",
})
BUILTIN_TYPES = frozenset({"log", "webhook", "alertmanager", "otlp", "email"})
WEBHOOK_FORMATS = ("alertmanager", "slack")


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Validated ``[alerts]`` settings (durations in seconds)."""

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
    outbox_max_age: float = 86400.0
    shutdown_timeout: float = 5.0


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, value, f"an integer >= {minimum}")
    return value


def _http_url(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, "<redacted>", "an http:// or https:// URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Never echo the URL itself: it may carry a token.
        shown = f"<url with scheme {parts.scheme!r}>"
        raise ConfigError(key, shown, "an http:// or https:// URL with a host")
    return value


def parse_channel(name: str, raw: Any) -> Channel:
    """Validate one ``[alerts.channels.NAME]`` table; options of other types pass through to their plugin."""
    key = f"alerts.channels.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(key, raw, f"a table with type = one of {sorted(BUILTIN_TYPES)} or a plugin's type")
    ctype = raw.get("type")
    if not isinstance(ctype, str) or not ctype:
        raise ConfigError(f"{key}.type", ctype, f"a channel type such as {sorted(BUILTIN_TYPES)}")
    opts: dict[str, Any] = {k: v for k, v in raw.items() if k != "type"}
    opts["timeout"] = parse_duration(raw.get("timeout", 10.0), f"{key}.timeout")
    if opts["timeout"] <= 0:
        raise ConfigError(f"{key}.timeout", raw.get("timeout"), "a positive duration")
    opts["verify_tls"] = _bool(raw.get("verify_tls", True), f"{key}.verify_tls")
    headers = raw.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{key}.headers", "<redacted>", "a table of header name = string value")
    opts["headers"] = dict(headers)
    if ctype in ("webhook", "alertmanager"):
        opts["url"] = _http_url(raw.get("url"), f"{key}.url")
    if ctype == "webhook":
        fmt = raw.get("format", "alertmanager")
        if fmt not in WEBHOOK_FORMATS:
            raise ConfigError(f"{key}.format", fmt, f"one of {list(WEBHOOK_FORMATS)}")
        opts["format"] = fmt
        opts["max_alerts"] = _int(raw.get("max_alerts", 0), f"{key}.max_alerts", 0)
    if ctype == "email":
        for req in ("host", "from"):
            if not isinstance(raw.get(req), str) or not raw.get(req):
                raise ConfigError(f"{key}.{req}", raw.get(req), "a non-empty string")
        to = raw.get("to")
        to_list = [to] if isinstance(to, str) else to
        if not isinstance(to_list, list) or not to_list or not all(isinstance(t, str) for t in to_list):
            raise ConfigError(f"{key}.to", to, "an address or a list of addresses")
        opts["to"] = to_list
        opts["starttls"] = _bool(raw.get("starttls", True), f"{key}.starttls")
        opts["port"] = _int(raw.get("port", 587 if opts["starttls"] else 25), f"{key}.port", 1)
        for opt in ("username", "password"):
            if opt in raw and not isinstance(raw[opt], str):
                raise ConfigError(f"{key}.{opt}", "<redacted>", "a string")
    return Channel(name=name, type=ctype, options=opts)


def parse_alerts_config(section: Mapping[str, Any]) -> AlertsConfig:
    """Validate the whole ``[alerts]`` section; ``ConfigError`` names the first bad key."""
    unknown = sorted(set(section) - SECTION_KEYS)
    if unknown:
        raise ConfigError(f"alerts.{unknown[0]}", section[unknown[0]], f"one of {sorted(SECTION_KEYS)}")
    raw_channels = section.get("channels", {})
    if not isinstance(raw_channels, Mapping):
        raise ConfigError("alerts.channels", raw_channels, "a table of [alerts.channels.NAME] tables")
    channels = {str(n): parse_channel(str(n), c) for n, c in raw_channels.items()}
    channels.setdefault("log", Channel(name="log", type="log", options={"timeout": 10.0, "headers": {}}))
    default_channels = section.get("default_channels", ["log"])
    if not isinstance(default_channels, list) or not all(c in channels for c in default_channels):
        expected = f"a list of channel names: {sorted(channels)}"
        raise ConfigError("alerts.default_channels", default_channels, expected)
    group_by = section.get("group_by", ["rule", "model"])
    if not isinstance(group_by, list) or not all(isinstance(g, str) and g for g in group_by):
        raise ConfigError("alerts.group_by", group_by, "a list of label names (or ['...'] for no grouping)")
    raw_rules = section.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError("alerts.rules", raw_rules, "an array of [[alerts.rules]] tables")
    rules = tuple(parse_rule(r, i, channels, tuple(default_channels)) for i, r in enumerate(raw_rules))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise ConfigError(f"alerts.rules[{i}].name", rule.name, "a rule name used only once")
        seen.add(rule.name)

    def dur(name: str, default: float) -> float:
        return parse_duration(section.get(name, default), f"alerts.{name}")

    no_data_default = dur("resolve_timeout", 900.0) if "resolve_timeout" in section else 900.0
    severity = section.get("no_data_severity", "warning")
    if not isinstance(severity, str) or not severity:
        raise ConfigError("alerts.no_data_severity", severity, "a severity such as 'warning'")
    external_url = section.get("external_url", "")
    if not isinstance(external_url, str):
        raise ConfigError("alerts.external_url", external_url, "a URL string")
    evaluation_interval = dur("evaluation_interval", 60.0)
    if evaluation_interval <= 0:
        raise ConfigError("alerts.evaluation_interval", evaluation_interval, "a positive duration")
    return AlertsConfig(
        rules=rules, channels=channels, group_by=tuple(group_by),
        group_wait=dur("group_wait", 0.0), group_interval=dur("group_interval", 60.0),
        repeat_interval=dur("repeat_interval", 4 * 3600.0),
        send_resolved=_bool(section.get("send_resolved", True), "alerts.send_resolved"),
        no_data_after=dur("no_data_after", no_data_default), no_data_severity=severity,
        evaluation_interval=evaluation_interval, resend_delay=dur("resend_delay", 0.0),
        resolved_resend_for=dur("resolved_resend_for", 900.0), external_url=external_url,
        queue_size=_int(section.get("queue_size", 1000), "alerts.queue_size", 1),
        retries=_int(section.get("retries", 3), "alerts.retries", 0),
        backoff=dur("backoff", 1.0), backoff_max=dur("backoff_max", 60.0),
        outbox_max_age=dur("outbox_max_age", 86400.0), shutdown_timeout=dur("shutdown_timeout", 5.0),
    )
