"""Dependency inventory: installed versions of the model's packages and Python, pins, import failures.

Versions come from ``importlib.metadata`` (no import needed). Packages the user
declares are also imported, because a package can be installed yet broken (a binary
built against another numpy ABI, a missing shared library); that failure is reported
with the package name. The default list is only inventoried, never imported: importing
torch or tensorflow just to look costs seconds and hundreds of megabytes.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from plugins.health.identity import Mismatch

__all__ = [
    "DEFAULT_PACKAGES",
    "PYTHON",
    "DependencyError",
    "Inventory",
    "check_pins",
    "import_names",
    "take_inventory",
    "version_matches",
]

# The ML stack looked for when no list is configured; only those installed are reported.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "torch", "torchvision", "tensorflow",
    "keras", "jax", "jaxlib", "xgboost", "lightgbm", "catboost", "onnx", "onnxruntime",
    "onnxruntime-gpu", "transformers", "tokenizers", "sentence-transformers", "safetensors",
    "statsmodels", "polars", "opentelemetry-sdk",
)  # fmt: skip
PYTHON = "python"  # the pseudo-package a pin or inventory entry uses for the interpreter


@dataclass(frozen=True, slots=True)
class DependencyError:
    """A declared dependency that cannot be used: not installed, or its import raised."""

    package: str
    error: str


@dataclass(frozen=True, slots=True)
class Inventory:
    """Versions found at init: Python, and each package that is installed (name → version)."""

    python: str
    packages: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[DependencyError, ...] = ()

    def with_python(self) -> dict[str, str]:
        """Packages plus ``python`` → interpreter version, the form pins are checked against."""
        return {PYTHON: self.python, **self.packages}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _module_index() -> Mapping[str, list[str]]:
    # Scans every installed distribution once; a process does not change its installs.
    return md.packages_distributions()


def import_names(distribution: str) -> list[str]:
    """Top-level modules a distribution provides (``scikit-learn`` → ``sklearn``), best first."""
    want = _normalise(distribution)
    found = sorted(
        mod
        for mod, dists in _module_index().items()
        if any(_normalise(d) == want for d in dists) and not mod.startswith("_")
    )
    guess = distribution.replace("-", "_").replace(".", "_").lower()
    # Prefer the module spelled like the distribution; several dists ship helper modules.
    return sorted(found, key=lambda m: (m.lower() != guess, m)) or [guess]


def _try_import(distribution: str) -> str | None:
    """Import the distribution's main module; return an error description or None."""
    names = import_names(distribution)
    if any(n in sys.modules for n in names):
        return None
    try:
        importlib.import_module(names[0])
    except Exception as exc:  # a broken binary raises anything (ImportError, OSError, AttributeError)
        return f"import {names[0]!r} failed: {type(exc).__name__}: {exc}"
    return None


def take_inventory(
    declared: Iterable[str] | None = None, *, pinned: Iterable[str] = (), check_imports: bool = True
) -> Inventory:
    """Record versions of ``declared`` packages (default: the ML stack found installed) and Python.

    ``pinned`` packages count as declared. A declared package that is not installed,
    or whose import fails when ``check_imports``, becomes a ``DependencyError`` naming it.
    """
    python = platform.python_version()
    packages: dict[str, str] = {}
    errors: list[DependencyError] = []
    must_have = set(pinned) if declared is None else {*declared, *pinned}
    names = dict.fromkeys([*(DEFAULT_PACKAGES if declared is None else declared), *pinned])
    for name in names:
        if name == PYTHON:
            continue
        required = name in must_have
        try:
            packages[name] = md.version(name)
        except md.PackageNotFoundError:
            if required:
                errors.append(DependencyError(name, "not installed (no distribution metadata found)"))
            continue
        if required and check_imports and (err := _try_import(name)):
            errors.append(DependencyError(name, err))
    return Inventory(python=python, packages=packages, errors=tuple(errors))


def version_matches(pin: str, actual: str) -> bool:
    """Whether ``actual`` satisfies ``pin``: exact (``1.2.3``, ``==1.2.3``) or a ``.*`` prefix (``2.4.*``)."""
    want = pin.strip().removeprefix("==").strip()
    if want.endswith(".*"):
        stem = want[:-2]
        return actual == stem or actual.startswith(stem + ".")
    return actual == want


def check_pins(pins: Mapping[str, str], inventory: Inventory) -> list[Mismatch]:
    """One dependency Mismatch per pinned package whose installed version differs (installed ones only).

    Pinned packages that are missing are reported by ``take_inventory`` as errors, so
    they are not repeated here.
    """
    versions = inventory.with_python()
    return [
        Mismatch("dependency", name, pin, versions[name])
        for name, pin in pins.items()
        if name in versions and not version_matches(pin, versions[name])
    ]
