"""Per-model validation state: the schema, reference summaries, the open window and edge-case buffers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.plugin import columns_from_rows, to_numeric
from plugins.validation.config import ModelSettings
from plugins.validation.edgecases import NO_BIN, LabelledWindow, PredictionStore, bin_edges, bin_index
from plugins.validation.outliers import RobustRange, fit_range
from plugins.validation.schema import NUMERIC_TYPES, Schema, infer_schema, merge_schemas
from plugins.validation.validate import ValidationResult, Violation

__all__ = ["ModelState", "WindowCounts", "build_state", "reference_columns"]


@dataclass(slots=True)
class WindowCounts:
    """Counts accumulated since the window opened (reset when it closes)."""

    start: float | None = None
    rows: int = 0
    counts: dict[tuple[str, Violation], int] = field(default_factory=dict)
    examples: dict[tuple[str, Violation], list[Any]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    outliers: dict[str, int] = field(default_factory=dict)
    outlier_checked: dict[str, int] = field(default_factory=dict)
    missing_rates: dict[str, float] = field(default_factory=dict)  # filled when the window closes

    def add(self, res: ValidationResult, max_examples: int) -> None:
        """Fold one batch's result into the window."""
        self.rows += res.rows
        for key, n in res.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        for key, ex in res.examples.items():
            held = self.examples.setdefault(key, [])
            held.extend(ex[: max(0, max_examples - len(held))])
        for name, n in res.missing.items():
            self.missing[name] = self.missing.get(name, 0) + n
        for name, n in res.outliers.items():
            self.outliers[name] = self.outliers.get(name, 0) + n
        for name, n in res.outlier_checked.items():
            self.outlier_checked[name] = self.outlier_checked.get(name, 0) + n


@dataclass(slots=True)
class ModelState:
    """Everything the plugin keeps for one model."""

    name: str
    settings: ModelSettings
    version: str = ""
    schema: Schema | None = None
    ranges: dict[str, RobustRange] = field(default_factory=dict)
    edges: dict[str, np.ndarray] = field(default_factory=dict)
    bin_features: tuple[str, ...] = ()
    store: PredictionStore | None = None
    labelled: LabelledWindow | None = None
    labels_since: float | None = None  # when the first label not yet reported arrived
    window: WindowCounts = field(default_factory=WindowCounts)

    def bins_for(self, numeric: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Reference-quantile bin codes (n x bin_features) for a batch's numeric feature values."""
        out = np.full((n, len(self.bin_features)), NO_BIN, dtype=np.uint8)
        for j, name in enumerate(self.bin_features):
            vals = numeric.get(name)
            if vals is not None:
                out[:, j] = bin_index(vals, self.edges[name])
        return out


def reference_columns(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reference columns as schema inference reads them: 1-D columns normalised, array-valued ones kept whole."""
    out: dict[str, np.ndarray] = {}
    for name, col in columns.items():
        arr = np.asarray(col)
        # An array-valued feature (rows x dim) stays one column; flattening it would mix rows.
        out[name] = arr if arr.ndim >= 2 else columns_from_rows({name: arr})[name]
    return out


def build_state(name: str, settings: ModelSettings, reference: Mapping[str, np.ndarray] | None) -> ModelState:
    """Schema = inferred from reference (if any), then the schema file, then config feature tables."""
    key = f"validation.models.{name}"
    schema = Schema()
    if reference is not None and settings.infer_from_reference:
        schema = infer_schema(reference, tolerance=settings.range_tolerance)
    if settings.schema is not None:
        schema = Schema(features={**schema.features, **settings.schema.features},
                        allow_unknown=settings.schema.allow_unknown)
    schema = merge_schemas(schema, settings.features, key, allow_unknown=settings.allow_unknown)
    # An empty schema would flag every feature as unknown: wait for reference data instead.
    state = ModelState(name=name, settings=settings, schema=schema if len(schema) else None)
    if reference is None or state.schema is None:
        return state
    for fname, fs in state.schema.features.items():
        col = reference.get(fname)
        if col is None or fs.type not in NUMERIC_TYPES or np.ndim(col) != 1:
            continue
        values, _ = to_numeric(np.asarray(col))
        rng = fit_range(values, settings.outliers)
        if rng is not None:
            state.ranges[fname] = rng
        edges = bin_edges(values, settings.edge_cases.bins)
        if edges.size:
            state.edges[fname] = edges
    state.bin_features = tuple(state.edges)
    state.store = PredictionStore(settings.edge_cases.max_predictions, len(state.bin_features))
    state.labelled = LabelledWindow(settings.edge_cases.max_labelled, len(state.bin_features))
    return state
