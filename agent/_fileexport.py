"""File exporters: OTLP/JSON lines, one export request per line, one size-rotated file per signal.

The encoding is the one the OpenTelemetry Collector's file exporter writes: the
protobuf JSON mapping with lowerCamelCase names, enums as integers, 64-bit integers
as strings, and trace/span ids as hex strings (OTLP/JSON's one departure from the
plain protobuf mapping, which would use base64).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> Any:
    """Rewrite base64 id fields as hex, recursively (OTLP/JSON encodes ids as hex)."""
    if isinstance(node, dict):
        return {
            k: (base64.b64decode(v).hex() if k in _ID_FIELDS and isinstance(v, str) else _hex_ids(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def to_otlp_json(message: Message) -> str:
    """Encode an OTLP export request as one line of OTLP/JSON."""
    data = MessageToDict(message, use_integers_for_enums=True, preserving_proto_field_name=False)
    return json.dumps(_hex_ids(data), separators=(",", ":"))


class RotatingLineWriter:
    """Append lines to ``path``; rotate to ``path.1`` ... ``path.N`` when it passes ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, max_files: int, file_mode: int = 0o600) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.file_mode = file_mode
        self._lock = threading.Lock()
        ensure_dir(path.parent, dir_mode(file_mode))

    def write(self, line: str) -> None:
        """Append one line (a newline is added) and rotate when the file is over the limit."""
        data = (line + "\n").encode()
        with self._lock:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.file_mode)
            with os.fdopen(fd, "ab") as fh:
                fh.write(data)

    def _rotate(self) -> None:
        for i in range(self.max_files - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        oldest = self.path.with_name(f"{self.path.name}.{self.max_files}")
        if oldest.exists():
            oldest.unlink()


class FileSpanExporter(SpanExporter):
    """Writes spans as OTLP/JSON lines to ``traces.jsonl``."""

    def __init__(self, writer: RotatingLineWriter) -> None:
        self._writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode and append one export request."""
        try:
            self._writer.write(to_otlp_json(encode_spans(spans)))
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: each write opens and closes the file."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are unbuffered; always flushed."""
        return True


class FileMetricExporter(MetricExporter):
    """Writes metrics as OTLP/JSON lines to ``metrics.jsonl`` (cumulative temporality)."""

    def __init__(self, writer: RotatingLineWriter) -> None:
        super().__init__(preferred_temporality={}, preferred_aggregation={})
        self._writer = writer

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Encode and append one export request."""
        try:
            self._writer.write(to_otlp_json(encode_metrics(metrics_data)))
        except OSError:
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Writes are unbuffered; always flushed."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release."""


class FileLogExporter(LogRecordExporter):
    """Writes log records as OTLP/JSON lines to ``logs.jsonl``."""

    def __init__(self, writer: RotatingLineWriter) -> None:
        self._writer = writer

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Encode and append one export request."""
        try:
            self._writer.write(to_otlp_json(encode_logs(batch)))
        except OSError:
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are unbuffered; always flushed."""
        return True


def ensure_dir(path: Path, mode: int) -> None:
    """Create ``path`` and any missing parents with ``mode`` (``mkdir(parents=True)`` ignores it for parents).

    Directories that already exist are left as they are.
    """
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:
            pass


def dir_mode(file_mode: int) -> int:
    """The directory mode that goes with ``file_mode``: search permission wherever reading is allowed."""
    return file_mode | ((file_mode & 0o444) >> 2)


def file_writers(directory: Path, max_bytes: int, max_files: int,
                 file_mode: int = 0o600) -> dict[str, RotatingLineWriter]:
    """One writer per signal under ``directory/telemetry``: traces, metrics, logs (files created ``file_mode``)."""
    base = directory / "telemetry"
    return {
        signal: RotatingLineWriter(base / f"{signal}.jsonl", max_bytes, max_files, file_mode)
        for signal in ("traces", "metrics", "logs")
    }


