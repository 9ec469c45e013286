"""OTLP/JSON lines, as the OpenTelemetry Collector's file exporter writes them, to and from protobuf.

The encoding is the protobuf JSON mapping with lowerCamelCase field names, enums as
integers, 64-bit integers as strings, default values omitted, compact separators, and
one departure from that mapping: ``traceId``, ``spanId`` and ``parentSpanId`` are
lowercase hex strings, not base64. The agent's own file exporter must write exactly
what :func:`to_otlp_json` returns.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from tests.support.otlp import (
    REQUEST_TYPES,
    ExportRequest,
    LogView,
    MetricPoint,
    SignalName,
    SpanView,
    flatten_log_records,
    flatten_metric_points,
    flatten_spans,
)

__all__ = [
    "flatten_log_records",
    "flatten_metric_points",
    "flatten_spans",
    "parse_otlp_json",
    "read_log_records",
    "read_metric_points",
    "read_otlp_json_lines",
    "read_spans",
    "to_otlp_json",
]

# Ids are the only bytes fields in trace, metric (exemplar) and log requests.
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _map_ids(node: Any, convert: Any) -> Any:
    """Apply ``convert`` to every id field value, recursively; attribute keys are values, so never hit."""
    if isinstance(node, dict):
        return {
            k: convert(v) if k in _ID_FIELDS and isinstance(v, str) else _map_ids(v, convert) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_map_ids(v, convert) for v in node]
    return node


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_b64(value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise ValueError(f"OTLP/JSON id {value!r} is not a hex string") from exc
    return base64.b64encode(raw).decode("ascii")


def to_otlp_json(message: Message) -> str:
    """Encode one export request as one line of OTLP/JSON (no trailing newline)."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True, preserving_proto_field_name=False)
    return json.dumps(_map_ids(data, _b64_to_hex), separators=(",", ":"))


def parse_otlp_json(text: str, signal: SignalName) -> ExportRequest:
    """Decode one OTLP/JSON document into the signal's Export*ServiceRequest."""
    if signal not in REQUEST_TYPES:
        raise ValueError(f"signal={signal!r}: expected one of {sorted(REQUEST_TYPES)}")
    data = _map_ids(json.loads(text), _hex_to_b64)
    message: ExportRequest = json_format.ParseDict(data, REQUEST_TYPES[signal]())
    return message


def read_otlp_json_lines(path: str | Path, signal: SignalName) -> list[ExportRequest]:
    """Every export request in a file of OTLP/JSON lines (blank lines skipped), in file order."""
    requests: list[ExportRequest] = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                requests.append(parse_otlp_json(line, signal))
            except (ValueError, json_format.ParseError) as exc:
                raise ValueError(f"{path}:{number}: not an OTLP/JSON {signal} request: {exc}") from exc
    return requests


def read_spans(path: str | Path) -> list[SpanView]:
    """Flattened spans of a traces OTLP/JSON lines file."""
    return flatten_spans(read_otlp_json_lines(path, "traces"))


def read_metric_points(path: str | Path, name: str | None = None) -> list[MetricPoint]:
    """Flattened data points (of metric ``name`` when given) of a metrics OTLP/JSON lines file."""
    return flatten_metric_points(read_otlp_json_lines(path, "metrics"), name)


def read_log_records(path: str | Path) -> list[LogView]:
    """Flattened log records of a logs OTLP/JSON lines file."""
    return flatten_log_records(read_otlp_json_lines(path, "logs"))
