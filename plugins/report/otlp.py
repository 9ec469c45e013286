"""Streaming access to the agent's OTLP/JSON files: file order, line parsing and attribute decoding.

Lines are parsed with :mod:`json` into plain dicts (never protobuf objects): a data
directory can hold a million spans, and only a few fields of each are read. A line
that is not JSON (cut short by a crash mid-write) is skipped and counted; a line that is
JSON but not an OTLP/JSON export request of the file's signal means the files are not
what the agent writes, and raises :class:`TelemetryShapeError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIGNALS = ("traces", "metrics", "logs")
TOP_KEYS = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}
TELEMETRY_DIR = "telemetry"


class TelemetryShapeError(ValueError):
    """A telemetry file holds JSON that is not an OTLP/JSON export request: names the file, line and shape."""

    def __init__(self, where: str, expected: str) -> None:
        super().__init__(f"{where}: not an OTLP/JSON export request (expected {expected})")
        self.where = where


def telemetry_files(data_dir: Path, signal: str) -> list[Path]:
    """The files of one signal, oldest first: ``<signal>.jsonl.N`` ... ``.1``, then ``<signal>.jsonl``."""
    base = Path(data_dir) / TELEMETRY_DIR
    name = f"{signal}.jsonl"
    rotated: list[tuple[int, Path]] = []
    if base.is_dir():
        for p in base.glob(f"{name}.*"):
            suffix = p.name[len(name) + 1:]
            if suffix.isdigit():
                rotated.append((int(suffix), p))
    files = [p for _, p in sorted(rotated, reverse=True)]
    current = base / name
    if current.is_file():
        files.append(current)
    return files


class LineReader:
    """Iterates the export requests of one signal's files a line at a time; counts lines it could not parse.

    ``signal`` (traces, metrics or logs) sets the shape each line must have; ``where``
    names the line being read, for errors about its content.
    """

    def __init__(self, paths: list[Path], signal: str) -> None:
        self.paths = paths
        self.top = TOP_KEYS[signal]
        self.bad_lines = 0
        self.lines = 0
        self.unreadable: list[str] = []
        self._path: Path | None = None
        self._line = 0

    def where(self) -> str:
        """``<file> line <n>`` of the line being read."""
        return f"{self._path} line {self._line}"

    def shape_error(self, detail: str = "") -> TelemetryShapeError:
        """The error for a line whose content does not have the OTLP/JSON shape."""
        return TelemetryShapeError(self.where(), f"{{{self.top!r}: [...]}}" + (f"; {detail}" if detail else ""))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for path in self.paths:
            self._path, self._line = path, 0
            try:
                fh = path.open("rb")
            except OSError as exc:  # removed by rotation since it was listed, or not ours to read
                self.unreadable.append(f"{path}: {exc.strerror or type(exc).__name__}")
                continue
            with fh:
                for raw in fh:
                    self._line += 1
                    if not raw.strip():
                        continue
                    self.lines += 1
                    try:
                        doc = json.loads(raw)
                    except ValueError:
                        # A line cut short by a crash mid-write: skip it, keep reading.
                        self.bad_lines += 1
                        continue
                    if not isinstance(doc, dict) or (doc and not isinstance(doc.get(self.top), list)):
                        raise self.shape_error()
                    yield doc


def any_value(v: dict[str, Any]) -> Any:
    """Decode an OTLP/JSON ``AnyValue`` (int64 arrives as a string) into a Python value."""
    if "stringValue" in v:
        return v["stringValue"]
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return attributes(v["kvlistValue"].get("values", []))
    return None


def attributes(kvs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Decode an OTLP/JSON attribute list into a dict."""
    return {kv["key"]: any_value(kv.get("value", {})) for kv in kvs or () if "key" in kv}


def string_attributes(kvs: list[dict[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    """Attributes as a sorted tuple of (key, str(value)) pairs: a hashable series key."""
    out = []
    for kv in kvs or ():
        v = kv.get("value", {})
        val = any_value(v)
        out.append((kv.get("key", ""), "" if val is None else str(val)))
    return tuple(sorted(out))


def number(point: dict[str, Any]) -> float:
    """The value of a sum or gauge data point (``asDouble`` or ``asInt``, an int64 string)."""
    if "asDouble" in point:
        return float(point["asDouble"])
    if "asInt" in point:
        return float(int(point["asInt"]))
    return 0.0
