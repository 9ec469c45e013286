"""The hot path: ``@monitor`` and ``observe``.

Written to the contract of OpenTelemetry's ``SpanProcessor.on_start``: it runs on the
caller's thread, never blocks, never does I/O, never takes a lock the worker holds,
and never changes what the wrapped function returns or raises. Work that can be done
once is done at decoration or bind time (signature inspection, attribute dicts,
instrument lookup). Metrics are not recorded here: each call appends one tuple to a
bounded deque that the worker drains into the OpenTelemetry instruments.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.trace import SpanKind, Status, StatusCode

from agent import _openinference, _state
from agent._artifacts import digest_of
from agent._capture import Capture
from agent._logging import PREDICTION_KEY
from agent._types import ModelInfo
from agent.semconv import (
    ATTR_ARTIFACT_SHA256,
    ATTR_BATCH_SIZE,
    ATTR_ERROR_TYPE,
    ATTR_MODEL_NAME,
    ATTR_MODEL_VERSION,
    ATTR_PREDICTION_ID,
    ATTR_TASK,
    SPAN_PREDICT,
)

if TYPE_CHECKING:
    from agent._agent import Agent

F = TypeVar("F", bound=Callable[..., Any])

_PID_KEY = PREDICTION_KEY  # value: (prediction id, model name)
_perf = time.perf_counter
_attach = otel_context.attach
_detach = otel_context.detach
_set_value = otel_context.set_value
_set_span = trace_api.set_span_in_context


def current_prediction_id() -> str | None:
    """The prediction id of the monitored call running in this context, or None outside one."""
    value = otel_context.get_value(_PID_KEY)
    return value[0] if isinstance(value, tuple) else None


def current_model() -> str | None:
    """The model name of the monitored call running in this context, or None outside one."""
    value = otel_context.get_value(_PID_KEY)
    return value[1] if isinstance(value, tuple) else None


def _batch_size(x: Any) -> int:
    """Rows in a call's input: 2-D arrays, DataFrames and lists of rows count N, anything else 1."""
    t = type(x)
    if t is dict:
        return 1
    if t is np.ndarray:
        return int(x.shape[0]) if x.ndim >= 2 else 1
    if t is list or t is tuple:
        return len(x) if x and isinstance(x[0], Mapping | list | tuple | np.ndarray) else 1
    if t.__name__ == "DataFrame":
        return len(x)
    return 1


class ModelRuntime:
    """Everything the hot path needs for one (model, version) under one agent generation."""

    __slots__ = (
        "agent",
        "attrs",
        "capture",
        "capture_cap",
        "captures",
        "fast_attributes",
        "generation",
        "info",
        "new_id",
        "openinference",
        "sample_rate",
        "span_name",
        "stats",
        "stats_cap",
        "tracer",
    )  # fmt: skip

    def __init__(self, agent: Agent, info: ModelInfo) -> None:
        self.agent = agent
        self.generation = agent.generation
        self.info = info
        self.tracer = agent.tracer
        self.fast_attributes = SDK_ATTRIBUTES_PATCHABLE and (
            "traces" not in agent.pipelines.reused or attributes_unread_at_start(agent.pipelines.tracer_provider)
        )
        self.span_name = SPAN_PREDICT.format(model=info.name)
        self.attrs: dict[str, Any] = {ATTR_MODEL_NAME: info.name, ATTR_MODEL_VERSION: info.version}
        if info.task:
            self.attrs[ATTR_TASK] = info.task
        digest = digest_of(info.name, agent.configured_artifacts)
        if digest:
            self.attrs[ATTR_ARTIFACT_SHA256] = digest
        self.attrs.update(_openinference.static_attributes(info))  # {} unless OpenInference is on
        self.openinference = _openinference.call_writer(info, self.fast_attributes)  # None unless OI and capture
        self.capture = info.capture
        self.sample_rate = info.sample_rate
        self.new_id = agent.ids
        self.stats: deque[tuple[float, str | None, int]] = agent.stats_queue_for(info)
        self.stats_cap = agent.settings.agent["stats_queue_size"]
        self.captures: deque[Capture] = agent.captures
        self.capture_cap = agent.settings.agent["queue_size"]

    def record(self, duration: float, error: str | None, rows: int) -> None:
        """Queue one call's numbers for the worker (bounded: counted as a drop when full)."""
        if len(self.stats) < self.stats_cap:
            self.stats.append((duration, error, rows))
        else:
            self.agent.count_drop("stats")

    def queue_capture(self, pid: str, inputs: Any, output: Any, span: trace_api.Span) -> None:
        """Queue a sampled call's inputs and outputs for the plugins (bounded, never waits)."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            return
        if len(self.captures) >= self.capture_cap:
            self.agent.count_drop("capture")
            return
        if type(inputs) is dict:
            inputs = dict(inputs)  # the caller may mutate its dict after the call returns
        elif type(inputs) is list:
            inputs = list(inputs)
        ctx = span.get_span_context()
        self.captures.append(Capture(self.info, pid, time.time(), inputs, output, ctx.trace_id, ctx.span_id))


class _Binding:
    """Per-decoration state: static settings, plus the runtime cached for the current generation."""

    def __init__(
        self,
        fn: Callable[..., Any],
        model: str,
        version: str | None,
        task: str | None,
        capture: bool | None,
        sample_rate: float | None,
        prediction_id: Callable[..., str] | None,
        inputs: str | None,
    ) -> None:
        self.model = model
        self.version = version
        self.task = task
        self.capture = capture
        self.sample_rate = sample_rate
        self.id_fn = prediction_id
        self.rt: ModelRuntime | None = None
        self.generation = -1
        params = list(inspect.signature(fn).parameters.values())
        if params and params[0].name in ("self", "cls"):
            params = params[1:]
        names = [p.name for p in params]
        chosen = inputs if inputs is not None else (names[0] if names else None)
        self.input_name = chosen
        self.input_index = -1
        if chosen is not None and chosen in names:
            idx = names.index(chosen)
            if params[idx].kind in (params[idx].POSITIONAL_ONLY, params[idx].POSITIONAL_OR_KEYWORD):
                self.input_index = idx + (1 if len(params) != len(inspect.signature(fn).parameters) else 0)

    def bind(self, agent: Agent) -> ModelRuntime:
        """Build (and cache) the runtime for ``agent``'s current generation."""
        info = agent.register_model(
            self.model, version=self.version, task=self.task, capture=self.capture, sample_rate=self.sample_rate
        )
        rt = ModelRuntime(agent, info)
        self.rt, self.generation = rt, agent.generation
        return rt

    def inputs_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The argument holding the model inputs (first parameter, or the one named ``inputs=``)."""
        if 0 <= self.input_index < len(args):
            return args[self.input_index]
        if self.input_name is not None and self.input_name in kwargs:
            return kwargs[self.input_name]
        return kwargs or None

    def make_id(self, rt: ModelRuntime, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The prediction id: from the user's callable when given (falling back on error), else generated."""
        if self.id_fn is not None:
            try:
                return str(self.id_fn(*args, **kwargs))
            except Exception:
                rt.agent.count_drop("prediction_id")
        return rt.new_id()


def _runtime(binding: _Binding) -> ModelRuntime | None:
    agent = _state.AGENT
    if agent is None or agent.disabled:
        return None
    if binding.generation == agent.generation and binding.rt is not None:
        return binding.rt
    try:
        return binding.bind(agent)
    except Exception:
        return None


def _sdk_attributes_are_patchable() -> bool:
    """Whether SDK spans keep attributes in ``_attributes._dict`` (checked once, on a throwaway provider).

    The SDK validates every attribute value on every span (``_clean_attribute_value``),
    which costs about a quarter of a span's creation. Our attribute values are strings
    and ints we built ourselves, so when the agent owns the tracer provider (its samplers
    do not read attributes) it writes them straight into the span's attribute dict.
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider

        span: Any = TracerProvider(shutdown_on_exit=False).get_tracer("probe").start_span("probe")
        store = span._attributes._dict
        store["probe"] = 1
        ok = dict(span.attributes) == {"probe": 1}
        span.end()
        return bool(ok)
    except Exception:
        return False


SDK_ATTRIBUTES_PATCHABLE = _sdk_attributes_are_patchable()


def attributes_unread_at_start(provider: Any) -> bool:
    """Whether an application's SDK tracer provider never reads a span's attributes while starting it.

    Then the fast path (attributes written right after ``start_span``) gives the same
    spans as passing them to ``start_span``: the sampler is one of the SDK's built-ins
    that decide on the trace id and parent alone, every span processor is the SDK's
    Simple or Batch processor (they read spans at ``on_end``), and the span limits leave
    room for the agent's few short attributes. Anything else takes the validated path.
    """
    try:
        from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, StaticSampler, TraceIdRatioBased

        def plain(sampler: Any) -> bool:
            return type(sampler) in (StaticSampler, TraceIdRatioBased)

        sampler = provider.sampler
        if type(sampler) is ParentBased:
            delegates = [getattr(sampler, name, None) for name in (
                "_root", "_remote_parent_sampled", "_remote_parent_not_sampled",
                "_local_parent_sampled", "_local_parent_not_sampled")]
            ok_sampler = all(d is not None and plain(d) for d in delegates)
        else:
            ok_sampler = plain(sampler)
        active = provider._active_span_processor
        if type(active) is not SynchronousMultiSpanProcessor:
            return False
        sdk_on_start = {SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start}
        ok_processors = all(isinstance(p, BatchSpanProcessor | SimpleSpanProcessor)
                            and type(p).on_start in sdk_on_start  # not a subclass that reads attributes
                            for p in active._span_processors)
        limits = provider._span_limits
        ok_limits = (limits.max_span_attributes is None or limits.max_span_attributes >= 16) and (
            limits.max_span_attribute_length is None or limits.max_span_attribute_length >= 128)
        return bool(ok_sampler and ok_processors and ok_limits)
    except Exception:
        return False


def _start(binding: _Binding, rt: ModelRuntime, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[
    str, trace_api.Span, Any, Any, int
]:
    pid = binding.make_id(rt, args, kwargs)
    inputs = binding.inputs_of(args, kwargs)
    rows = _batch_size(inputs)
    attrs = rt.attrs.copy()
    attrs[ATTR_PREDICTION_ID] = pid
    attrs[ATTR_BATCH_SIZE] = rows
    if rt.fast_attributes:
        span = rt.tracer.start_span(rt.span_name, kind=SpanKind.INTERNAL)
        store = getattr(span, "_attributes", None)  # absent on a sampled-out (non-recording) span
        if store is not None:
            store._dict.update(attrs)
    else:
        span = rt.tracer.start_span(rt.span_name, kind=SpanKind.INTERNAL, attributes=attrs)
    ctx = _set_value(_PID_KEY, (pid, rt.info.name), _set_span(span))
    return pid, span, ctx, inputs, rows


def _fail(rt: ModelRuntime, span: trace_api.Span, exc: BaseException, t0: float, rows: int) -> None:
    """Record a failed call on its span and in the stats; never raises."""
    etype = type(exc).__qualname__
    try:
        # record_exception formats the exception: an exception whose __str__ raises must not cost
        # the call its span and metrics, so it is guarded apart from the rest.
        span.record_exception(exc)
    except Exception:
        rt.agent.count_drop("agent_error")
    try:
        span.set_attribute(ATTR_ERROR_TYPE, etype)
        span.set_status(Status(StatusCode.ERROR, etype))
    except Exception:
        rt.agent.count_drop("agent_error")
    try:
        span.end()
        rt.record(_perf() - t0, etype, rows)
    except Exception:
        rt.agent.count_drop("agent_error")


def _finish(
    rt: ModelRuntime, span: trace_api.Span, pid: str, t0: float, inputs: Any, rows: int, result: Any
) -> None:
    """Close a successful call: OpenInference values when on, end the span, queue stats and capture; never raises."""
    try:
        if rt.openinference is not None:  # span attributes must be set before the span ends
            rt.openinference(span, inputs, result, rows)
        span.end()
        rt.record(_perf() - t0, None, rows)
        if rt.capture:
            rt.queue_capture(pid, inputs, result, span)
    except Exception:
        rt.agent.count_drop("agent_error")


def _wrap_sync(fn: Callable[..., Any], binding: _Binding) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = _runtime(binding)
        if rt is None:
            return fn(*args, **kwargs)
        try:
            pid, span, ctx, inputs, rows = _start(binding, rt, args, kwargs)
            token = _attach(ctx)
        except Exception:
            rt.agent.count_drop("agent_error")
            return fn(*args, **kwargs)
        t0 = _perf()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            _fail(rt, span, exc, t0, rows)
            raise
        _detach(token)
        _finish(rt, span, pid, t0, inputs, rows, result)
        return result

    return wrapper


def _wrap_async(fn: Callable[..., Any], binding: _Binding) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = _runtime(binding)
        if rt is None:
            return await fn(*args, **kwargs)
        try:
            pid, span, ctx, inputs, rows = _start(binding, rt, args, kwargs)
            token = _attach(ctx)
        except Exception:
            rt.agent.count_drop("agent_error")
            return await fn(*args, **kwargs)
        t0 = _perf()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            _fail(rt, span, exc, t0, rows)
            raise
        _detach(token)
        _finish(rt, span, pid, t0, inputs, rows, result)
        return result

    return wrapper


def monitor(
    model: str,
    *,
    version: str | None = None,
    task: str | None = None,
    capture: bool | None = None,
    sample_rate: float | None = None,
    prediction_id: Callable[..., str] | None = None,
    inputs: str | None = None,
) -> Callable[[F], F]:
    """Decorate an inference function (sync, async, generator or async generator) to monitor it.

    ``version``/``task``/``capture``/``sample_rate`` override ``[models.NAME]`` in config
    when given. ``prediction_id`` is a callable taking the function's arguments and
    returning the id to use; by default ids are generated. ``inputs`` names the
    parameter holding the model inputs (default: the first, skipping ``self``).
    """
    if not isinstance(model, str) or not model:
        raise ValueError("monitor(model=...) must be a non-empty string")
    if sample_rate is not None and not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"monitor(sample_rate=...) must be between 0 and 1, got {sample_rate!r}")

    def decorate(fn: F) -> F:
        binding = _Binding(fn, model, version, task, capture, sample_rate, prediction_id, inputs)
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            from agent._streams import wrap_async_gen, wrap_gen

            wrap = wrap_async_gen if inspect.isasyncgenfunction(fn) else wrap_gen
            return wrap(fn, binding)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):
            return _wrap_async(fn, binding)  # type: ignore[return-value]
        return _wrap_sync(fn, binding)  # type: ignore[return-value]

    return decorate


class Observation:
    """A monitored call in ``with observe(...) as call:`` form; set the output with ``call.set_output``."""

    def __init__(self, binding: _Binding, inputs: Any) -> None:
        self._binding = binding
        self._inputs = inputs
        self._output: Any = None
        self._rt: ModelRuntime | None = None
        self._span: trace_api.Span | None = None
        self._token: Any = None
        self._t0 = 0.0
        self._rows = 1
        self.prediction_id: str | None = None

    def set_output(self, output: Any) -> None:
        """Record the model's output (captured for plugins when capture is on)."""
        self._output = output

    def __enter__(self) -> Observation:
        rt = _runtime(self._binding)
        if rt is None:
            return self
        try:
            args = (self._inputs,) if self._inputs is not None else ()
            pid, span, ctx, _, self._rows = _start(self._binding, rt, args, {})
            self._token = _attach(ctx)
        except Exception:
            rt.agent.count_drop("agent_error")
            return self
        self._rt, self._span, self.prediction_id = rt, span, pid
        self._t0 = _perf()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        rt, span = self._rt, self._span
        if rt is None or span is None:
            return
        _detach(self._token)
        if exc is not None:
            _fail(rt, span, exc, self._t0, self._rows)
        else:
            _finish(rt, span, self.prediction_id or "", self._t0, self._inputs, self._rows, self._output)


def observe(
    model: str,
    *,
    inputs: Any = None,
    version: str | None = None,
    task: str | None = None,
    capture: bool | None = None,
    sample_rate: float | None = None,
) -> Observation:
    """Monitor a block of code as one prediction: ``with agent.observe(model="m", inputs=x) as call:``."""
    key = (model, version, task, capture, sample_rate)
    binding = _OBSERVE_BINDINGS.get(key)
    if binding is None:
        binding = _Binding(_observed, model, version, task, capture, sample_rate, None, None)
        _OBSERVE_BINDINGS[key] = binding
    return Observation(binding, inputs)


def _observed(inputs: Any) -> None:
    """Stands in for the function ``observe`` has no access to (its first argument is the inputs)."""


_OBSERVE_BINDINGS: dict[tuple[Any, ...], _Binding] = {}
