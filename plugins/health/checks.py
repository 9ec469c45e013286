"""The init checks shared by the plugin (which turns findings into signals and log events) and the doctor.

``run_checks`` never raises for what it finds: an unreadable artifact is a
``PathProblem``, a broken package a ``DependencyError``, a differing version a
``Mismatch``. Artifacts are not hashed here: the readable ones are listed in
``CheckReport.artifacts`` and identified through the core (``agent.record_artifact``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plugins.health.config import HealthConfig, ModelPins
from plugins.health.dependencies import Inventory, check_pins, take_inventory
from plugins.health.identity import Mismatch, check_version
from plugins.health.paths import PathProblem, check_data_dir, check_readable

__all__ = ["CheckReport", "artifact_role", "run_checks"]


def artifact_role(model: str) -> str:
    """The config key an artifact path comes from, used as the role of its path problems."""
    return f"models.{model}.artifact"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything the init checks found; ``problems`` counts what should fail ``infersight doctor``."""

    inventory: Inventory
    mismatches: tuple[Mismatch, ...] = ()
    path_problems: tuple[PathProblem, ...] = ()
    unversioned: tuple[str, ...] = ()  # models with an expected_version but no version known yet
    artifacts: tuple[tuple[str, Path], ...] = ()  # (model, path) of the configured artifacts that are readable

    @property
    def problems(self) -> int:
        """Number of findings that need action (mismatches, unusable paths, broken dependencies)."""
        return len(self.mismatches) + len(self.path_problems) + len(self.inventory.errors)


def run_checks(
    config: HealthConfig,
    models: Mapping[str, ModelPins],
    versions: Mapping[str, str],
    data_dir: Path | None,
    *,
    references: bool = False,
) -> CheckReport:
    """Run the data-directory, artifact, version and dependency checks (and reference files on request).

    The running agent loads reference files itself (an unreadable one fails ``init``);
    the doctor asks for ``references`` to report them with the other paths.
    """
    problems: list[PathProblem] = []
    mismatches: list[Mismatch] = []
    unversioned: list[str] = []
    artifacts: list[tuple[str, Path]] = []
    if data_dir is not None and (p := check_data_dir(data_dir)) is not None:
        problems.append(p)
    for name, pins in models.items():
        if pins.artifact is not None:
            if (p := check_readable(pins.artifact, artifact_role(name))) is not None:
                problems.append(p)
            else:
                artifacts.append((name, pins.artifact))
        if references and pins.reference is not None and (
            p := check_readable(pins.reference, f"models.{name}.reference")
        ):
            problems.append(p)
        if pins.expected_version is not None:
            version = versions.get(name, "")
            if not version:
                unversioned.append(name)
            elif m := check_version(version, pins):
                mismatches.append(m)
    inventory = take_inventory(config.dependencies, pinned=config.pins, check_imports=config.check_imports)
    mismatches.extend(check_pins(config.pins, inventory))
    return CheckReport(inventory, tuple(mismatches), tuple(problems), tuple(unversioned), tuple(artifacts))
