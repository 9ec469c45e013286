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
from typing import Any, Literal

from agent._errors import ConfigError
from plugins.alerts.templates import validate_template
from plugins.alerts.timefmt import parse_duration

CompareOp = Literal[">", ">=", "<", "<=", "==", "!="]
MatchOp = Literal["=", "!=", "=~", "!~"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"(.*)"|(.*?))\s*$')
RULE_KEYS = frozenset({
    "name", "signal", "matchers", "op", "threshold", "for", "for_windows", "keep_firing_for",
    "severity", "labels", "summary", "description", "channels", "no_data_after",
})


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


def parse_matchers(raw: Any, key: str) -> tuple[Matcher, ...]:
    """Matchers from a table ``{model = "fraud"}`` or a list ``['model="fraud"', 'feature=~"amt|age"']``."""
    items: list[tuple[str, str, str]] = []
    if isinstance(raw, Mapping):
        for label, value in raw.items():
            if not isinstance(value, str):
                raise ConfigError(f"{key}.{label}", value, "a string label value")
            items.append((str(label), "=", value))
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
        out.append(Matcher(label, op, value, pattern))  # type: ignore[arg-type]
    return tuple(out)


def parse_rule(raw: Any, index: int, channels: Mapping[str, Any], default_channels: tuple[str, ...]) -> Rule:
    """Validate one ``[[alerts.rules]]`` table; ``ConfigError`` names the rule and the bad field."""
    base = f"alerts.rules[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(base, raw, "a table with name, signal, op and threshold")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{base}.name", name, "a non-empty rule name")
    key = f"alerts.rules[{name!r}]"
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", raw[unknown[0]], f"one of {sorted(RULE_KEYS)}")
    signal = raw.get("signal")
    if not isinstance(signal, str) or not signal:
        raise ConfigError(f"{key}.signal", signal, "a signal name such as 'ml.drift.psi'")
    op = raw.get("op", ">")
    if op not in OPERATORS:
        raise ConfigError(f"{key}.op", op, f"one of {list(OPERATORS)}")
    threshold = raw.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise ConfigError(f"{key}.threshold", threshold, "a finite number")
    matchers = parse_matchers(raw.get("matchers", {}), f"{key}.matchers")
    for_seconds = parse_duration(raw.get("for", 0), f"{key}.for")
    for_windows = raw.get("for_windows", 1)
    if isinstance(for_windows, bool) or not isinstance(for_windows, int) or for_windows < 1:
        raise ConfigError(f"{key}.for_windows", for_windows, "an integer >= 1 (consecutive evaluations)")
    keep = parse_duration(raw.get("keep_firing_for", 0), f"{key}.keep_firing_for")
    severity = raw.get("severity", "warning")
    if not isinstance(severity, str) or not severity:
        raise ConfigError(f"{key}.severity", severity, "a severity such as 'critical', 'warning' or 'info'")
    labels = raw.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and _LABEL_NAME.match(k) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ConfigError(f"{key}.labels", labels, "a table of label name = string value")
    label_names = [m.label for m in matchers] + list(labels)
    summary = raw.get("summary")
    if summary is not None:
        validate_template(summary, f"{key}.summary", label_names)
    description = raw.get("description")
    if description is not None:
        validate_template(description, f"{key}.description", label_names)
    chans = raw.get("channels", list(default_channels))
    if isinstance(chans, str):
        chans = [chans]
    if not isinstance(chans, list) or not all(isinstance(c, str) for c in chans):
        raise ConfigError(f"{key}.channels", chans, "a list of channel names")
    for c in chans:
        if c not in channels:
            expected = f"a channel defined under [alerts.channels]: {sorted(channels)}"
            raise ConfigError(f"{key}.channels", c, expected)
    no_data = raw.get("no_data_after")
    no_data_after = None if no_data is None else parse_duration(no_data, f"{key}.no_data_after")
    return Rule(
        name=name, signal=signal, op=op, threshold=float(threshold), matchers=matchers,
        for_seconds=for_seconds, for_windows=for_windows, keep_firing_for=keep, severity=severity,
        labels=dict(labels), summary=summary, description=description, channels=tuple(dict.fromkeys(chans)),
        no_data_after=no_data_after,
    )
