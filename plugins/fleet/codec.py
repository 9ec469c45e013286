"""The profile byte format: compact, versioned, and the same for live export, files and engines.

Layout (version 1)::

    b"ISFP"  1 byte format version  zlib( u32 header length | header JSON | binary blobs )

The JSON header carries the model, version, window, row count and per feature its kind,
moments (exact float round-trip: JSON floats are written with ``repr``) and category
counts; blobs hold the DataSketches serialisations (KLL, frequent items) and the row
sample's priorities and numeric columns as little-endian arrays. A reader rejects a
format version it does not know with ``ProfileFormatError`` rather than guessing.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
import zlib
from typing import Any

import datasketches  # ships no type information (mypy override in pyproject.toml)
import numpy as np

from plugins.fleet.moments import Moments
from plugins.fleet.profiles import FeatureProfile, Kind, Profile
from plugins.fleet.sample import RowSample

MAGIC = b"ISFP"
FORMAT_VERSION = 1


class ProfileFormatError(ValueError):
    """Bytes that are not a profile this version can read (the message says why)."""


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _float(x: Any, missing: float) -> float:
    return missing if x is None else float(x)


class _Blobs:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> list[int]:
        ref = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return ref


def to_bytes(profile: Profile) -> bytes:
    """Serialise a profile (version 1)."""
    blobs = _Blobs()
    features: list[dict[str, Any]] = []
    for name, fp in profile.features.items():
        entry: dict[str, Any] = {"name": name, "kind": fp.kind.value}
        if fp.kind is Kind.NUMERIC:
            m = fp.moments
            entry["moments"] = [m.n, m.mean, m.m2, m.m3, m.m4, _num(m.min), _num(m.max)]
            entry["kll"] = blobs.add(fp.sketch.serialize()) if fp.sketch is not None else None
        elif fp.frequent is not None:
            entry["frequent"] = blobs.add(fp.frequent.serialize())
        else:
            entry["counts"] = dict(fp.counts or {})
        features.append(entry)
    s = profile.sample
    columns: list[dict[str, Any]] = []
    for name, col in s.columns.items():
        if col.dtype.kind == "f":
            columns.append({"name": name, "f8": blobs.add(col.astype("<f8").tobytes())})
        else:
            columns.append({"name": name, "str": [None if v is None else str(v) for v in col.tolist()]})
    header = {
        "model": profile.model, "version": profile.version, "kind": profile.kind,
        "start": _num(profile.start), "end": _num(profile.end), "rows": profile.rows,
        "features": features,
        "sample": {"k": s.k, "priorities": blobs.add(s.priorities.astype("<u8").tobytes()), "columns": columns},
    }
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    payload = struct.pack("<I", len(head)) + head + b"".join(blobs.parts)
    return MAGIC + bytes([FORMAT_VERSION]) + zlib.compress(payload, 6)


def from_bytes(data: bytes) -> Profile:
    """Read a profile; ``ProfileFormatError`` for anything else (wrong magic, unknown version, damage)."""
    if len(data) < 5 or data[:4] != MAGIC:
        raise ProfileFormatError("not an InferSight profile (bad magic bytes)")
    if data[4] != FORMAT_VERSION:
        raise ProfileFormatError(f"profile format version {data[4]} is not supported (this reader knows 1)")
    try:
        payload = zlib.decompress(data[5:])
        (n_head,) = struct.unpack_from("<I", payload)
        header = json.loads(payload[4 : 4 + n_head])
        blobs = memoryview(payload)[4 + n_head :]
        return _profile(header, blobs)
    except (zlib.error, struct.error, ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        if isinstance(exc, ProfileFormatError):
            raise
        raise ProfileFormatError(f"damaged profile: {type(exc).__name__}: {exc}") from None


def _blob(blobs: memoryview, ref: list[int]) -> bytes:
    off, size = int(ref[0]), int(ref[1])
    if off < 0 or off + size > len(blobs):
        raise ProfileFormatError("damaged profile: a blob lies outside the payload")
    return bytes(blobs[off : off + size])


def _profile(header: dict[str, Any], blobs: memoryview) -> Profile:
    features: dict[str, FeatureProfile] = {}
    for entry in header["features"]:
        kind = Kind(entry["kind"])
        if kind is Kind.NUMERIC:
            n, mean, m2, m3, m4, lo, hi = entry["moments"]
            moments = Moments(int(n), float(mean), float(m2), float(m3), float(m4),
                              _float(lo, math.inf), _float(hi, -math.inf))
            kll = entry.get("kll")
            sketch = datasketches.kll_doubles_sketch.deserialize(_blob(blobs, kll)) if kll else None
            features[str(entry["name"])] = FeatureProfile(kind, moments, sketch)
        elif entry.get("frequent") is not None:
            fi = datasketches.frequent_strings_sketch.deserialize(_blob(blobs, entry["frequent"]))
            features[str(entry["name"])] = FeatureProfile(kind, frequent=fi)
        else:
            counts = {str(k): int(v) for k, v in dict(entry["counts"]).items()}
            features[str(entry["name"])] = FeatureProfile(kind, counts=counts)
    s = header["sample"]
    priorities = np.frombuffer(_blob(blobs, s["priorities"]), dtype="<u8").astype(np.uint64)
    columns: dict[str, np.ndarray] = {}
    for col in s["columns"]:
        if "f8" in col:
            values = np.frombuffer(_blob(blobs, col["f8"]), dtype="<f8").astype(np.float64)
        else:
            values = np.array(col["str"], dtype=object)
        if values.size != priorities.size:
            raise ProfileFormatError(f"damaged profile: sample column {col['name']!r} has the wrong length")
        columns[str(col["name"])] = values
    return Profile(
        model=str(header["model"]), version=str(header["version"]), kind=str(header.get("kind", "window")),
        start=_float(header["start"], math.nan), end=_float(header["end"], math.nan), rows=int(header["rows"]),
        features=features, sample=RowSample(int(s["k"]), priorities, columns),
    )


def base64_text(data: bytes) -> str:
    """Profile bytes as base64 text (an OTLP log attribute holds text)."""
    return base64.b64encode(data).decode("ascii")


def to_base64(profile: Profile) -> str:
    """The profile bytes as base64 text (for an OTLP log attribute)."""
    return base64_text(to_bytes(profile))


def from_base64(text: str) -> Profile:
    """A profile from base64 text; ``ProfileFormatError`` when it is not one."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProfileFormatError("profile attribute is not base64") from None
    return from_bytes(data)
