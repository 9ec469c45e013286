"""Everything a plugin author needs from the core, in one public module.

Built-in plugins import only this module, ``agent``, ``agent.hookspecs``,
``agent.semconv`` and ``agent.testing`` (an import-linter contract enforces it), so a
third-party plugin can do everything a built-in does::

    from agent.plugin import Key, ModelInfo, PluginContext, RecordBatch, Signal, hookimpl, parse_models, ratio

    KEYS = {"threshold": Key(ratio, 0.1)}

    class MyPlugin:
        @hookimpl
        def infersight_configure(self, config, agent: PluginContext) -> None:
            self.defaults, self.per_model = parse_models("my_plugin", agent.section("my_plugin"), KEYS)

Config: declare a table as ``{key: Key(check, default)}`` and check it with
``parse_table`` (one table) or ``parse_models`` (with ``[<plugin>.models.NAME]``
overrides). Windows are ``window = {type = "count"|"time", size, seconds}``, declared
as ``Key(window, Window(...))``. Every check raises ``ConfigError`` naming the key path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent import _state
from agent._artifacts import identify as identify_artifact
from agent._config import ENVIRONMENT_VARIABLES, Settings, deep_merge, load_file, resolve
from agent._errors import ConfigError, DeliveryError, InputError, PluginError, describe_exception
from agent._fileexport import ensure_dir
from agent._http import post_json, tls_context
from agent._keys import (
    Check,
    Key,
    Window,
    boolean,
    duration,
    enum_of,
    int_at_least,
    integer,
    non_negative,
    nonempty_string,
    number_between,
    one_of,
    optional,
    parse_models,
    parse_table,
    positive_int,
    positive_number,
    probability,
    ratio,
    seconds,
    str_list,
    str_table,
    string,
    table_of,
    unknown_key,
    window,
)
from agent._plugins import preload
from agent._redact import REDACTED, is_secret_key, is_tokenish, redact_data, redact_url
from agent._runtime import PluginContext
from agent._tables import Columns, FeatureType, columns_from_rows, infer_feature_types, load_table, to_numeric
from agent._types import (
    Alert,
    AlertStatus,
    ArtifactIdentity,
    Channel,
    FeedbackEvent,
    ModelInfo,
    Notification,
    RecordBatch,
    Signal,
    TrainingRecord,
)
from agent.hookspecs import hookimpl

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "REDACTED",
    "Alert",
    "AlertStatus",
    "ArtifactIdentity",
    "Channel",
    "Check",
    "Columns",
    "ConfigError",
    "DeliveryError",
    "FeatureType",
    "FeedbackEvent",
    "InputError",
    "Key",
    "ModelInfo",
    "Notification",
    "PluginContext",
    "PluginError",
    "RecordBatch",
    "Settings",
    "Signal",
    "TrainingRecord",
    "Window",
    "boolean",
    "columns_from_rows",
    "deep_merge",
    "describe_exception",
    "duration",
    "ensure_dir",
    "enum_of",
    "exporter_type",
    "hookimpl",
    "identify_artifact",
    "infer_feature_types",
    "int_at_least",
    "integer",
    "is_secret_key",
    "is_tokenish",
    "listen_events",
    "load_config_file",
    "load_table",
    "non_negative",
    "nonempty_string",
    "number_between",
    "one_of",
    "optional",
    "parse_models",
    "parse_table",
    "positive_int",
    "positive_number",
    "post_json",
    "preload",
    "probability",
    "ratio",
    "redact_data",
    "redact_url",
    "resolve_config",
    "running_plugin",
    "seconds",
    "str_list",
    "str_table",
    "string",
    "table_of",
    "tls_context",
    "to_numeric",
    "unknown_key",
    "window",
]


def resolve_config(path: str | None = None) -> Settings:
    """The agent's resolved configuration from ``path`` (or INFERSIGHT_CONFIG, env vars and defaults).

    For offline commands (``infersight doctor``, ``infersight alerts``) that need the
    data directory or exporter settings without starting an agent. Raises ``ConfigError``.
    """
    return resolve(path)


def load_config_file(path: str) -> dict[str, Any]:
    """A TOML config file as plain data; ``ConfigError`` naming the path when it is missing or not TOML."""
    return load_file(path)


def running_plugin(name: str) -> Any:
    """The registered plugin object called ``name`` in the running agent, or None.

    For scenarios and tests that read a plugin's state (``running_plugin("alerts")``);
    plugins should talk to each other through hooks and Signals, not through this.
    """
    running = _state.AGENT
    return running.host.plugin(name) if running is not None else None


def listen_events(listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Call ``listener`` with every structured event the running agent logs; returns a function that stops it.

    Each event is a dict with ``event`` (its name), ``level`` and its attributes. Called
    on the thread that logged the event (mostly the worker): keep it short and
    thread-safe. For scenarios (``infersight demo``) and tests; a no-op without an agent.
    """
    running = _state.AGENT
    if running is None:
        return lambda: None
    listeners = running.log_sink.listeners
    listeners.append(listener)

    def stop() -> None:
        try:
            listeners.remove(listener)
        except ValueError:
            pass

    return stop


def exporter_type() -> str | None:
    """The running agent's effective exporter (``otlp``, ``file``, ``console``, ``none``), or None when not running."""
    running = _state.AGENT
    return running.settings.exporter_type if running is not None else None
