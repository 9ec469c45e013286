"""Feedback as Arize Phoenix span annotations: ``POST {endpoint}/v1/span_annotations``.

Each stored event whose prediction has a span becomes one annotation of that span::

    {"span_id": "<16 hex>", "name": "<feedback kind>", "annotator_kind": "HUMAN",
     "result": {"label": ..., "score": ..., "explanation": ...},
     "metadata": {"prediction_id": ..., "event_id": ..., "model": ..., ...},
     "identifier": "<event id>"}

The identifier makes a re-sent annotation an update, not a second one (Phoenix upserts
on name, span and identifier), so the at-least-once delivery of ``FeedbackExport`` never
shows feedback twice. Phoenix is asked to insert asynchronously (its default): the
annotation of a span it has not received yet waits in its queue instead of failing.

A batch Phoenix refuses as a whole for its content (HTTP 4xx other than 401, 403, 408 and
429) is sent again one annotation at a time, so one bad annotation is skipped (counted)
and the rest go through; every other failure leaves the batch to be retried after a backoff.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agent.plugin import DeliveryError, post_json, redact_url
from plugins.feedback import names as n
from plugins.feedback.config import PhoenixConfig
from plugins.feedback.export import Sent, SpanIds
from plugins.feedback.store import StoredFeedback

__all__ = ["PhoenixSender", "annotation", "annotation_result"]

_MAX_TEXT = 4096  # characters of a label or explanation (a free-text value stays readable, bounded)
_RETRY_STATUSES = frozenset({401, 403, 408, 429})  # auth may be fixed by a restart; the others are transient


def annotation_result(value: Any) -> dict[str, Any]:
    """Phoenix's ``result`` of one feedback value: a label for text, a score for numbers, both for booleans.

    An event without a value (a click) scores 1; an integer (a class) is a score and a
    label; anything else (a list, a table) goes to the explanation as JSON.
    """
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    if value is None:
        score = 1.0
    elif isinstance(value, bool):
        label, score = str(value).lower(), float(value)
    elif isinstance(value, int):
        label, score = str(value), float(value) if abs(value) < 2**53 else None
    elif isinstance(value, float):
        if math.isfinite(value):
            score = value
        else:
            label = str(value)
    elif isinstance(value, str):
        label = value[:_MAX_TEXT]
    else:
        explanation = json.dumps(value, default=str)[:_MAX_TEXT]
    return {"label": label, "score": score, "explanation": explanation}


def annotation(stored: StoredFeedback, span_id: str, annotator_kind: str) -> dict[str, Any]:
    """The span annotation of one stored event."""
    e = stored.event
    metadata: dict[str, Any] = {"prediction_id": e.prediction_id, "event_id": e.event_id, "source": "infersight"}
    for key, value in (("model", e.model), ("item_id", e.item_id), ("position", e.position),
                       ("timestamp", e.timestamp)):
        if value is not None:
            metadata[key] = value
    for key, value in e.attributes.items():
        metadata.setdefault(str(key), value)
    return {"span_id": span_id, "name": e.kind, "annotator_kind": annotator_kind,
            "result": annotation_result(e.value), "metadata": metadata, "identifier": e.event_id}


class PhoenixSender:
    """Turns a batch of stored feedback into span annotations and POSTs them (one request per batch)."""

    def __init__(self, config: PhoenixConfig) -> None:
        self.config = config
        # The URL as logs may show it (our own path suffix is no secret; the endpoint may hold one).
        self.shown = redact_url(config.endpoint.rstrip("/")) + config.url.removeprefix(config.endpoint.rstrip("/"))

    def send(self, rows: list[StoredFeedback], spans: SpanIds) -> Sent:
        """POST the batch's annotations; events without a span (or of a kind left out) are skipped, counted."""
        skipped: dict[str, int] = {}
        data: list[dict[str, Any]] = []
        kinds = self.config.kinds
        for r in rows:
            if kinds and r.event.kind not in kinds:
                skipped[n.SKIP_KIND] = skipped.get(n.SKIP_KIND, 0) + 1
                continue
            span_id = spans.get(r.event.prediction_id, (None, None))[1]
            if not span_id or len(span_id) != 16 or span_id == "0" * 16:
                skipped[n.SKIP_NO_SPAN] = skipped.get(n.SKIP_NO_SPAN, 0) + 1
                continue
            data.append(annotation(r, span_id, self.config.annotator_kind))
        if not data:
            return Sent(0, skipped)
        try:
            self.post(data)
            return Sent(len(data), skipped)
        except DeliveryError as exc:
            if not _refused_content(exc):
                raise
            if len(data) == 1:
                skipped[n.SKIP_REJECTED] = skipped.get(n.SKIP_REJECTED, 0) + 1
                return Sent(0, skipped)
        delivered = 0  # refused as a whole for its content: one at a time, so one bad annotation costs itself
        for item in data:
            try:
                self.post([item])
                delivered += 1
            except DeliveryError as exc:
                if not _refused_content(exc):
                    raise  # the annotations already sent are upserted again on the retry
                skipped[n.SKIP_REJECTED] = skipped.get(n.SKIP_REJECTED, 0) + 1
        return Sent(delivered, skipped)

    def post(self, data: list[dict[str, Any]]) -> None:
        """One POST of ``{"data": [...]}``; ``DeliveryError`` (secret-free message) unless Phoenix answers 2xx."""
        try:
            body = json.dumps({"data": data}, allow_nan=False, default=str).encode()
        except ValueError as exc:
            raise DeliveryError("invalid_request", f"cannot encode annotations for {self.shown}: "
                                f"{type(exc).__name__}", retryable=False) from None
        post_json(self.config.url, body, headers=self.config.headers, timeout=self.config.timeout_s,
                  retry_statuses=_RETRY_STATUSES)


def _refused_content(exc: DeliveryError) -> bool:
    """Phoenix answered and refused what was sent (not an outage, not an auth problem a restart may fix)."""
    return exc.reason.startswith("http_") and not exc.retryable
