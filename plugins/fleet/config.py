"""The ``[fleet]`` config table: window profiles exported for fleet-wide drift, with per-model overrides.

    [fleet]
    window = {type = "time", seconds = 60}   # one profile per model version per window
    align = true                             # time windows start at multiples of window.seconds (wall clock)
    sketch_k = 2000                          # KLL k: rank error ≈ 0.14%, ~45 KB per numeric feature at most
    max_categories = 1000                    # exact category counts up to this many, then a frequent-items sketch
    sample_rows = 500                        # bottom-k row sample for the joint test
    seed = 0                                 # key of the row-sample hash: the same on every replica
    export_reference = true                  # export the reference's profile too (infersight fleet uses it)
    feature_types = { zip = "categorical" }  # pin a feature's kind

``[fleet.models.NAME]`` takes the same keys. The tests, their α, correction and thresholds
are the drift plugin's (``[drift]``), read by ``infersight fleet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.plugin import (
    FeatureType,
    Key,
    Window,
    boolean,
    enum_of,
    int_at_least,
    integer,
    parse_models,
    positive_int,
    table_of,
    window,
)
from plugins.fleet.profiles import MAX_CATEGORIES, SAMPLE_ROWS, SKETCH_K

DEFAULT_WINDOW = Window("time", 1000, 60.0)


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Validated ``[fleet]`` settings for one model."""

    enabled: bool = True
    window: Window = DEFAULT_WINDOW
    align: bool = True
    sketch_k: int = SKETCH_K
    max_categories: int = MAX_CATEGORIES
    sample_rows: int = SAMPLE_ROWS
    seed: int = 0
    export_reference: bool = True
    feature_types: Mapping[str, FeatureType] = field(default_factory=dict)


_D = FleetConfig()

KEYS: dict[str, Key] = {
    "enabled": Key(boolean, _D.enabled),
    "window": Key(window, _D.window),
    "align": Key(boolean, _D.align),
    "sketch_k": Key(int_at_least(8), _D.sketch_k),
    "max_categories": Key(positive_int, _D.max_categories),
    "sample_rows": Key(int_at_least(2), _D.sample_rows),
    "seed": Key(integer, _D.seed),
    "export_reference": Key(boolean, _D.export_reference),
    "feature_types": Key(table_of(enum_of(FeatureType)), {}),
}

MOVED: dict[str, str] = {
    "reference": "models.NAME.reference",
    "window_type": "window.type",
    "window_size": "window.size",
    "window_seconds": "window.seconds",
}


def _build(values: Mapping[str, Any], parent: Mapping[str, Any] | None = None) -> FleetConfig:
    return FleetConfig(
        enabled=values["enabled"], window=values["window"], align=values["align"], sketch_k=values["sketch_k"],
        max_categories=values["max_categories"], sample_rows=values["sample_rows"], seed=values["seed"],
        export_reference=values["export_reference"],
        feature_types={**(parent or {}).get("feature_types", {}), **values["feature_types"]},
    )


def parse_config(section: Mapping[str, Any]) -> tuple[FleetConfig, dict[str, FleetConfig]]:
    """The default config and the per-model configs; ``ConfigError`` names the full key path."""
    defaults, per_model = parse_models("fleet", section, KEYS, moved=MOVED)
    return _build(defaults), {name: _build(v, defaults) for name, v in per_model.items()}
