"""Exceptions the agent raises to its user (and only these)."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """Bad configuration: names the key path, the value given and what was expected."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"config key {key!r}: got {_safe_repr(value)}, expected {expected}")


def _safe_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
