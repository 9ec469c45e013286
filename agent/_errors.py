"""Exceptions the agent raises to its user (and only these)."""

from __future__ import annotations

from typing import Any


class _Hidden:
    """Stands for a value an error must not echo (the value of an unknown key may be a misplaced secret)."""

    def __repr__(self) -> str:
        return "a value (not shown)"


HIDDEN: Any = _Hidden()


class ConfigError(ValueError):
    """Bad configuration: names the key path, the value given and what was expected.

    The value is left out of the message when the key is secret-like (a password, a
    token, any header) or the value is a URL with credentials, so an error never echoes
    a secret: ``config key 'exporter.headers.authorization': got a value (hidden: secret)``.
    """

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"config key {key!r}: got {_shown(key, value)}, expected {expected}")


class DeliveryError(Exception):
    """A notifier's failed delivery: a short machine-readable reason, a secret-free message, retryable or not."""

    def __init__(self, reason: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable


class InputError(Exception):
    """A command-line input a command cannot use (a missing or unreadable file, a bad option value).

    The message is the one line printed: ``infersight`` prints ``infersight COMMAND: error:
    MESSAGE`` on stderr and exits 2 (1 means a command found a problem, never bad input).
    """


class PluginError(Exception):
    """A plugin that cannot be registered: names the plugin, the hook and what was expected."""


def _secret_path(key: str) -> bool:
    from agent._redact import is_secret_key

    parts = [p.strip().lower() for p in key.replace("(", " ").replace(")", " ").replace(" ", ".").split(".") if p]
    return any(is_secret_key(p) or p == "headers" or p.endswith("_headers") for p in parts) or any(
        p.startswith("otel_exporter_otlp") and p.endswith("headers") for p in parts
    )


def _shown(key: str, value: Any, limit: int = 80) -> str:
    if value is HIDDEN:
        return repr(value)
    if _secret_path(key):
        return "a value (hidden: secret)"
    try:
        text = repr(value)
    except Exception:
        return f"a {type(value).__name__} (unprintable)"
    if isinstance(value, str) and "://" in value and "@" in value:
        from agent._redact import redact_url

        text = repr(redact_url(value))
    if key == "config file":  # a path: shown whole, it is what the user must find
        return text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for logs, even when the exception's ``__str__`` itself raises."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except BaseException:
        try:
            text = repr(exc)
        except BaseException:
            text = "<unprintable>"
    return f"{name}: {text}" if text else name
