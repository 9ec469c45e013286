"""The ``[recsys]`` config section."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent._errors import ConfigError


@dataclass(frozen=True, slots=True)
class RecsysConfig:
    """Validated ``[recsys]`` settings."""

    window_type: str = "count"
    window_size: int = 1000
    window_seconds: float = 3600.0
    min_window_lists: int = 10
    catalog_size: int | Mapping[str, int] | None = None
    head_share: float = 0.2
    item_column: str = "item_id"
    click_kinds: frozenset[str] = frozenset({"click"})
    trend_windows: int = 6
    gini_rise: float = 0.04
    coverage_drop: float = 0.04
    click_grace_s: float = 60.0
    pending_timeout_s: float = 600.0
    max_tracked: int = 200_000


def parse_config(section: Mapping[str, Any]) -> RecsysConfig:
    """Validate ``[recsys]``, raising ``ConfigError`` naming the bad key."""
    defaults = RecsysConfig()
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not hasattr(defaults, key):
            raise ConfigError(f"recsys.{key}", value, f"one of {sorted(RecsysConfig.__dataclass_fields__)}")
        if key == "window_type":
            if value not in ("count", "time"):
                raise ConfigError("recsys.window_type", value, "'count' or 'time'")
        elif key == "catalog_size":
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            ok = ok or (isinstance(value, Mapping) and all(isinstance(v, int) and v > 0 for v in value.values()))
            if not ok:
                raise ConfigError("recsys.catalog_size", value, "an integer > 0 or a table of model = integer")
        elif key == "item_column":
            if not isinstance(value, str) or not value:
                raise ConfigError("recsys.item_column", value, "a column name")
        elif key == "click_kinds":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError("recsys.click_kinds", value, "a list of feedback kinds")
            out[key] = frozenset(value)
            continue
        elif key in ("window_size", "min_window_lists", "trend_windows", "max_tracked"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"recsys.{key}", value, "an integer >= 1")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"recsys.{key}", value, "a finite number >= 0")
        elif key == "head_share" and not 0 < value < 1:
            raise ConfigError("recsys.head_share", value, "a share strictly between 0 and 1")
        out[key] = value
    return RecsysConfig(**out)
