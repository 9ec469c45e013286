"""Deployment identity: an artifact's SHA-256 and size, the per-model pins, and pure checks against them."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent._errors import ConfigError
from agent._types import ModelInfo

__all__ = [
    "ArtifactIdentity",
    "Mismatch",
    "ModelPins",
    "check_digest",
    "check_version",
    "hash_file",
    "identify",
    "model_pins",
    "parse_digest",
]

ArtifactSource = str | os.PathLike[str] | bytes | bytearray | memoryview
MismatchKind = Literal["digest", "version", "dependency"]

_CHUNK = 1 << 20  # 1 MiB: large enough to keep hashlib busy, small enough to never hold a model in memory
_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


@dataclass(frozen=True, slots=True)
class ArtifactIdentity:
    """What was deployed for one model: SHA-256 (hex), size in bytes, and the path when it was a file."""

    model: str
    sha256: str
    size: int
    path: str | None = None

    @property
    def digest(self) -> str:
        """The digest in pin syntax, ``sha256:<hex>``."""
        return f"sha256:{self.sha256}"


@dataclass(frozen=True, slots=True)
class ModelPins:
    """The health keys of one ``[models.NAME]`` table, validated."""

    model: str
    artifact: Path | None = None
    expected_version: str | None = None
    expected_digest: str | None = None  # lower-case hex, without the ``sha256:`` prefix
    reference: Path | None = None


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A deployed value that differs from its pin: a model's digest or version, or a package version."""

    kind: MismatchKind
    subject: str
    expected: str
    actual: str


def hash_file(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> tuple[str, int]:
    """Return (SHA-256 hex, size) of a file, streamed in chunks; raises OSError when unreadable."""
    h = hashlib.sha256()
    size = 0
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


def identify(model: str, source: ArtifactSource) -> ArtifactIdentity:
    """Hash an artifact given as a path or as bytes; raises OSError when a path cannot be read."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source).cast("B")
        return ArtifactIdentity(model=model, sha256=hashlib.sha256(data).hexdigest(), size=data.nbytes)
    digest, size = hash_file(source)
    return ArtifactIdentity(model=model, sha256=digest, size=size, path=os.fspath(source))


def parse_digest(key: str, value: Any) -> str:
    """Validate a ``sha256:<64 hex>`` pin and return the lower-case hex; ConfigError names ``key``."""
    if not isinstance(value, str) or not (m := _DIGEST.fullmatch(value.strip())):
        raise ConfigError(key, value, "a 'sha256:<64 hex>' string")
    return m.group(1).lower()


def _opt_str(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "a non-empty string")
    return value


def model_pins(info: ModelInfo) -> ModelPins:
    """Read and validate artifact, expected_version, expected_digest and reference from a model's options."""
    return pins_from_table(info.name, info.options)


def pins_from_table(name: str, table: Mapping[str, Any]) -> ModelPins:
    """Validate the health keys of the ``[models.NAME]`` table ``table``."""
    prefix = f"models.{name}"
    artifact = _opt_str(f"{prefix}.artifact", table.get("artifact"))
    reference = _opt_str(f"{prefix}.reference", table.get("reference"))
    digest = table.get("expected_digest")
    return ModelPins(
        model=name,
        artifact=Path(artifact).expanduser() if artifact else None,
        expected_version=_opt_str(f"{prefix}.expected_version", table.get("expected_version")),
        expected_digest=None if digest is None else parse_digest(f"{prefix}.expected_digest", digest),
        reference=Path(reference).expanduser() if reference else None,
    )


def check_digest(identity: ArtifactIdentity, pins: ModelPins) -> Mismatch | None:
    """A digest Mismatch when the artifact's SHA-256 differs from the pin, else None."""
    if pins.expected_digest is None or identity.sha256 == pins.expected_digest:
        return None
    return Mismatch("digest", pins.model, f"sha256:{pins.expected_digest}", identity.digest)


def check_version(version: str, pins: ModelPins) -> Mismatch | None:
    """A version Mismatch when the model's version differs from ``expected_version``, else None."""
    if pins.expected_version is None or version == pins.expected_version:
        return None
    return Mismatch("version", pins.model, pins.expected_version, version)
