"""Deployment identity checks: a recorded artifact against its digest pin, a model version against its pin.

The artifact itself is hashed by the core (``agent.record_artifact``); these are pure
comparisons of what was deployed with what ``[models.NAME]`` pins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from plugins.health.config import ModelPins

__all__ = ["Mismatch", "MismatchKind", "check_digest", "check_version"]

MismatchKind = Literal["digest", "version", "dependency"]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A deployed value that differs from its pin: a model's digest or version, or a package version."""

    kind: MismatchKind
    subject: str
    expected: str
    actual: str


def check_digest(sha256: str, pins: ModelPins) -> Mismatch | None:
    """A digest Mismatch when the artifact's SHA-256 (hex) differs from ``expected_digest``, else None."""
    if pins.expected_digest is None or sha256.lower() == pins.expected_digest:
        return None
    return Mismatch("digest", pins.model, f"sha256:{pins.expected_digest}", f"sha256:{sha256.lower()}")


def check_version(version: str, pins: ModelPins) -> Mismatch | None:
    """A version Mismatch when the model's version differs from ``expected_version``, else None."""
    if pins.expected_version is None or version == pins.expected_version:
        return None
    return Mismatch("version", pins.model, pins.expected_version, version)
