"""Reading ``ml.drift.profile`` records from OTLP/JSON files (the agent's and the Collector's file exporters).

Both write one OTLP ``ExportLogsServiceRequest`` per line in the protobuf JSON mapping
(``resourceLogs`` → ``scopeLogs`` → ``logRecords``; 64-bit integers as strings). Lines that
do not mention the profile event are skipped before parsing, so a data directory's traces,
metrics and other logs cost little. A directory is searched for ``*.jsonl``, ``*.jsonl.N``
(rotated files) and ``*.json``; a path may be a glob. Compressed Collector output is not read:
configure the file exporter without compression (config/otelcol-fleet.yaml).
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.fleet import names

_TELEMETRY_FILE = re.compile(r".*\.(jsonl(\.\d+)?|json)$")


class TelemetryInputError(ValueError):
    """A path or line that cannot be read as OTLP/JSON; the message names it."""


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One exported profile: who sent it, for which model version and window, and its bytes (base64)."""

    instance: str
    model: str
    version: str
    kind: str
    start: float
    end: float
    rows: int
    data: str
    source: str

    @property
    def key(self) -> tuple[str, str, str, str, float, float]:
        """Identity of a record: the same profile read twice (a rotated copy) counts once."""
        return (self.instance, self.model, self.version, self.kind, self.start, self.end)


def telemetry_files(paths: list[str]) -> list[Path]:
    """The files named by ``paths`` (files, directories searched recursively, globs); ``TelemetryInputError``."""
    out: list[Path] = []
    for raw in paths:
        matches = sorted(glob.glob(raw, recursive=True)) if glob.has_magic(raw) else [raw]
        if not matches:
            raise TelemetryInputError(f"no file matches {raw!r}")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                out.extend(sorted(f for f in p.rglob("*") if f.is_file() and _TELEMETRY_FILE.match(f.name)))
            elif p.is_file():
                out.append(p)
            else:
                raise TelemetryInputError(f"{raw!r} does not exist")
    return list(dict.fromkeys(out))


def _value(v: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    return {str(a.get("key")): _value(a.get("value", {})) for a in items or [] if isinstance(a, Mapping)}


def records_in_line(line: str, source: str) -> Iterator[ProfileRecord]:
    """The profile records in one OTLP/JSON line; ``ValueError`` when the line is not OTLP/JSON."""
    if names.PROFILE_EVENT not in line:
        return
    data = json.loads(line)
    if not isinstance(data, Mapping):
        raise ValueError("not an OTLP/JSON object")
    for rl in data.get("resourceLogs", []):
        resource = _attrs(rl.get("resource", {}).get("attributes"))
        instance = str(resource.get(names.RESOURCE_INSTANCE, ""))
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                if _value(rec.get("body", {})) != names.PROFILE_EVENT:
                    continue
                a = _attrs(rec.get("attributes"))
                payload = a.get(names.ATTR_PROFILE_DATA)
                if not isinstance(payload, str):
                    continue
                yield ProfileRecord(
                    instance=instance, model=str(a.get(names.ATTR_MODEL, "")),
                    version=str(a.get(names.ATTR_VERSION, "")),
                    kind=str(a.get(names.ATTR_PROFILE_KIND, names.KIND_WINDOW)),
                    start=_float(a.get(names.ATTR_WINDOW_START)), end=_float(a.get(names.ATTR_WINDOW_END)),
                    rows=int(a.get(names.ATTR_PROFILE_ROWS) or 0), data=payload, source=source,
                )


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def read_profiles(paths: list[str]) -> list[ProfileRecord]:
    """Every profile record in the files named by ``paths``; ``TelemetryInputError`` names a bad file or line."""
    out: list[ProfileRecord] = []
    for path in telemetry_files(paths):
        reader = FileReader(path)
        out.extend(reader.read_new(final=True))
    return out


class FileReader:
    """Reads a growing file's complete new lines (``--follow``); a replaced (rotated) file is read from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.line_no = 0

    def read_new(self, final: bool = False) -> list[ProfileRecord]:
        """Records in lines appended since the last call (a last line without newline waits, unless ``final``)."""
        try:
            st = os.stat(self.path)
            if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
                self.offset, self.line_no = 0, 0
            self.inode = st.st_ino
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TelemetryInputError(f"cannot read {str(self.path)!r}: {exc.strerror or exc}") from None
        end = len(chunk) if final else chunk.rfind(b"\n") + 1
        out: list[ProfileRecord] = []
        for raw in chunk[:end].splitlines():
            self.line_no += 1
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                out.extend(records_in_line(text, str(self.path)))
            except (ValueError, AttributeError, TypeError) as exc:
                raise TelemetryInputError(
                    f"{self.path}:{self.line_no}: not an OTLP/JSON line ({type(exc).__name__})") from None
        self.offset += end
        return out
