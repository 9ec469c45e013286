"""ASGI middleware for model services (FastAPI, Starlette, any ASGI app): prediction ids, trace context, feedback.

    from fastapi import FastAPI
    from agent.asgi import InferSightMiddleware

    app = FastAPI()
    app.add_middleware(InferSightMiddleware)          # or: app = InferSightMiddleware(app)

For every HTTP request it:

- continues the caller's trace: the W3C ``traceparent`` (and ``baggage``) headers are
  extracted with the global OpenTelemetry propagator and made current, so a monitored
  call's span joins the caller's trace as a child of the caller's span. When a server
  span is already current (the OpenTelemetry ASGI instrumentation runs outside this
  middleware), that span stays the parent;
- returns the prediction id of every monitored call made while handling the request in
  the ``X-Prediction-Id`` response header (``header=``; several ids are comma-separated, in
  call order). The header goes out with the response's first bytes, so a call made after
  them (inside a streaming body) is not listed;
- serves ``POST /feedback`` (``feedback_path=``; ``None`` turns it off) without reaching the
  app: a JSON object ``{"prediction_id": ..., "kind": ..., "value": ..., "model": ...,
  "item_id": ..., "position": ..., "timestamp": ..., "attributes": {...}}`` is checked and
  handed to ``agent.log_feedback``. Answers ``201`` with ``{"event_id", "prediction_id",
  "kind"}``; ``400`` with ``{"error": ..., "field": ...}`` naming the bad field (unknown
  fields included); ``405`` for another method; ``413`` above ``max_body`` bytes; ``503``
  when no agent runs.

Pure ASGI: it imports no web framework. Feedback is made durable (``log_feedback`` writes
the feedback store) on a thread of the event loop's default executor, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from agent import _state
from agent.semconv import ATTR_PREDICTION_ID

__all__ = ["DEFAULT_HEADER", "FEEDBACK_FIELDS", "InferSightMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_HEADER = "X-Prediction-Id"
DEFAULT_FEEDBACK_PATH = "/feedback"
DEFAULT_MAX_BODY = 64 * 1024
FEEDBACK_FIELDS = ("prediction_id", "kind", "value", "model", "item_id", "position", "timestamp", "attributes")

# The prediction ids of the request being handled (a list shared with threads the request runs code on:
# Starlette runs sync endpoints in a thread with a copy of this context).
_REQUEST_IDS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("infersight_request_ids",
                                                                                 default=None)


class _Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _PredictionIdCollector(SimpleSpanProcessor):
    """Adds the prediction id of each monitored span that ends inside a request to that request's list.

    A ``SimpleSpanProcessor`` that exports nothing: it reads a span only when it ends, like
    the SDK's own processors, so the monitor's fast attribute path stays on for an
    application-owned tracer provider (see ``agent._monitor.attributes_unread_at_start``).
    """

    def __init__(self) -> None:
        super().__init__(_Discard())

    def on_end(self, span: ReadableSpan) -> None:
        ids = _REQUEST_IDS.get()
        if ids is None:
            return
        attrs = span.attributes
        pid = attrs.get(ATTR_PREDICTION_ID) if attrs is not None else None
        if isinstance(pid, str):
            ids.append(pid)

    def shutdown(self) -> None:
        """Nothing to flush."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing to flush."""
        return True


_EQUIPPED: weakref.WeakSet[Any] = weakref.WeakSet()  # tracer providers that have a collector
_EQUIP_LOCK = threading.Lock()


def _equip(provider: Any) -> None:
    """Give ``provider`` (the running agent's tracer provider) one prediction-id collector."""
    with _EQUIP_LOCK:
        if provider in _EQUIPPED or not hasattr(provider, "add_span_processor"):
            return
        provider.add_span_processor(_PredictionIdCollector())
        _EQUIPPED.add(provider)


class _RequestError(Exception):
    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field = status, error, field


class InferSightMiddleware:
    """Pure ASGI middleware: trace context in, ``X-Prediction-Id`` out, and a ready ``POST /feedback`` route."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        header: str | None = DEFAULT_HEADER,
        feedback_path: str | None = DEFAULT_FEEDBACK_PATH,
        max_body: int = DEFAULT_MAX_BODY,
        continue_trace: bool = True,
    ) -> None:
        if header is not None and (not isinstance(header, str) or not header or not header.isascii()):
            raise ValueError(f"InferSightMiddleware(header=...) must be a non-empty ASCII header name, got {header!r}")
        if feedback_path is not None and (not isinstance(feedback_path, str) or not feedback_path.startswith("/")):
            raise ValueError(f"InferSightMiddleware(feedback_path=...) must start with '/', got {feedback_path!r}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ValueError(f"InferSightMiddleware(max_body=...) must be a positive int, got {max_body!r}")
        self.app = app
        self.header = header.lower().encode("latin-1") if header else None
        self.feedback_path = feedback_path
        self.max_body = max_body
        self.continue_trace = continue_trace
        self._generation = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        if self.feedback_path is not None and scope.get("path") == self.feedback_path:
            await self._feedback(scope, receive, send)
            return
        token = None
        if self.continue_trace and not trace_api.get_current_span().get_span_context().is_valid:
            token = otel_context.attach(propagate.extract(_headers(scope.get("headers") or ())))
        ids_token = None
        if self.header is not None:
            self._equip_running_agent()
            ids: list[str] = []
            ids_token = _REQUEST_IDS.set(ids)
            send = self._send_with_ids(send, ids)
        try:
            await self.app(scope, receive, send)
        finally:
            if ids_token is not None:
                _REQUEST_IDS.reset(ids_token)
            if token is not None:
                otel_context.detach(token)

    def _equip_running_agent(self) -> None:
        running = _state.AGENT
        if running is not None and running.generation != self._generation:
            _equip(running.pipelines.tracer_provider)
            self._generation = running.generation

    def _send_with_ids(self, send: Send, ids: list[str]) -> Send:
        header = self.header
        assert header is not None

        async def send_with_ids(message: Message) -> None:
            if message.get("type") == "http.response.start" and ids:
                headers = list(message.get("headers") or ())
                headers.append((header, ",".join(ids).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_ids

    # -- the feedback route ------------------------------------------------------------

    async def _feedback(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _respond(send, 405, {"error": f"use POST on {self.feedback_path}"}, [(b"allow", b"POST")])
            return
        try:
            body = await self._body(receive)
            kwargs = _feedback_kwargs(body)
            running = _state.AGENT
            if running is None:
                raise _RequestError(503, "the InferSight agent is not running")
            from agent import log_feedback

            loop = asyncio.get_running_loop()
            try:
                event = await loop.run_in_executor(None, functools.partial(log_feedback, **kwargs))
            except ValueError as exc:
                raise _RequestError(400, str(exc), _field_of(str(exc))) from None
            if event is None:
                raise _RequestError(503, "the InferSight agent is not running")
        except _RequestError as bad:
            payload: dict[str, Any] = {"error": bad.error}
            if bad.field is not None:
                payload["field"] = bad.field
            await _respond(send, bad.status, payload)
            return
        await _respond(send, 201, {"event_id": event.event_id, "prediction_id": event.prediction_id,
                                   "kind": event.kind})

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                raise _RequestError(400, "the client disconnected before sending the body")
            chunk = message.get("body", b"") or b""
            size += len(chunk)
            if size > self.max_body:
                raise _RequestError(413, f"the body is larger than {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _feedback_kwargs(body: bytes) -> dict[str, Any]:
    """The ``agent.log_feedback`` arguments of a feedback body; ``_RequestError`` naming the field otherwise."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _RequestError(400, f"the body is not JSON: {exc}", "body") from None
    if not isinstance(data, dict):
        raise _RequestError(400, f"the body must be a JSON object, got {type(data).__name__}", "body")
    for key in data:
        if key not in FEEDBACK_FIELDS:
            raise _RequestError(400, f"unknown field {key!r}; expected some of {', '.join(FEEDBACK_FIELDS)}", key)
    pid = data.get("prediction_id")
    if not isinstance(pid, str) or not pid:
        raise _RequestError(400, f"prediction_id must be a non-empty string, got {pid!r}", "prediction_id")
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        raise _RequestError(400, f"kind must be a non-empty string, got {kind!r}", "kind")
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise _RequestError(400, f"model must be a non-empty string, got {model!r}", "model")
    item = data.get("item_id")
    if item is not None and (isinstance(item, bool) or not isinstance(item, str | int)):
        raise _RequestError(400, f"item_id must be a string or an integer, got {item!r}", "item_id")
    position = data.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise _RequestError(400, f"position must be an integer >= 0, got {position!r}", "position")
    ts = data.get("timestamp")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
        raise _RequestError(400, f"timestamp must be seconds since the epoch, got {ts!r}", "timestamp")
    attributes = data.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise _RequestError(400, f"attributes must be a JSON object, got {type(attributes).__name__}", "attributes")
    return {"prediction_id": pid, "kind": kind, "value": data.get("value"), "model": model,
            "item_id": None if item is None else str(item), "position": position, "timestamp": ts,
            "attributes": attributes}


def _field_of(message: str) -> str | None:
    """The field a ``log_feedback`` error names (``"kind: unknown ..."``, ``"log_feedback: kind must ..."``)."""
    text = message.removeprefix("log_feedback: ")
    head = text.split(":", 1)[0] if ":" in text.split(" ", 1)[0] else text.split(" ", 1)[0]
    return head if head in FEEDBACK_FIELDS or head == "event_id" else None


async def _respond(send: Send, status: int, payload: dict[str, Any],
                   extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI header list as the mapping the OpenTelemetry propagator reads (repeated headers comma-joined)."""
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]},{text}" if key in out else text
    return out
