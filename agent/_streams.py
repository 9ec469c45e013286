"""Streamed outputs: generator and async-generator models under ``@monitor``.

The span covers the whole stream. Our context is attached only while the model's own
code runs (each ``send``/``throw``/``close`` step) and detached before control returns
to the consumer, so no "Failed to detach context" errors appear and the consumer's
context is never ours.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from opentelemetry import trace as trace_api

from agent._monitor import (
    ModelRuntime,
    _attach,
    _Binding,
    _detach,
    _fail,
    _finish,
    _perf,
    _runtime,
    _start,
)
from agent.semconv import ATTR_STREAM_CHUNKS


class _Stream:
    """One streamed call: counts items, keeps a bounded prefix for capture, and closes the span once."""

    __slots__ = ("count", "inputs", "kept", "pid", "rows", "rt", "span", "t0")
    MAX_KEPT = 1_000  # items kept for capture: a long stream must not grow memory without bound

    def __init__(self, rt: ModelRuntime, span: trace_api.Span, pid: str, inputs: Any, rows: int) -> None:
        self.rt, self.span, self.pid, self.inputs, self.rows = rt, span, pid, inputs, rows
        self.t0 = _perf()
        self.count = 0
        self.kept: list[Any] = []

    def add(self, item: Any) -> None:
        """Count a yielded item (and keep it while capture is on and the prefix is short)."""
        self.count += 1
        if self.rt.capture and len(self.kept) < self.MAX_KEPT:
            self.kept.append(item)

    def end(self, exc: BaseException | None = None) -> None:
        """Record the stream's end (or failure) on its span and in the stats; never raises."""
        try:
            self.span.set_attribute(ATTR_STREAM_CHUNKS, self.count)
        except Exception:
            self.rt.agent.count_drop("agent_error")
        if exc is None:
            _finish(self.rt, self.span, self.pid, self.t0, self.inputs, self.rows, self.kept)
        else:
            _fail(self.rt, self.span, exc, self.t0, self.rows)


def _open_stream(binding: _Binding, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Stream, Any] | None:
    """Start a streamed call's span; None when the agent is off or failed (the stream then runs plain)."""
    rt = _runtime(binding)
    if rt is None:
        return None
    try:
        pid, span, ctx, inputs, rows = _start(binding, rt, args, kwargs)
    except Exception:
        rt.agent.count_drop("agent_error")
        return None
    return _Stream(rt, span, pid, inputs, rows), ctx


def wrap_gen(fn: Callable[..., Any], binding: _Binding) -> Callable[..., Any]:
    """Generators: the span covers the whole stream; our context is attached only while the body runs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opened = _open_stream(binding, args, kwargs)
        if opened is None:
            return (yield from fn(*args, **kwargs))
        stream, ctx = opened
        gen = fn(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = _attach(ctx)
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = gen.throw(exc)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                _detach(token)
                stream.end()
                return stop.value
            except BaseException as exc:
                _detach(token)
                stream.end(exc)
                raise
            _detach(token)
            stream.add(item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = _attach(ctx)
                try:
                    gen.close()
                finally:
                    _detach(token)
                    stream.end()
                raise
            except BaseException as exc:
                to_throw = exc

    return wrapper


def wrap_async_gen(fn: Callable[..., Any], binding: _Binding) -> Callable[..., Any]:
    """Async generators: as generators, with ``asend``/``athrow``."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        opened = _open_stream(binding, args, kwargs)
        if opened is None:
            async for item in fn(*args, **kwargs):
                yield item
            return
        stream, ctx = opened
        agen = fn(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = _attach(ctx)
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = await agen.athrow(exc)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                _detach(token)
                stream.end()
                return
            except BaseException as exc:
                _detach(token)
                stream.end(exc)
                raise
            _detach(token)
            stream.add(item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = _attach(ctx)
                try:
                    await agen.aclose()
                finally:
                    _detach(token)
                    stream.end()
                raise
            except BaseException as exc:
                to_throw = exc

    return wrapper
