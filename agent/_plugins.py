"""The plugin host: loads every plugin one way and calls hooks so that no plugin can hurt the model.

Built-in plugins and third-party ones are entry points of the ``infersight`` group and
load by the same code; ``plugins.paths`` adds import paths. An entry point may name a
factory (``module:make_plugin``), a class, an instance, or a module (with
``make_plugin``/``make_plugins``, or whose functions are the hooks).

pluggy re-raises a plugin's exception and skips the remaining implementations, and a
broken entry point would crash ``load_setuptools_entrypoints``. The host guards both:
each plugin loads in its own ``try``; hooks are called one implementation at a time, so
a failure (any exception, ``SystemExit`` and ``KeyboardInterrupt`` included) is logged
with plugin and hook named, counted, and the other plugins still run. A plugin that
fails ``max_failures`` times in a row is unregistered. Hooks are checked at
registration: a method named ``infersight_*`` that is no hook fails with the closest
valid name, so a misspelled hook cannot register silently and never run.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import inspect
import sys
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from agent import hookspecs
from agent._errors import ConfigError, DeliveryError, PluginError, describe_exception
from agent.semconv import EVENT_PLUGIN_DISABLED, EVENT_PLUGIN_ERROR, EVENT_PLUGIN_LOAD_FAILED, EVENT_PLUGIN_TIMEOUT

DISTRIBUTION = "infersight"  # entry points of this distribution are the built-in plugins
HOOK_NAMES = frozenset(n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_"))
_PREFIX = f"{hookspecs.PROJECT}_"


@dataclass(frozen=True)
class LoadedPlugin:
    """A registered plugin: its name, where it came from, and the hooks it implements."""

    name: str
    source: str
    hooks: tuple[str, ...]


class _Manager(pluggy.PluginManager):
    """pluggy's manager, also taking unmarked ``infersight_*`` methods as hook implementations.

    pytest does the same for ``pytest_*``: a forgotten ``@hookimpl`` must not silently
    leave a hook uncalled.
    """

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(_PREFIX):
            method = getattr(plugin, name, None)
            if inspect.isroutine(method):
                return {"wrapper": False, "hookwrapper": False, "optionalhook": False,
                        "tryfirst": False, "trylast": False, "specname": None}
        return opts


def builtin_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The built-in plugins: entry points of the ``infersight`` group shipped by this distribution."""
    return {ep.name: ep for ep in _entry_points() if _dist_name(ep) == DISTRIBUTION}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        if (ep.name, ep.value) not in seen:  # an editable install can list a distribution twice
            seen.add((ep.name, ep.value))
            out.append(ep)
    return out


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) or (dist.metadata["Name"] if dist is not None else "")
    return str(name or "").lower().replace("_", "-")


def instances(obj: Any) -> list[Any]:
    """The plugin objects an entry point or import path names.

    A module with ``make_plugins()`` or ``make_plugin()`` gives what they return; a class
    is instantiated; a plain function is a factory and is called (a list or tuple result
    gives several plugins); anything else (an instance, a module of hook functions) is
    the plugin itself.
    """
    if isinstance(obj, types.ModuleType):
        if hasattr(obj, "make_plugins"):
            return list(obj.make_plugins())
        if hasattr(obj, "make_plugin"):
            return [obj.make_plugin()]
        return [obj]
    if isinstance(obj, type):
        return [obj()]
    if inspect.isroutine(obj) and not getattr(obj, "__name__", "").startswith(_PREFIX):
        made = obj()
        return list(made) if isinstance(made, list | tuple) else [made]
    return [obj]


def _closest_hook(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(HOOK_NAMES), n=1, cutoff=0.5)
    return close[0] if close else "one of " + ", ".join(sorted(HOOK_NAMES))


def _run_with_timeout(fn: Callable[[], Any], timeout: float | None) -> tuple[str, Any]:
    """Run ``fn``: ("ok", value), ("error", exception) or ("timeout", None) after ``timeout`` seconds.

    With a timeout the call runs on a daemon thread that is abandoned when it overruns
    (the plugin is then disabled, so nothing calls into it again).
    """
    if timeout is None:
        try:
            return "ok", fn()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit) and sys.is_finalizing():
                raise
            return "error", exc
    box: list[tuple[str, Any]] = []

    def run() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as exc:
            box.append(("error", exc))

    t = threading.Thread(target=run, name="infersight-plugin-call", daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else ("timeout", None)


@dataclass(frozen=True, slots=True)
class _Named:
    """What the failure accounting reads from a hook implementation: the plugin's name."""

    plugin_name: str


class PluginHost:
    """Owns the pluggy manager; loads plugins and calls hooks with per-plugin guards."""

    def __init__(self, log: Any, max_failures: int = 10, configure_timeout: float | None = None) -> None:
        self.pm = _Manager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.log = log
        self.max_failures = max_failures
        self.configure_timeout = configure_timeout
        self.loaded: list[LoadedPlugin] = []
        self.load_errors: list[tuple[str, str]] = []
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._configured_with: dict[str, Any] | None = None
        self.on_error: Callable[[str, str], None] | None = None

    # -- loading --------------------------------------------------------------------

    def register(self, plugin: Any, name: str, source: str) -> str:
        """Register one plugin object under ``name`` (suffixed when taken); returns the name used.

        Raises ``PluginError`` naming the plugin and hook when a method named
        ``infersight_*`` is not a hook (with the closest valid name) or its arguments do
        not match the hook's. After ``init`` the plugin is configured on registration
        (``infersight_configure`` is historic); a ``ConfigError`` then unregisters it and
        is raised.
        """
        unique, i = name, 1
        while self.pm.has_plugin(unique):
            i += 1
            unique = f"{name}#{i}"
        for attr in dir(plugin):
            if attr.startswith(_PREFIX) and attr not in HOOK_NAMES and callable(getattr(plugin, attr, None)):
                raise PluginError(f"plugin {unique!r} ({source}): {attr!r} is not an InferSight hook; "
                                  f"did you mean {_closest_hook(attr)!r}?")
        try:
            self.pm.register(plugin, name=unique)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {unique!r} ({source}): {exc}") from None
        hooks = tuple(sorted(h.name for h in (self.pm.get_hookcallers(plugin) or [])))
        self.loaded.append(LoadedPlugin(unique, source, hooks))
        if self._configured_with is not None and "infersight_configure" in hooks:
            for impl in self._impls("infersight_configure"):
                if impl.plugin_name == unique:
                    try:
                        self._configure_one(impl, self._configured_with)
                    except ConfigError:
                        self.pm.unregister(name=unique)
                        raise
        return unique

    def _load(self, name: str, source: str, loader: Callable[[], Any]) -> None:
        try:
            objs = instances(loader())
            for obj in objs:
                label = name if len(objs) == 1 else f"{name}.{type(obj).__name__.lower()}"
                self.register(obj, label, source)
        except Exception as exc:
            error = describe_exception(exc)
            self.load_errors.append((name, error))
            self.log.error(EVENT_PLUGIN_LOAD_FAILED, plugin=name, source=source, error=error)

    def load(self, enabled: tuple[str, ...] | None, paths: tuple[str, ...], entry_points: bool,
             disabled: tuple[str, ...]) -> None:
        """Load the built-ins named in ``enabled`` (all when None), import paths, then third-party entry points.

        Every plugin comes from the ``infersight`` entry-point group (or an import path)
        and loads by the same code; built-ins are the entry points of this distribution.
        """
        builtins = builtin_entry_points()
        for name in enabled if enabled is not None else tuple(builtins):
            if name not in builtins:
                raise ConfigError("plugins.enabled", name, "names of built-in plugins: " + ", ".join(sorted(builtins)))
        chosen = set(builtins) if enabled is None else set(enabled)
        for ep in _entry_points():
            builtin = ep.name in builtins and _dist_name(ep) == DISTRIBUTION
            if ep.name in disabled or (builtin and ep.name not in chosen) or (not builtin and not entry_points):
                continue
            source = "builtin" if builtin else f"entry point {ep.value}"
            self._load(ep.name, source, ep.load)
        for path in paths:
            self._load(path, "path", functools.partial(import_path, path))

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

    def notify(self, notification: Any, channel: Any, timeout: float | None) -> bool | None:
        """Ask the notifiers in order to deliver; each call guarded and bounded by ``timeout``.

        A ``DeliveryError`` (the receiver is down, refused, timed out) is the notifier
        doing its job: it is raised to the caller, which retries, and not counted against
        the plugin. Any other exception, or overrunning ``timeout``, is a plugin failure:
        counted (an overrun disables the plugin at once) and the next notifier is asked, so
        a broken notifier cannot take other channels down with it; when no other notifier
        delivers, the failure is raised as a ``DeliveryError`` so the notification stays
        queued. None when no notifier handles ``channel.type``.
        """
        failure: DeliveryError | None = None
        for impl in self._impls("infersight_notify"):
            kwargs = {"notification": notification, "channel": channel}
            status, value = _run_with_timeout(
                functools.partial(impl.function, *[kwargs[a] for a in impl.argnames]), timeout
            )
            if status == "ok":
                self._succeeded(impl)
                if value is not None:
                    return bool(value)
                continue
            if status == "timeout":
                self._timed_out(impl, "infersight_notify", timeout or 0.0)
                failure = failure or DeliveryError(
                    "notifier_timeout", f"notifier {impl.plugin_name!r} did not return within {timeout:g}s; "
                    "it was disabled")
                continue
            if isinstance(value, DeliveryError):
                self._succeeded(impl)
                raise value
            self._failed(impl, "infersight_notify", value)
            failure = failure or DeliveryError(
                "notifier_error", f"notifier {impl.plugin_name!r} failed: {describe_exception(value)}")
        if failure is not None:
            raise failure
        return None

    def configure(self, **kwargs: Any) -> None:
        """Call ``infersight_configure``: a ConfigError fails init, other errors disable the plugin.

        Remembered: a plugin registered later is configured with the same arguments.
        """
        for impl in self._impls("infersight_configure"):
            self._configure_one(impl, kwargs)
        self._configured_with = dict(kwargs)

    def _configure_one(self, impl: Any, kwargs: Mapping[str, Any]) -> None:
        status, value = _run_with_timeout(
            functools.partial(impl.function, *[kwargs[a] for a in impl.argnames]), self.configure_timeout
        )
        if status == "ok":
            return
        if status == "timeout":
            self._timed_out(impl, "infersight_configure", self.configure_timeout or 0.0)
            return
        if isinstance(value, ConfigError):
            raise value
        self._failed(impl, "infersight_configure", value, disable_now=True)

    def _call_one(self, impl: Any, hook_name: str, kwargs: Mapping[str, Any],
                  timeout: float | None = None) -> tuple[bool, Any]:
        status, value = _run_with_timeout(
            functools.partial(impl.function, *[kwargs[a] for a in impl.argnames]), timeout
        )
        if status == "ok":
            self._succeeded(impl)
            return True, value
        if status == "timeout":
            self._timed_out(impl, hook_name, timeout or 0.0)
        else:
            self._failed(impl, hook_name, value)
        return False, None

    def run_guarded(self, plugin: object, what: str, work: Callable[[], object]) -> bool:
        """Run deferred ``work`` of the registered ``plugin`` object with a hook call's guard; skipped once disabled."""
        name = self.pm.get_name(plugin)
        if name is None:
            return False
        status, value = _run_with_timeout(work, None)
        named = _Named(name)
        if status == "ok":
            self._succeeded(named)
            return True
        self._failed(named, what, value)
        return False

    def _succeeded(self, impl: Any) -> None:
        if self._failures.get(impl.plugin_name):
            with self._lock:
                self._failures[impl.plugin_name] = 0

    def _timed_out(self, impl: Any, hook_name: str, timeout: float) -> None:
        """A call that overran: the plugin is disabled at once (it may still be running)."""
        name = impl.plugin_name
        try:
            self.log.error(EVENT_PLUGIN_TIMEOUT, plugin=name, hook=hook_name, timeout_s=timeout)
            if self.on_error is not None:
                self.on_error(name, hook_name)
        except Exception:
            pass
        self._disable(name, hook_name, self._failures.get(name, 0) + 1)

    def _failed(self, impl: Any, hook_name: str, exc: BaseException, disable_now: bool = False) -> None:
        name = impl.plugin_name
        with self._lock:
            count = self._failures.get(name, 0) + 1
            self._failures[name] = count
        try:
            self.log.error(EVENT_PLUGIN_ERROR, plugin=name, hook=hook_name,
                           error=describe_exception(exc), consecutive_failures=count)
        except Exception:
            pass
        try:
            if self.on_error is not None:
                self.on_error(name, hook_name)
        except Exception:
            pass
        if disable_now or count >= self.max_failures:
            self._disable(name, hook_name, count)

    def _disable(self, name: str, hook_name: str, failures: int) -> None:
        try:
            with self._lock:
                if self.pm.get_plugin(name) is None:
                    return
                self.pm.unregister(name=name)
            self.log.error(EVENT_PLUGIN_DISABLED, plugin=name, hook=hook_name, failures=failures)
        except Exception:
            pass

    def plugin(self, name: str) -> Any:
        """The registered plugin object called ``name``, or None."""
        return self.pm.get_plugin(name)

    def describe(self) -> list[LoadedPlugin]:
        """Loaded plugins still registered, with the hooks each implements."""
        return [p for p in self.loaded if self.pm.get_plugin(p.name) is not None]


def import_path(path: str) -> Any:
    """Import ``pkg.module`` or ``pkg.module:attribute`` (no code is evaluated from config)."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


_preloaded: set[str] = set()
_preload_lock = threading.Lock()


def preload(*modules: str) -> None:
    """Import ``modules`` on a daemon thread, once per process, so the worker does not pay for it later.

    Some libraries take a second or more to import the first time (``scipy.stats`` builds
    its distribution docstrings). A plugin that will need one on the worker calls this when
    it learns it will (e.g. when reference data arrives); the worker's own import later
    finds the module ready, or waits on the import lock for what is left. A module that
    fails to import here fails again, and is reported, where it is really imported.
    """
    with _preload_lock:
        todo = [m for m in modules if m not in _preloaded and m not in sys.modules]
        _preloaded.update(todo)
    if todo:
        threading.Thread(target=_import_all, args=(todo,), name="infersight-preload", daemon=True).start()


def _import_all(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # reported again where the module is really imported
            continue
