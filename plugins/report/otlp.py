"""Streaming access to the agent's OTLP/JSON files: file order, line parsing and attribute decoding.

Lines are parsed with :mod:`json` into plain dicts (never protobuf objects): a data
directory can hold a million spans, and only a few fields of each are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIGNALS = ("traces", "metrics", "logs")


def telemetry_files(data_dir: Path, signal: str) -> list[Path]:
    """The files of one signal, oldest first: ``<signal>.jsonl.N`` ... ``.1``, then ``<signal>.jsonl``."""
    base = Path(data_dir) / "telemetry"
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
    """Iterates the export requests of several files one line at a time; counts lines it could not parse."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.bad_lines = 0
        self.lines = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for path in self.paths:
            try:
                fh = path.open("rb")
            except OSError:
                continue
            with fh:
                for raw in fh:
                    if not raw.strip():
                        continue
                    self.lines += 1
                    try:
                        doc = json.loads(raw)
                    except ValueError:
                        # A line cut short by a crash mid-write: skip it, keep reading.
                        self.bad_lines += 1
                        continue
                    if isinstance(doc, dict):
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
