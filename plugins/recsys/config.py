"""The ``[recsys]`` config table, declared on the shared key table of ``agent.plugin``.

``[recsys]`` holds the defaults and ``[recsys.models.NAME]`` overrides them for one model
(window, catalog size, thresholds). Click handling (``click_kinds``, ``pending_timeout_s``,
``max_tracked``) is shared by every model, so it is set in ``[recsys]`` only. Windows are
``window = {type = "count"|"time", size, seconds}``; the old flat keys are errors that name
the new key, and the old ``catalog_size = {model = N}`` table names ``[recsys.models.NAME]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.plugin import (
    ConfigError,
    Key,
    Window,
    duration,
    non_negative,
    nonempty_string,
    optional,
    parse_models,
    positive_int,
    probability,
    str_list,
    window,
)

DEFAULT_WINDOW = Window("count", 1000, 3600.0)
SHARED_KEYS = frozenset({"click_kinds", "pending_timeout_s", "max_tracked"})


def catalog_size(key: str, value: Any) -> int:
    """The number of items in the catalog (a positive integer); per-model sizes go in ``[recsys.models.NAME]``."""
    if isinstance(value, Mapping):
        raise ConfigError(key, value, "a positive integer (per-model sizes moved to [recsys.models.NAME] catalog_size)")
    return positive_int(key, value)


KEYS: dict[str, Key] = {
    "window": Key(window, DEFAULT_WINDOW),
    "min_window_lists": Key(positive_int, 10),
    "catalog_size": Key(optional(catalog_size), None),
    "head_share": Key(probability, 0.2),
    "item_column": Key(nonempty_string, "item_id"),
    "trend_windows": Key(positive_int, 6),
    "gini_rise": Key(non_negative, 0.04),
    "coverage_drop": Key(non_negative, 0.04),
    "click_grace_s": Key(duration, 60.0),
    "click_kinds": Key(str_list, ("click",)),
    "pending_timeout_s": Key(duration, 600.0),
    "max_tracked": Key(positive_int, 200_000),
}

MOVED: dict[str, str] = {
    "window_type": "window.type",
    "window_size": "window.size",
    "window_seconds": "window.seconds",
}


@dataclass(frozen=True, slots=True)
class RecsysConfig:
    """Checked recsys settings of one model (or the ``[recsys]`` defaults)."""

    window: Window = DEFAULT_WINDOW
    min_window_lists: int = 10
    catalog_size: int | None = None
    head_share: float = 0.2
    item_column: str = "item_id"
    trend_windows: int = 6
    gini_rise: float = 0.04
    coverage_drop: float = 0.04
    click_grace_s: float = 60.0
    click_kinds: frozenset[str] = frozenset({"click"})
    pending_timeout_s: float = 600.0
    max_tracked: int = 200_000


@dataclass(frozen=True, slots=True)
class RecsysSettings:
    """The ``[recsys]`` defaults and each ``[recsys.models.NAME]`` override."""

    defaults: RecsysConfig = field(default_factory=RecsysConfig)
    models: Mapping[str, RecsysConfig] = field(default_factory=dict)

    def for_model(self, name: str) -> RecsysConfig:
        """The settings of model ``name`` (the defaults when it has no override table)."""
        return self.models.get(name, self.defaults)


def parse_config(section: Mapping[str, Any]) -> RecsysSettings:
    """Check ``[recsys]`` and its ``[recsys.models.NAME]`` tables; ``ConfigError`` names the key path."""
    defaults, per_model = parse_models("recsys", section, KEYS, moved=MOVED)
    models = section.get("models", {})
    for name, sub in models.items():
        for key in SHARED_KEYS & set(sub):
            raise ConfigError(f"recsys.models.{name}.{key}", sub[key],
                              f"no per-model value: set recsys.{key} (it applies to every model)")
    return RecsysSettings(_build(defaults), {name: _build(values) for name, values in per_model.items()})


def _build(values: Mapping[str, Any]) -> RecsysConfig:
    return RecsysConfig(**{**values, "click_kinds": frozenset(values["click_kinds"])})
