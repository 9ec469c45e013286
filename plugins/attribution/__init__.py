"""Interpretability as monitoring: which features drive a model's predictions, and whether that changed.

Public surface: ``make_plugin`` (the ``attribution`` entry point); the application's
registrations ``set_explainer``, ``set_predictor``, ``set_reference_attributions``,
``clear``; the ready explainer ``linear_explainer``; and the pure scoring behind the
plugin (``compare``, ``rank_correlation``, ``distance``, ``permutation_importance``).
"""

from __future__ import annotations

from plugins.attribution.config import AttributionConfig, ModelSettings, parse_config
from plugins.attribution.explainers import linear_explainer
from plugins.attribution.plugin import AttributionPlugin, as_attributions, make_plugin
from plugins.attribution.registry import clear, set_explainer, set_predictor, set_reference_attributions
from plugins.attribution.stats import (
    AttributionDrift,
    compare,
    default_loss,
    distance,
    parse_slice,
    permutation_importance,
    rank_correlation,
)

__all__ = [
    "AttributionConfig",
    "AttributionDrift",
    "AttributionPlugin",
    "ModelSettings",
    "as_attributions",
    "clear",
    "compare",
    "default_loss",
    "distance",
    "linear_explainer",
    "make_plugin",
    "parse_config",
    "parse_slice",
    "permutation_importance",
    "rank_correlation",
    "set_explainer",
    "set_predictor",
    "set_reference_attributions",
]
