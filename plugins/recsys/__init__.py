"""Built-in recsys plugin: degenerate-feedback-loop detection, exposure and popularity-bias metrics."""

from __future__ import annotations

from plugins.recsys.exploration import ExploredList, epsilon_greedy
from plugins.recsys.metrics import RecommendationReport, analyze_recommendations
from plugins.recsys.plugin import RecsysPlugin, WindowReport, make_plugin

__all__ = [
    "ExploredList",
    "RecommendationReport",
    "RecsysPlugin",
    "WindowReport",
    "analyze_recommendations",
    "epsilon_greedy",
    "make_plugin",
]
