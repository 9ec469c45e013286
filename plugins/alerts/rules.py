"""Alert rules from config: ``[[alerts.rules]]`` tables parsed into frozen ``Rule`` values.

Every check happens here, once, at load: a bad rule raises ``ConfigError`` naming the rule
and field (``alerts.rules['drift-high'].op``), so evaluation never meets a malformed rule.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from agent.plugin import (
    ConfigError,
    Key,
    duration,
    nonempty_string,
    one_of,
    optional,
    parse_table,
    positive_int,
    str_list,
    str_table,
    string,
)
from plugins.alerts.templates import validate_template

CompareOp = Literal[">", ">=", "<", "<=", "==", "!="]
MatchOp = Literal["=", "!=", "=~", "!~"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"(.*)"|(.*?))\s*$')


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: equality (``=``/``!=``) or a regex anchored like Prometheus (``=~``/``!~``)."""

    label: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfies this matcher (a missing label reads as "")."""
        got = labels.get(self.label, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.pattern is not None
        hit = self.pattern.fullmatch(got) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated alert rule: which signal, which condition, how long, who is told and how it reads."""

    name: str
    signal: str
    op: CompareOp
    threshold: float
    matchers: tuple[Matcher, ...] = ()
    for_seconds: float = 0.0
    for_windows: int = 1
    keep_firing_for: float = 0.0
    severity: str = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None
    description: str | None = None
    channels: tuple[str, ...] = ()
    no_data_after: float | None = None

    def compare(self, value: float) -> bool:
        """Whether ``value`` breaches this rule's condition (NaN never does)."""
        return OPERATORS[self.op](value, self.threshold)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a signal with ``labels`` is selected by every matcher of this rule."""
        for m in self.matchers:  # noqa: SIM110 -- a loop is cheaper than all() over a generator
            if not m.matches(labels):
                return False
        return True


def matchers(key: str, raw: Any) -> tuple[Matcher, ...]:
    """Matchers from a table ``{model = "fraud"}`` or a list ``['model="fraud"', 'feature=~"amt|age"']``."""
    items: list[tuple[str, str, str]] = []
    if isinstance(raw, Mapping):
        for label, value in str_table(key, raw).items():
            items.append((label, "=", value))
    elif isinstance(raw, list):
        for i, text in enumerate(raw):
            m = _MATCHER.match(text) if isinstance(text, str) else None
            if m is None:
                expected = 'a matcher such as model="fraud" or feature=~"amount|age"'
                raise ConfigError(f"{key}[{i}]", text, expected)
            items.append((m.group(1), m.group(2), m.group(3) if m.group(3) is not None else m.group(4)))
    else:
        raise ConfigError(key, raw, 'a table of label = "value" or a list of matcher strings')
    out: list[Matcher] = []
    for label, op, value in items:
        if not _LABEL_NAME.match(label):
            raise ConfigError(key, label, "label names of letters, digits, '_' and '.'")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise ConfigError(f"{key}.{label}", value, f"a valid regular expression ({exc})") from None
        out.append(Matcher(label, cast(MatchOp, op), value, pattern))
    return tuple(out)


def finite_number(key: str, value: Any) -> float:
    """Any finite number (a threshold may be negative or zero)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(key, value, "a finite number")
    return float(value)


def label_table(key: str, value: Any) -> dict[str, str]:
    """Extra alert labels: a table of label name = string value, names as Prometheus allows (plus '.')."""
    labels = str_table(key, value)
    for name in labels:
        if not _LABEL_NAME.match(name):
            raise ConfigError(key, name, "label names of letters, digits, '_' and '.'")
    return labels


def channel_names(key: str, value: Any) -> tuple[str, ...]:
    """One channel name or a list of them."""
    return (value,) if isinstance(value, str) else str_list(key, value)


RULE_KEYS: dict[str, Key] = {
    "name": Key(nonempty_string),
    "signal": Key(nonempty_string),
    "op": Key(one_of(*OPERATORS), ">"),
    "threshold": Key(finite_number),
    "matchers": Key(matchers, ()),
    "for": Key(duration, 0.0),
    "for_windows": Key(positive_int, 1),
    "keep_firing_for": Key(duration, 0.0),
    "severity": Key(nonempty_string, "warning"),
    "labels": Key(label_table, {}),
    "summary": Key(optional(string)),
    "description": Key(optional(string)),
    "channels": Key(optional(channel_names)),
    "no_data_after": Key(optional(duration)),
}
"""The keys of one ``[[alerts.rules]]`` table; ``signal`` and ``threshold`` are required."""

_REQUIRED = {"signal": "a signal name such as 'ml.drift.effect_size'", "threshold": "a finite number"}


def parse_rule(raw: Any, index: int, channels: Mapping[str, Any], default_channels: tuple[str, ...]) -> Rule:
    """Check one ``[[alerts.rules]]`` table; ``ConfigError`` names the rule and the bad field."""
    base = f"alerts.rules[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(base, raw, "a table with name, signal, op and threshold")
    name = nonempty_string(f"{base}.name", raw.get("name"))
    key = f"alerts.rules[{name!r}]"
    v = parse_table(key, raw, RULE_KEYS)
    for required, expected in _REQUIRED.items():
        if v[required] is None:
            raise ConfigError(f"{key}.{required}", None, expected)
    label_names = [m.label for m in v["matchers"]] + list(v["labels"])
    for text in ("summary", "description"):
        if v[text] is not None:
            validate_template(v[text], f"{key}.{text}", label_names)
    chans = v["channels"] if v["channels"] is not None else default_channels
    for c in chans:
        if c not in channels:
            raise ConfigError(f"{key}.channels", c, f"a channel defined under [alerts.channels]: {sorted(channels)}")
    return Rule(
        name=name, signal=v["signal"], op=cast(CompareOp, v["op"]), threshold=v["threshold"],
        matchers=v["matchers"], for_seconds=v["for"], for_windows=v["for_windows"],
        keep_firing_for=v["keep_firing_for"], severity=v["severity"], labels=v["labels"],
        summary=v["summary"], description=v["description"], channels=tuple(dict.fromkeys(chans)),
        no_data_after=v["no_data_after"],
    )
