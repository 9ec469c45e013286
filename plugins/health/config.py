"""The ``[health]`` table on the shared key table, and the health reading of each ``[models.NAME]`` table.

```toml
[health]
dependencies = ["numpy", "scikit-learn"]   # default: the ML stack found installed
pins = { numpy = "2.4.6", python = "3.11.*" }
system_metrics = true
gpu = true                                  # only acts when pynvml imports
check_imports = true                        # import declared packages to catch broken installs
gc_pauses = true                            # time GC pauses (a gc.callbacks hook, ~0.5 µs per collection)

[models.fraud]                              # core keys, checked by the core; health interprets them
artifact = "models/fraud.onnx"
expected_version = "3.2"
expected_digest = "sha256:9f86d0..."
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.plugin import ConfigError, Key, boolean, nonempty_string, optional, parse_table, str_list, table_of

__all__ = ["KEYS", "HealthConfig", "ModelPins", "model_pins", "package_list", "parse_config", "sha256_pin"]

_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


def package_list(key: str, value: Any) -> tuple[str, ...]:
    """A list of package names (distribution names as pip knows them), none blank."""
    names = str_list(key, value)
    if not all(n.strip() for n in names):
        raise ConfigError(key, value, "a list of package names")
    return tuple(n.strip() for n in names)


def sha256_pin(key: str, value: Any) -> str:
    """A ``sha256:<64 hex>`` digest pin; returns the lower-case hex (the core checks only that it is a string)."""
    if not isinstance(value, str) or not (m := _DIGEST.fullmatch(value.strip())):
        raise ConfigError(key, value, "a 'sha256:<64 hex>' string")
    return m.group(1).lower()


KEYS: dict[str, Key] = {
    "dependencies": Key(optional(package_list), None),
    "pins": Key(table_of(nonempty_string), {}),  # package = "1.2.3" | "==1.2.3" | "1.2.*"
    "system_metrics": Key(boolean, True),
    "gpu": Key(boolean, True),
    "check_imports": Key(boolean, True),
    "gc_pauses": Key(boolean, True),
}


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """The checked ``[health]`` table; ``dependencies`` None means the default ML stack."""

    dependencies: tuple[str, ...] | None = None
    pins: Mapping[str, str] = field(default_factory=dict)
    system_metrics: bool = True
    gpu: bool = True
    check_imports: bool = True
    gc_pauses: bool = True


def parse_config(section: Mapping[str, Any]) -> HealthConfig:
    """Check the ``[health]`` table; a ConfigError names the key, e.g. ``health.pins.numpy``."""
    values = parse_table("health", section, KEYS)
    values["pins"] = {name: pin.strip() for name, pin in values["pins"].items()}
    return HealthConfig(**values)


@dataclass(frozen=True, slots=True)
class ModelPins:
    """What health reads from one ``[models.NAME]`` table: the artifact, its pins and the reference file."""

    model: str
    artifact: Path | None = None
    expected_version: str | None = None
    expected_digest: str | None = None  # lower-case hex, without the ``sha256:`` prefix
    reference: Path | None = None


def _path(value: Any) -> Path | None:
    return Path(value).expanduser() if isinstance(value, str) and value.strip() else None


def model_pins(name: str, table: Mapping[str, Any]) -> ModelPins:
    """Health's view of the ``[models.NAME]`` table (the core already checked the key types)."""
    digest = table.get("expected_digest")
    version = table.get("expected_version")
    return ModelPins(
        model=name,
        artifact=_path(table.get("artifact")),
        expected_version=version if isinstance(version, str) and version else None,
        expected_digest=None if digest is None else sha256_pin(f"models.{name}.expected_digest", digest),
        reference=_path(table.get("reference")),
    )
