"""The plugin host: loads plugins three ways and calls hooks so that no plugin can hurt the model.

pluggy re-raises a plugin's exception and skips the remaining implementations, and a
broken entry point would crash ``load_setuptools_entrypoints``. The host guards both:
each plugin loads in its own ``try``, and hooks are called one implementation at a
time, so a failure is logged (plugin and hook named), counted, and the other plugins
still run. A plugin that fails ``max_failures`` times in a row is unregistered.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from agent import hookspecs
from agent._errors import ConfigError
from agent.semconv import EVENT_PLUGIN_DISABLED, EVENT_PLUGIN_ERROR, EVENT_PLUGIN_LOAD_FAILED

BUILTIN_MODULES = {
    "drift": "plugins.drift",
    "validation": "plugins.validation",
    "feedback": "plugins.feedback",
    "recsys": "plugins.recsys",
    "alerts": "plugins.alerts",
    "notifiers": "plugins.notifiers",
    "health": "plugins.health",
}


@dataclass(frozen=True)
class LoadedPlugin:
    """A registered plugin: its name, where it came from, and the hooks it implements."""

    name: str
    source: str
    hooks: tuple[str, ...]


def _instances(obj: Any) -> list[Any]:
    """A module's plugin objects: ``make_plugins()``, ``make_plugin()``, or the module itself."""
    if hasattr(obj, "make_plugins"):
        return list(obj.make_plugins())
    if hasattr(obj, "make_plugin"):
        return [obj.make_plugin()]
    if isinstance(obj, type):
        return [obj()]
    return [obj]


class PluginHost:
    """Owns the pluggy manager; loads plugins and calls hooks with per-plugin guards."""

    def __init__(self, log: Any, max_failures: int = 10) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.log = log
        self.max_failures = max_failures
        self.loaded: list[LoadedPlugin] = []
        self.load_errors: list[tuple[str, str]] = []
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.on_error: Callable[[str, str], None] | None = None

    # -- loading --------------------------------------------------------------------

    def register(self, plugin: Any, name: str, source: str) -> None:
        """Register one plugin object under ``name`` (suffixed when the name is taken)."""
        unique, i = name, 1
        while self.pm.has_plugin(unique):
            i += 1
            unique = f"{name}#{i}"
        self.pm.register(plugin, name=unique)
        hooks = tuple(sorted(h.name for h in (self.pm.get_hookcallers(plugin) or [])))
        self.loaded.append(LoadedPlugin(unique, source, hooks))

    def _load(self, name: str, source: str, loader: Callable[[], Any]) -> None:
        try:
            objs = _instances(loader())
            for obj in objs:
                label = name if len(objs) == 1 else f"{name}.{type(obj).__name__.lower()}"
                self.register(obj, label, source)
        except Exception as exc:
            self.load_errors.append((name, f"{type(exc).__name__}: {exc}"))
            self.log.error(EVENT_PLUGIN_LOAD_FAILED, plugin=name, source=source,
                           error=f"{type(exc).__name__}: {exc}")

    def load(self, enabled: tuple[str, ...], paths: tuple[str, ...], entry_points: bool,
             disabled: tuple[str, ...]) -> None:
        """Load built-ins named in config, import paths, then the ``infersight`` entry-point group."""
        for name in enabled:
            if name not in BUILTIN_MODULES:
                raise ConfigError("plugins.enabled", name, "names of built-in plugins: " + ", ".join(BUILTIN_MODULES))
            if name in disabled:
                continue
            self._load(name, "builtin", functools.partial(importlib.import_module, BUILTIN_MODULES[name]))
        for path in paths:
            self._load(path, "path", functools.partial(_import_path, path))
        if entry_points:
            for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
                if ep.name in disabled:
                    continue
                self._load(ep.name, f"entry point {ep.value}", ep.load)

    # -- calling --------------------------------------------------------------------

    def _impls(self, hook_name: str) -> list[Any]:
        caller = getattr(self.pm.hook, hook_name)
        return list(reversed(caller.get_hookimpls()))  # pluggy's call order

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation, each guarded; return the non-None results."""
        results = []
        for impl in self._impls(hook_name):
            ok, value = self._call_one(impl, hook_name, kwargs)
            if ok and value is not None:
                results.append(value)
        return results

    def configure(self, **kwargs: Any) -> None:
        """Call ``infersight_configure``: a ConfigError fails init, other errors disable the plugin."""
        for impl in self._impls("infersight_configure"):
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except ConfigError:
                raise
            except Exception as exc:
                self._failed(impl, "infersight_configure", exc, disable_now=True)

    def _call_one(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            value = impl.function(*[kwargs[a] for a in impl.argnames])
        except Exception as exc:
            self._failed(impl, hook_name, exc)
            return False, None
        self._succeeded(impl)
        return True, value

    def _succeeded(self, impl: Any) -> None:
        if self._failures.get(impl.plugin_name):
            with self._lock:
                self._failures[impl.plugin_name] = 0

    def _failed(self, impl: Any, hook_name: str, exc: BaseException, disable_now: bool = False) -> None:
        name = impl.plugin_name
        with self._lock:
            count = self._failures.get(name, 0) + 1
            self._failures[name] = count
        try:
            self.log.error(EVENT_PLUGIN_ERROR, plugin=name, hook=hook_name,
                           error=f"{type(exc).__name__}: {exc}", consecutive_failures=count)
            if self.on_error is not None:
                self.on_error(name, hook_name)
            if (disable_now or count >= self.max_failures) and self.pm.get_plugin(name) is not None:
                self.pm.unregister(name=name)
                self.log.error(EVENT_PLUGIN_DISABLED, plugin=name, hook=hook_name, failures=count)
        except Exception:
            pass

    def plugin(self, name: str) -> Any:
        """The registered plugin object called ``name``, or None."""
        return self.pm.get_plugin(name)

    def describe(self) -> list[LoadedPlugin]:
        """Loaded plugins still registered, with the hooks each implements."""
        return [p for p in self.loaded if self.pm.get_plugin(p.name) is not None]


def _import_path(path: str) -> Any:
    """Import ``pkg.module`` or ``pkg.module:attribute`` (no code is evaluated from config)."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module
