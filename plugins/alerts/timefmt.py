"""Time helpers shared by alert rules and notifiers: durations from config and RFC 3339 stamps."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from agent._errors import ConfigError

ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Alertmanager writes for an unset time (Go's zero ``time.Time``)."""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, key: str) -> float:
    """Seconds from a number or a Prometheus-style string ("30s", "5m", "1h30m"); ConfigError otherwise."""
    if isinstance(value, bool):
        raise ConfigError(key, value, "a duration: seconds as a number or a string such as '30s', '5m', '1h'")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(key, value, "a non-negative finite number of seconds")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return total
    raise ConfigError(key, value, "a duration: seconds as a number or a string such as '30s', '5m', '1h'")


def rfc3339(ts: float | None) -> str:
    """RFC 3339 UTC timestamp with milliseconds ("…Z"); Alertmanager's zero time for ``None``."""
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human_duration(seconds: float) -> str:
    """Short human duration: "45s", "5m", "1h30m", "2d3h"."""
    s = max(0, round(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (s, "s")]
    text = "".join(f"{n}{u}" for n, u in parts if n)
    return text or "0s"
