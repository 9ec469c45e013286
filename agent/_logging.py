"""Structured logs: the agent's own structlog logger, exported as OTLP log records.

The agent never calls ``structlog.configure``: it wraps its own sink with its own
processor chain, so an application's structlog configuration stays untouched.

An application's own events reach the agent's log pipeline two ways: ``get_logger``
returns a structlog logger whose events are exported as OTLP log records (and echoed
to stderr), and ``otlp_processor`` is a processor an application that configures
structlog itself appends to its chain. Either way a record emitted inside a monitored
call carries that call's trace and span ids (the OpenTelemetry context is current), and
``ml.model.name`` / ``ml.prediction.id``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import _logs as logs_api
from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry._logs.severity import SeverityNumber

# The OpenTelemetry context key under which a monitored call keeps (prediction id, model name).
PREDICTION_KEY = otel_context.create_key("infersight.prediction")
_RESERVED = frozenset({"event", "timestamp", "level", "trace_id", "span_id", "logger", "_record", "_from_structlog"})

_SEVERITY = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "warning": SeverityNumber.WARN,
    "warn": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "critical": SeverityNumber.FATAL,
    "exception": SeverityNumber.ERROR,
}
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "off": 100}


def add_trace_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: add ``trace_id``/``span_id`` (hex) of the current span, per the OTel spec.

    Inside a monitored call it also adds ``model`` and ``prediction_id``.
    """
    ctx = trace_api.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    prediction = otel_context.get_value(PREDICTION_KEY)
    if isinstance(prediction, tuple):
        event_dict.setdefault("prediction_id", prediction[0])
        event_dict.setdefault("model", prediction[1])
    return event_dict


def _attr_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


class _LevelSink:
    """The methods structlog calls on the logger it wraps, one per level, all handing to ``_emit``."""

    def _emit(self, level: str, event_dict: dict[str, Any]) -> None:
        raise NotImplementedError

    def debug(self, **kw: Any) -> None:
        """Emit at DEBUG."""
        self._emit("debug", kw)

    def info(self, **kw: Any) -> None:
        """Emit at INFO."""
        self._emit("info", kw)

    def warning(self, **kw: Any) -> None:
        """Emit at WARN."""
        self._emit("warning", kw)

    warn = warning

    def error(self, **kw: Any) -> None:
        """Emit at ERROR."""
        self._emit("error", kw)

    def critical(self, **kw: Any) -> None:
        """Emit at FATAL."""
        self._emit("critical", kw)

    exception = error
    msg = info


class _Sink(_LevelSink):
    """The logger structlog wraps: turns an event dict into an OTLP log record (and a stderr line)."""

    def __init__(self, otel_logger: logs_api.Logger, stderr_level: str, stream: TextIO | None) -> None:
        self._otel = otel_logger
        self._stderr_min = _LEVELS.get(stderr_level, 30)
        self._stream = stream
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def _emit(self, level: str, event_dict: dict[str, Any]) -> None:
        try:
            event = str(event_dict.pop("event", ""))
            event_dict.pop("timestamp", None)
            record = {"event": event, "level": level, **event_dict}
            for listener in self.listeners:
                listener(record)
            attributes = {
                k: _attr_value(v) for k, v in event_dict.items() if k not in ("trace_id", "span_id", "level")
            }
            self._otel.emit(
                timestamp=time.time_ns(),
                severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
                severity_text=level.upper(),
                body=event,
                attributes=attributes,
                event_name=event,
            )
            if self._stream is not None and _LEVELS.get(level, 20) >= self._stderr_min:
                fields = " ".join(f"{k}={_attr_value(v)}" for k, v in attributes.items())
                print(f"infersight {level.upper():7} {event} {fields}", file=self._stream)
        except Exception:
            pass



def _render(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    return dict(event_dict)


def make_logger(
    logger_provider: logs_api.LoggerProvider,
    *,
    level: str = "info",
    stderr_level: str = "warning",
    stream: TextIO | None = sys.stderr,
) -> tuple[Any, _Sink]:
    """Build the agent's structlog logger over an OTLP sink; returns (bound logger, sink)."""
    sink = _Sink(logger_provider.get_logger("infersight"), stderr_level, stream)
    wrapper = structlog.make_filtering_bound_logger(_LEVELS.get(level, 20))
    log = structlog.wrap_logger(
        sink,
        processors=[add_trace_context, _render],
        wrapper_class=wrapper,
        cache_logger_on_first_use=False,
    )
    return log, sink


# -- application logs through the agent's pipeline --------------------------------------

_APP_LOGGERS: dict[tuple[int, str], logs_api.Logger] = {}


def emit_app_event(level: str, event_dict: MutableMapping[str, Any], scope: str) -> None:
    """Export one application event as an OTLP log record through the running agent (none: no-op).

    Runs on the caller's thread, so the current OpenTelemetry context (the monitored
    call's span) gives the record its trace and span ids. Never raises.
    """
    from agent import _state

    running = _state.AGENT
    if running is None:
        return
    try:
        key = (running.generation, scope)
        otel = _APP_LOGGERS.get(key)
        if otel is None:
            if len(_APP_LOGGERS) > 256:
                _APP_LOGGERS.clear()
            otel = _APP_LOGGERS[key] = running.pipelines.logger_provider.get_logger(scope)
        attributes = {str(k): _attr_value(v) for k, v in event_dict.items() if k not in _RESERVED}
        prediction = otel_context.get_value(PREDICTION_KEY)
        if isinstance(prediction, tuple):
            # add_trace_context's plain keys become the namespaced attributes the agent's own records use
            if attributes.get("prediction_id") == prediction[0]:
                del attributes["prediction_id"]
            if attributes.get("model") == prediction[1]:
                del attributes["model"]
            attributes.setdefault("ml.prediction.id", prediction[0])
            attributes.setdefault("ml.model.name", prediction[1])
        otel.emit(
            timestamp=time.time_ns(),
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            severity_text=level.upper(),
            body=str(event_dict.get("event", "")),
            attributes=attributes,
        )
    except Exception:
        pass


class otlp_processor:  # noqa: N801 - used as a structlog processor, named like one
    """structlog processor that also exports each event as an OTLP log record through the agent.

    Append it to the processor chain of an application that configures structlog itself,
    before the renderer; it returns the event unchanged, so the application's own output
    stays as it was::

        structlog.configure(processors=[..., agent.otlp_processor(), structlog.dev.ConsoleRenderer()])
    """

    def __init__(self, scope: str = "app") -> None:
        self.scope = scope

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        emit_app_event(method_name if method_name in _SEVERITY else "info", event_dict, self.scope)
        return event_dict


class _AppSink(_LevelSink):
    """What ``get_logger`` wraps: exports each event, and echoes it as one line to a stream."""

    def __init__(self, scope: str, echo: bool | TextIO) -> None:
        self.scope = scope
        self.echo = echo

    def _emit(self, level: str, event_dict: dict[str, Any]) -> None:
        emit_app_event(level, event_dict, self.scope)
        stream = (sys.stderr if self.echo is True else None) if isinstance(self.echo, bool) else self.echo
        if stream is not None:
            try:
                fields = " ".join(f"{k}={_attr_value(v)}" for k, v in event_dict.items() if k not in _RESERVED)
                print(f"{level.upper():7} [{self.scope}] {event_dict.get('event', '')} {fields}".rstrip(),
                      file=stream)
            except Exception:
                pass



def get_logger(name: str = "app", *, level: str = "info", echo: bool | TextIO = True) -> Any:
    """A structlog logger for application code whose events are exported through the agent's log pipeline.

    Usable before ``init`` (events are exported once an agent runs). ``echo`` also prints
    each event as one line: to stderr (``True``), to a given stream, or not (``False``).
    """
    return structlog.wrap_logger(
        _AppSink(name, echo),
        processors=[add_trace_context, _render],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, 20)),
        cache_logger_on_first_use=False,
    )
