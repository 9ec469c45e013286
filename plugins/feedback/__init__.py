"""Built-in feedback plugin: durable feedback logging, joins to predictions, realized performance, OTLP export."""

from __future__ import annotations

from plugins.feedback.plugin import FeedbackPlugin
from plugins.feedback.store import FeedbackStore

__all__ = ["FeedbackPlugin", "FeedbackStore", "make_plugin"]


def make_plugin() -> FeedbackPlugin:
    """A fresh feedback plugin instance for the plugin manager."""
    return FeedbackPlugin()
