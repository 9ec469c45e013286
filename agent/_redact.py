"""Masking secrets: credentials and tokens in URLs, secret-named config values, header values.

One implementation for every path that prints or logs configuration: config errors,
the ``infersight config`` output, the ``ml.agent.started`` event and alert channels.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
# A path segment that may be a credential (Slack/Teams/Discord webhooks put the token in the
# path): 16+ characters, or 8+ that are not a plain lowercase word. Over-masking is the safe side.
_TOKENISH = re.compile(r"^(?![a-z]+$)[^/]{8,}$|^[^/]{16,}$")


SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "apikey", "authorization"})


def is_secret_key(key: str) -> bool:
    """Whether a config key names a secret (``password``, ``smtp_password``, ``api_key``, ...)."""
    low = key.lower()
    return low in SECRET_KEYS or low.endswith(("_password", "_token", "_secret"))


def redact_data(data: Any, key: str = "") -> Any:
    """Config data safe to log or print, recursively: secret-named values and every header value
    masked, credentials and tokens in URLs redacted (``redact_url``)."""
    if isinstance(data, Mapping):
        if key.lower() == "headers":
            return {str(name): REDACTED for name in data}
        return {str(k): redact_data(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v, key) for v in data]
    if is_secret_key(key):
        return REDACTED if data else data
    if isinstance(data, str) and data.startswith(("http://", "https://")):
        return redact_url(data)
    return data


def redact_url(url: str) -> str:
    """The URL with userinfo, every query value, the fragment and token-like path segments masked."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
    except ValueError:
        return REDACTED
    netloc = host + (f":{port}" if port else "")
    if parts.username is not None or parts.password is not None:
        netloc = f"{REDACTED}@{netloc}"
    path = "/".join(REDACTED if _TOKENISH.match(seg) else seg for seg in parts.path.split("/"))
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = urllib.parse.urlencode([(k, REDACTED) for k, _ in pairs], safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, ""))


def is_tokenish(segment: str) -> bool:
    """Whether a URL path segment may be a credential (the test ``redact_url`` masks by)."""
    return bool(_TOKENISH.match(segment))
