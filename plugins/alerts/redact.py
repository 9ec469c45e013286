"""Keep secrets out of logs and CLI output: URL credentials and tokens, header values, passwords."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agent.plugin import REDACTED, Channel, is_secret_key, is_tokenish, redact_data, redact_url

__all__ = ["redact_options", "redact_url", "redacted_channel_config", "scrub"]

MASK = REDACTED


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Channel options with URLs redacted, header values and secret-named options masked."""
    return dict(redact_data(options))


def redacted_channel_config(
    channels: Mapping[str, Channel] | Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Channels as plain data safe to print (for ``infersight config check``): secrets masked."""
    out: dict[str, Any] = {}
    for name, ch in channels.items():
        if isinstance(ch, Channel):
            out[name] = {"type": ch.type, **redact_options(ch.options)}
        else:
            out[name] = redact_options(ch)
    return out


def channel_secrets(channel: Channel) -> list[str]:
    """Every secret string a channel's options hold (URL credentials and tokens, header values, passwords)."""
    secrets: list[str] = []
    for key, value in channel.options.items():
        lower = key.lower()
        if is_secret_key(key):
            if isinstance(value, str):
                secrets.append(value)
        elif lower == "headers" and isinstance(value, Mapping):
            secrets.extend(v for v in value.values() if isinstance(v, str))
        elif isinstance(value, str) and (lower == "url" or lower.endswith("_url")):
            secrets.append(value)
            try:
                parts = urlsplit(value)
            except ValueError:
                continue
            secrets.extend(s for s in (parts.username, parts.password) if s)
            secrets.extend(v for _, v in parse_qsl(parts.query, keep_blank_values=False))
            secrets.extend(seg for seg in parts.path.split("/") if is_tokenish(seg))
    # Longest first so a URL is masked whole before its parts.
    return sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, channel: Channel) -> str:
    """``text`` with every secret of ``channel`` masked (for error messages from third-party code)."""
    for secret in channel_secrets(channel):
        text = text.replace(secret, MASK)
    return text
