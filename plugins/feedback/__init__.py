"""Built-in feedback plugin: durable feedback logging, joins to predictions, realized performance, OTLP export."""

from __future__ import annotations

from plugins.feedback.plugin import FeedbackPlugin, make_plugin
from plugins.feedback.store import FeedbackStore, FeedbackStoreError
from plugins.feedback.training import Impression, impressions

__all__ = ["FeedbackPlugin", "FeedbackStore", "FeedbackStoreError", "Impression", "impressions", "make_plugin"]
