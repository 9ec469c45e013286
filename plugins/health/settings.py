"""The ``[health]`` config section, validated into a frozen ``HealthSettings``.

```toml
[health]
dependencies = ["numpy", "scikit-learn"]   # default: the ML stack found installed
pins = { numpy = "2.4.6", python = "3.11.*" }
system_metrics = true
gpu = true                                  # only acts when pynvml imports
check_imports = true                        # import declared packages to catch broken installs
gc_pauses = true                            # time GC pauses (a gc.callbacks hook, ~0.5 µs per collection)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent._errors import ConfigError

__all__ = ["HealthSettings", "parse_settings"]

_KEYS = ("dependencies", "pins", "system_metrics", "gpu", "check_imports", "gc_pauses")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """Validated ``[health]`` section; ``dependencies`` None means the default ML stack."""

    dependencies: tuple[str, ...] | None = None
    pins: Mapping[str, str] = field(default_factory=dict)
    system_metrics: bool = True
    gpu: bool = True
    check_imports: bool = True
    gc_pauses: bool = True


def _bool(key: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def parse_settings(section: Mapping[str, Any]) -> HealthSettings:
    """Validate the ``[health]`` table; a ConfigError names the key, e.g. ``health.pins.numpy``."""
    for key in section:
        if key not in _KEYS:
            raise ConfigError(f"health.{key}", section[key], "one of the keys " + ", ".join(sorted(_KEYS)))
    deps = section.get("dependencies")
    if deps is not None and (
        not isinstance(deps, list | tuple) or not all(isinstance(d, str) and d.strip() for d in deps)
    ):
        raise ConfigError("health.dependencies", deps, "a list of package names")
    pins = section.get("pins", {})
    if not isinstance(pins, Mapping):
        raise ConfigError("health.pins", pins, 'a table of package = "version"')
    for name, version in pins.items():
        if not isinstance(version, str) or not version.strip():
            raise ConfigError(f"health.pins.{name}", version, 'a version string such as "1.2.3" or "1.2.*"')
    return HealthSettings(
        dependencies=None if deps is None else tuple(d.strip() for d in deps),
        pins={str(k): v.strip() for k, v in pins.items()},
        system_metrics=_bool("health.system_metrics", section.get("system_metrics"), True),
        gpu=_bool("health.gpu", section.get("gpu"), True),
        check_imports=_bool("health.check_imports", section.get("check_imports"), True),
        gc_pauses=_bool("health.gc_pauses", section.get("gc_pauses"), True),
    )
