"""RFC 3339 timestamps in the form Alertmanager writes them."""

from __future__ import annotations

from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Alertmanager writes for an unset time (Go's zero ``time.Time``)."""


def rfc3339(ts: float | None) -> str:
    """RFC 3339 UTC timestamp with milliseconds ("…Z"); Alertmanager's zero time for ``None``."""
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
