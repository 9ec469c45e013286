"""Summary and description templates: checked at load, rendered with a formatter that never evaluates code.

Templates use ``str.format`` placeholders: ``{value}``, ``{threshold}``, ``{op}``, ``{delta}``,
``{since}``, ``{rule}``, ``{signal}``, ``{severity}``, ``{command}``, ``{labels[NAME]}``,
``{details[KEY]}`` and well-known label names directly (``{model}``, ``{version}``, ``{feature}``,
``{test}``). Attribute access and indexing other than one key into ``labels``/``details`` are
rejected at load, so a template can read data but never reach into Python objects.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from agent.plugin import ConfigError

BASE_FIELDS = frozenset(
    {"value", "threshold", "op", "delta", "since", "rule", "signal", "severity", "command", "for"}
)
MAPPING_FIELDS = frozenset({"labels", "details"})
WELL_KNOWN_LABELS = frozenset({"model", "version", "feature", "test", "task", "service", "instance"})
MISSING_TEXT = "n/a"


_FIELD_PART = re.compile(r"\.([^.\[]+)|\[([^\]]+)\]")


def split_field(field_name: str) -> tuple[str, list[tuple[bool, str]]]:
    """Split ``labels[model]`` into ("labels", [(False, "model")]) as str.format does, evaluating nothing."""
    head_end = len(field_name)
    for i, ch in enumerate(field_name):
        if ch in ".[":
            head_end = i
            break
    first, pos, rest = field_name[:head_end], head_end, []
    while pos < len(field_name):
        m = _FIELD_PART.match(field_name, pos)
        if m is None:
            raise ValueError(f"malformed placeholder {field_name!r}")
        rest.append((True, m.group(1)) if m.group(1) is not None else (False, m.group(2)))
        pos = m.end()
    return first, rest


class _Missing:
    """Placeholder value for a label or detail the signal did not carry."""

    def __format__(self, spec: str) -> str:
        return MISSING_TEXT


_MISSING = _Missing()


class _SafeFormatter(string.Formatter):
    """Resolves only top-level names and one mapping key; formats leniently at run time."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        first, rest = split_field(field_name)
        obj: Any = kwargs.get(first, _MISSING)
        for is_attr, key in rest:
            if is_attr or not isinstance(obj, Mapping):
                return _MISSING, first
            obj = obj.get(key, _MISSING)
        return obj, first

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if value is _MISSING or conversion is None:
            return value
        return repr(value) if conversion == "r" else str(value)

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            if self.strict:
                raise
            # A detail that turned out to be a string under a numeric spec: show it plainly.
            return str(value)


_RENDER = _SafeFormatter()
_STRICT = _SafeFormatter(strict=True)


def allowed_fields(extra_labels: Iterable[str] = ()) -> frozenset[str]:
    """Top-level placeholder names a template may use (label names of the rule included)."""
    return BASE_FIELDS | MAPPING_FIELDS | WELL_KNOWN_LABELS | frozenset(extra_labels)


def sample_context(extra_labels: Iterable[str] = ()) -> dict[str, Any]:
    """A context with every allowed field filled in, used to try a template at load."""
    labels = {name: name for name in (WELL_KNOWN_LABELS | frozenset(extra_labels))}
    return {
        **labels,
        "value": 0.5, "threshold": 0.2, "delta": 0.3, "op": ">", "since": "2024-01-01T00:00:00.000Z",
        "rule": "rule", "signal": "signal", "severity": "warning", "command": "infersight alerts",
        "for": "5m", "labels": labels, "details": {},
    }


def validate_template(template: str, key: str, extra_labels: Iterable[str] = ()) -> str:
    """Return ``template`` when every placeholder is known and well formed; ConfigError naming ``key``."""
    allowed = allowed_fields(extra_labels)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        expected = f"a valid str.format template ({exc}); write '{{{{' for a literal brace"
        raise ConfigError(key, template, expected) from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ConfigError(key, template, "named placeholders only, such as {value} or {labels[model]}")
        try:
            first, rest = split_field(field)
        except ValueError as exc:
            raise ConfigError(key, template, f"a valid placeholder ({exc})") from None
        if first not in allowed:
            raise ConfigError(
                key, template, f"known placeholders only; {{{first}}} is not one of {sorted(allowed)}"
            )
        if first in MAPPING_FIELDS:
            if len(rest) != 1 or rest[0][0]:
                raise ConfigError(key, template, f"{{{first}[KEY]}}: exactly one key, no attribute access")
        elif rest:
            raise ConfigError(key, template, f"{{{first}}} without attribute access or indexing")
        if spec and "{" in spec:
            raise ConfigError(key, template, "no nested placeholders inside a format spec")
        if conversion not in (None, "s", "r"):
            raise ConfigError(key, template, "conversion !s or !r only")
    try:
        _STRICT.vformat(template, (), sample_context(extra_labels))
    except (ValueError, TypeError) as exc:
        raise ConfigError(key, template, f"format specs that suit the placeholder ({exc})") from None
    return template


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Render a validated template; missing labels/details show as "n/a", never raise."""
    try:
        return _RENDER.vformat(template, (), context)
    except (ValueError, TypeError, KeyError, IndexError):
        return template
