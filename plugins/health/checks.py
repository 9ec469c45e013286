"""The init checks shared by the plugin (which turns findings into signals and log events) and the doctor.

``run_checks`` never raises for what it finds: an unreadable artifact is a
``PathProblem``, a broken package a ``DependencyError``, a differing digest a
``Mismatch``. Only bad configuration raises (``ConfigError``, before any check runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plugins.health.dependencies import Inventory, check_pins, take_inventory
from plugins.health.identity import (
    ArtifactIdentity,
    Mismatch,
    ModelPins,
    check_digest,
    check_version,
    identify,
)
from plugins.health.paths import PathProblem, check_data_dir, check_readable
from plugins.health.settings import HealthSettings

__all__ = ["CheckReport", "check_artifact", "run_checks"]


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything the init checks found; ``problems`` counts what should fail ``infersight doctor``."""

    inventory: Inventory
    identities: tuple[ArtifactIdentity, ...] = ()
    mismatches: tuple[Mismatch, ...] = ()
    path_problems: tuple[PathProblem, ...] = ()
    unversioned: tuple[str, ...] = ()  # models with an expected_version but no version known yet

    @property
    def problems(self) -> int:
        """Number of findings that need action (mismatches, unusable paths, broken dependencies)."""
        return len(self.mismatches) + len(self.path_problems) + len(self.inventory.errors)


def check_artifact(
    model: str, path: Path, pins: ModelPins | None
) -> tuple[ArtifactIdentity | None, PathProblem | None, Mismatch | None]:
    """Hash one artifact file and compare it to its pin: (identity, problem reading it, digest mismatch)."""
    problem = check_readable(path, f"models.{model}.artifact")
    if problem is not None:
        return None, problem, None
    try:
        identity = identify(model, path)
    except OSError as exc:  # readable a moment ago, gone now: report it like any unreadable file
        return None, check_readable(path, f"models.{model}.artifact") or PathProblem(
            str(path), f"models.{model}.artifact", "read", str(exc)
        ), None
    return identity, None, (check_digest(identity, pins) if pins else None)


def run_checks(
    settings: HealthSettings,
    models: Mapping[str, ModelPins],
    versions: Mapping[str, str],
    data_dir: Path | None,
) -> CheckReport:
    """Run the data-directory, artifact, reference, version and dependency checks."""
    problems: list[PathProblem] = []
    identities: list[ArtifactIdentity] = []
    mismatches: list[Mismatch] = []
    unversioned: list[str] = []
    if data_dir is not None and (p := check_data_dir(data_dir)) is not None:
        problems.append(p)
    for name, pins in models.items():
        if pins.artifact is not None:
            identity, problem, mismatch = check_artifact(name, pins.artifact, pins)
            identities.extend([identity] if identity else [])
            problems.extend([problem] if problem else [])
            mismatches.extend([mismatch] if mismatch else [])
        if pins.reference is not None and (p := check_readable(pins.reference, f"models.{name}.reference")):
            problems.append(p)
        if pins.expected_version is not None:
            version = versions.get(name, "")
            if not version:
                unversioned.append(name)
            elif m := check_version(version, pins):
                mismatches.append(m)
    inventory = take_inventory(
        settings.dependencies, pinned=settings.pins, check_imports=settings.check_imports
    )
    mismatches.extend(check_pins(settings.pins, inventory))
    return CheckReport(inventory, tuple(identities), tuple(mismatches), tuple(problems), tuple(unversioned))
