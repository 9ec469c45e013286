"""Artifact identity: the SHA-256 and size of what a model was loaded from, kept by the core.

``agent.record_artifact`` hashes on the caller's thread (where the model is loaded,
never on the hot path), keeps the identity in ``_state.ARTIFACTS`` so that the model's
spans carry the digest, and hands it to plugins through ``infersight_artifact_recorded``
(the health plugin compares it with the model's ``expected_digest`` pin).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from agent import _state
from agent._types import ArtifactIdentity

_CHUNK = 1 << 20  # 1 MiB: large enough to keep hashlib busy, small enough to never hold a model in memory

ArtifactSource = str | os.PathLike[str] | bytes | bytearray | memoryview


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


def identify(model: str, source: Any) -> ArtifactIdentity:
    """Hash an artifact given as a path or bytes; an unreadable path gives an identity with ``error`` set."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source).cast("B")
        return ArtifactIdentity(model=model, sha256=hashlib.sha256(data).hexdigest(), size=data.nbytes)
    if not isinstance(source, str | os.PathLike):
        return ArtifactIdentity(model=model, sha256="", size=0, path=None,
                                error=f"expected a path or bytes, got {type(source).__name__}")
    path = os.fspath(source)
    try:
        digest, size = hash_file(path)
    except OSError as exc:
        return ArtifactIdentity(model=model, sha256="", size=0, path=str(path),
                                error=f"{type(exc).__name__}: {exc.strerror or exc}")
    return ArtifactIdentity(model=model, sha256=digest, size=size, path=str(path))


def record(model: str, source: Any) -> ArtifactIdentity:
    """Identify ``model``'s artifact, remember it for the model's spans, and tell the running agent's plugins."""
    identity = identify(model, source)
    with _state.LOCK:
        _state.ARTIFACTS[model] = identity
        running = _state.AGENT
    if running is not None:
        running.artifact_recorded(identity)
    return identity


def digest_of(model: str, configured: dict[str, ArtifactIdentity] | None = None) -> str | None:
    """The artifact SHA-256 of ``model`` (hex), or None (read when a model binds, not per call).

    ``agent.record_artifact`` wins over the agent's configured ``[models.NAME] artifact``.
    """
    identity = _state.ARTIFACTS.get(model) or (configured or {}).get(model)
    return identity.sha256 if identity is not None and identity.sha256 else None
