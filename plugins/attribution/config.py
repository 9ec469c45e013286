"""The ``[attribution]`` config table, declared as a key table and checked once at configure time.

```toml
[attribution]
window = { type = "count", size = 500 }   # rows of per-row attributions averaged per window
                                         # (or { type = "time", seconds = 300 })
max_distance = 0.1          # drift when ½‖p − q‖₁ of the normalised mean |attribution| ≥ this
min_rank_correlation = 0.5  # optional: drift also when Spearman's ρ vs the reference ≤ this (off by default)
output_key = "attributions" # a model output {"score": s, "attributions": {feature: value}} carries them
explain_max_rows = 1000     # rows per window a registered explainer is run on (the rest are counted, unexplained)
reference_max_rows = 2000   # reference rows kept (and explained) for reference attributions
label_column = "label"      # optional: a reference column of labels, for permutation importance on the reference
top_k = 5                   # features listed in events
permutation = { rows = 500, repeats = 3, max_predictions = 50000, seed = 0 }
edge_cases = { rows = 5000, min_rows = 20 }

[attribution.models.fraud]  # every key above, for one model
max_distance = 0.2
```

``permutation.rows`` labelled rows make one permutation-importance window;
``max_predictions`` captured rows are remembered to join labels to. ``edge_cases.rows``
recent attributed rows are kept to explain the edge-case slices the validation plugin
flags; a slice with fewer than ``min_rows`` of them is not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.plugin import (
    Key,
    Window,
    int_at_least,
    integer,
    nonempty_string,
    number_between,
    optional,
    parse_models,
    parse_table,
    positive_int,
    window,
)

__all__ = ["KEYS", "SECTION", "AttributionConfig", "ModelSettings", "parse_config"]

SECTION = "attribution"
DEFAULT_WINDOW = Window("count", 500, 300.0)

PERMUTATION_KEYS: dict[str, Key] = {
    "rows": Key(int_at_least(10), 500),
    "repeats": Key(positive_int, 3),
    "max_predictions": Key(positive_int, 50_000),
    "seed": Key(integer, 0),
}

EDGE_CASE_KEYS: dict[str, Key] = {
    "rows": Key(positive_int, 5000),
    "min_rows": Key(positive_int, 20),
}


@dataclass(frozen=True, slots=True)
class Permutation:
    """Built-in permutation importance on labelled rows."""

    rows: int = 500
    repeats: int = 3
    max_predictions: int = 50_000
    seed: int = 0


@dataclass(frozen=True, slots=True)
class EdgeCases:
    """Recent attributed rows kept to explain flagged edge-case slices."""

    rows: int = 5000
    min_rows: int = 20


def permutation(key: str, v: Any) -> Permutation:
    """A ``permutation`` table: ``rows`` (>= 10), ``repeats``, ``max_predictions``, ``seed``."""
    return Permutation(**parse_table(key, v, PERMUTATION_KEYS))


def edge_cases(key: str, v: Any) -> EdgeCases:
    """An ``edge_cases`` table: ``rows`` kept, ``min_rows`` per reported slice."""
    return EdgeCases(**parse_table(key, v, EDGE_CASE_KEYS))


KEYS: dict[str, Key] = {
    "window": Key(window, DEFAULT_WINDOW),
    "max_distance": Key(number_between(0.0, 1.0, open_low=True), 0.1),
    "min_rank_correlation": Key(optional(number_between(-1.0, 1.0)), None),
    "output_key": Key(nonempty_string, "attributions"),
    "explain_max_rows": Key(positive_int, 1000),
    "reference_max_rows": Key(positive_int, 2000),
    "label_column": Key(optional(nonempty_string), None),
    "top_k": Key(positive_int, 5),
    "permutation": Key(permutation, Permutation()),
    "edge_cases": Key(edge_cases, EdgeCases()),
}


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The attribution settings of one model (defaults with its ``[attribution.models.NAME]`` laid over)."""

    window: Window = DEFAULT_WINDOW
    max_distance: float = 0.1
    min_rank_correlation: float | None = None
    output_key: str = "attributions"
    explain_max_rows: int = 1000
    reference_max_rows: int = 2000
    label_column: str | None = None
    top_k: int = 5
    permutation: Permutation = Permutation()
    edge_cases: EdgeCases = EdgeCases()


@dataclass(frozen=True, slots=True)
class AttributionConfig:
    """The whole ``[attribution]`` table: defaults and per-model settings."""

    defaults: ModelSettings
    models: Mapping[str, ModelSettings]

    def for_model(self, name: str) -> ModelSettings:
        """The settings of model ``name``."""
        return self.models.get(name, self.defaults)


def parse_config(section: Mapping[str, Any]) -> AttributionConfig:
    """Check the ``[attribution]`` table; raises ``ConfigError`` naming the key path."""
    defaults, per_model = parse_models(SECTION, section, KEYS)
    return AttributionConfig(ModelSettings(**defaults), {m: ModelSettings(**v) for m, v in per_model.items()})
