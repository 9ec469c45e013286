"""Time formatting for alert texts and state: RFC 3339 stamps and short human durations."""

from __future__ import annotations

from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Alertmanager writes for an unset time (Go's zero ``time.Time``)."""


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
