"""Configuration: TOML file or dict, environment variables, explicit overrides; validated at init.

Resolution order for every key: explicit argument (``init(**overrides)``), then
environment variable, then file (or dict), then default. Config is data: it is
parsed with ``tomllib`` and checked against the schema below, never evaluated.
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent._errors import ConfigError
from agent._keys import (
    Key,
    boolean,
    nonempty_string,
    one_of,
    optional,
    parse_table,
    positive_int,
    positive_number,
    ratio,
    seconds,
    str_list,
    str_table,
    string,
    unknown_key,
)
from agent._redact import redact_data, redact_url

# Environment variables (OpenTelemetry ones mean what the specification says).
ENV_CONFIG = "INFERSIGHT_CONFIG"
ENV_DISABLED = "INFERSIGHT_DISABLED"
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"
ENV_EXPORTER = "INFERSIGHT_EXPORTER"
ENV_QUEUE_SIZE = "INFERSIGHT_QUEUE_SIZE"
ENV_LOG_LEVEL = "INFERSIGHT_LOG_LEVEL"
ENV_PLUGINS = "INFERSIGHT_PLUGINS"
ENV_REDACT_SECRET = "INFERSIGHT_REDACT_SECRET"
ENV_OPENINFERENCE = "INFERSIGHT_OPENINFERENCE"  # read by agent/_openinference.py when a model binds
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
OTEL_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
OTEL_INSECURE = "OTEL_EXPORTER_OTLP_INSECURE"
OTEL_CERTIFICATE = "OTEL_EXPORTER_OTLP_CERTIFICATE"
OTEL_COMPRESSION = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTEL_SAMPLER = "OTEL_TRACES_SAMPLER"
OTEL_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
OTEL_METRIC_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"

SIGNALS = ("traces", "metrics", "logs")
_SIGNAL_ENV = {
    "type": "OTEL_{S}_EXPORTER",
    "endpoint": "OTEL_EXPORTER_OTLP_{S}_ENDPOINT",
    "protocol": "OTEL_EXPORTER_OTLP_{S}_PROTOCOL",
    "headers": "OTEL_EXPORTER_OTLP_{S}_HEADERS",
    "timeout": "OTEL_EXPORTER_OTLP_{S}_TIMEOUT",
    "insecure": "OTEL_EXPORTER_OTLP_{S}_INSECURE",
    "certificate": "OTEL_EXPORTER_OTLP_{S}_CERTIFICATE",
    "compression": "OTEL_EXPORTER_OTLP_{S}_COMPRESSION",
}
SIGNAL_ENVIRONMENT_VARIABLES = tuple(
    t.format(S=sig.upper()) for sig in SIGNALS for t in _SIGNAL_ENV.values()
)


ENVIRONMENT_VARIABLES = (
    *SIGNAL_ENVIRONMENT_VARIABLES,
    ENV_CONFIG, ENV_DISABLED, ENV_DATA_DIR, ENV_EXPORTER, ENV_QUEUE_SIZE, ENV_LOG_LEVEL, ENV_PLUGINS,
    ENV_REDACT_SECRET, ENV_OPENINFERENCE,
    OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_ENDPOINT, OTEL_PROTOCOL,
    OTEL_HEADERS, OTEL_TIMEOUT, OTEL_INSECURE, OTEL_CERTIFICATE, OTEL_COMPRESSION, OTEL_SAMPLER,
    OTEL_SAMPLER_ARG, OTEL_METRIC_INTERVAL,
)  # fmt: skip

EXPORTER_TYPES = ("otlp", "console", "file", "none")
PROTOCOLS = ("grpc", "http/protobuf")
SAMPLERS = (
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
)  # fmt: skip
LOG_LEVELS = ("debug", "info", "warning", "error")
TASKS = ("classification", "regression", "ranking", "recommendation", "generation", "embedding", "other")


def _file_mode(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0o400 <= v <= 0o666 or not v & 0o600 == 0o600:
        raise ConfigError(key, v, "a file mode such as 0o600 (owner read+write at least, no execute bits)")
    if v & 0o111:
        raise ConfigError(key, v, "a file mode without execute bits, such as 0o600 or 0o640")
    return v


def _endpoint(key: str, v: Any) -> str:
    v = string(key, v)
    parsed = urllib.parse.urlsplit(v)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(key, redact_url(v), "an http:// or https:// URL with a host")
    try:
        _ = parsed.port
    except ValueError:
        raise ConfigError(key, redact_url(v), "a URL with a valid port") from None
    if parsed.username is not None or parsed.password is not None:
        # Exporters log their endpoint: credentials in it would end up in logs. Headers carry them.
        raise ConfigError(key, redact_url(v), "a URL without user:password@ (send credentials in "
                          "exporter.headers / OTEL_EXPORTER_OTLP_HEADERS)")
    return v


def _env_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    return text  # type: ignore[return-value]  # the check then reports the raw text


def _env_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _env_float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _env_ms(text: str) -> Any:
    try:
        return float(text) / 1000.0
    except ValueError:
        return text


def parse_kv_list(text: str) -> dict[str, str]:
    """Parse ``k1=v1,k2=v2`` (percent-decoded) as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES use."""
    out: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep:
            continue
        out[urllib.parse.unquote(name.strip())] = urllib.parse.unquote(value.strip())
    return out


def _exporter_types(key: str, v: Any) -> tuple[str, ...]:
    """One exporter type or a list of them (``["otlp", "file"]``); ``none`` stands alone."""
    items = [v] if isinstance(v, str) else v
    expected = "one of " + ", ".join(repr(t) for t in EXPORTER_TYPES) + ", or a list of them"
    if not isinstance(items, list | tuple) or not items or not all(isinstance(t, str) for t in items):
        raise ConfigError(key, v, expected)
    out = tuple(dict.fromkeys(t.strip().lower() for t in items))
    if any(t not in EXPORTER_TYPES for t in out):
        raise ConfigError(key, v, expected)
    if "none" in out and len(out) > 1:
        raise ConfigError(key, v, "'none' alone, or a list of exporters without 'none'")
    return out


def _env_list(text: str) -> Any:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts or text


def _signal_checks() -> dict[str, Key]:
    base = SCHEMA["exporter"]
    return {
        "type": Key(_exporter_types, None, parse_env=_env_list),
        "endpoint": Key(_endpoint, None),
        "protocol": Key(base["protocol"].check, None),
        "headers": Key(str_table, None, parse_env=parse_kv_list),
        "timeout": Key(base["timeout"].check, None, parse_env=_env_ms),
        "insecure": Key(boolean, None, parse_env=_env_bool),
        "certificate": Key(string, None),
        "compression": Key(base["compression"].check, None),
    }


def _signals_table(key: str, v: Any) -> dict[str, Any]:
    """``[exporter.signals.<signal>]`` tables as given (checked key by key in ``_resolve_signals``)."""
    if not isinstance(v, Mapping):
        raise ConfigError(key, v, "a table of [exporter.signals.traces|metrics|logs] tables")
    for sig, table in v.items():
        if sig not in SIGNALS:
            raise unknown_key(f"{key}.{sig}", table, set(SIGNALS))
        if not isinstance(table, Mapping):
            raise ConfigError(f"{key}.{sig}", table, "a table")
        for k in table:
            if k not in _SIGNAL_ENV:
                raise unknown_key(f"{key}.{sig}.{k}", table[k], set(_SIGNAL_ENV))
    return {str(k): dict(t) for k, t in v.items()}


def _resolve_signals(exp: dict[str, Any], explicit: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Each signal's effective exporter settings: explicit > OTEL_* per-signal variable > file > [exporter].

    An endpoint set for one signal is used as it is (the OTLP specification's rule for
    per-signal endpoints); the shared endpoint gets ``/v1/<signal>`` appended over HTTP.
    """
    checks = _signal_checks()
    given = exp.get("signals") or {}
    expl = (explicit.get("signals") or {}) if isinstance(explicit, Mapping) else {}
    base_types = exp["type"] or (("otlp",) if exp["endpoint"] else ("file",))
    out: dict[str, Any] = {}
    for sig in SIGNALS:
        table = dict(given.get(sig, {}))
        table.update(expl.get(sig, {}) if isinstance(expl, Mapping) else {})
        effective: dict[str, Any] = {}
        for name, spec in checks.items():
            var = _SIGNAL_ENV[name].format(S=sig.upper())
            path = f"exporter.signals.{sig}.{name}"
            if name in (expl.get(sig, {}) if isinstance(expl, Mapping) else {}):
                value = spec.check(path, table[name])
            elif env.get(var):
                text = env[var]
                value = spec.check(f"{var} ({path})", spec.parse_env(text) if spec.parse_env else text)
            elif name in table:
                value = spec.check(path, table[name])
            else:
                value = None
            effective[name] = value
        effective["endpoint_is_full"] = effective["endpoint"] is not None
        for name in ("endpoint", "protocol", "headers", "timeout", "insecure", "certificate", "compression"):
            if effective[name] is None:
                effective[name] = exp[name]
        effective["type"] = effective["type"] or base_types
        if "otlp" in effective["type"] and not effective["endpoint"]:
            raise ConfigError(f"exporter.signals.{sig}.endpoint", None,
                              f"an OTLP endpoint URL when {sig} are exported over otlp "
                              f"(exporter.endpoint, OTEL_EXPORTER_OTLP_ENDPOINT or "
                              f"OTEL_EXPORTER_OTLP_{sig.upper()}_ENDPOINT)")
        out[sig] = effective
    return out


SCHEMA: dict[str, dict[str, Key]] = {
    "service": {
        "name": Key(nonempty_string, "infersight-service", OTEL_SERVICE_NAME),
        "instance_id": Key(optional(nonempty_string), None),
        "attributes": Key(str_table, {}, OTEL_RESOURCE_ATTRIBUTES, parse_kv_list),
    },
    "exporter": {
        "type": Key(optional(_exporter_types), None, ENV_EXPORTER, _env_list),
        "endpoint": Key(optional(_endpoint), None, OTEL_ENDPOINT),
        "protocol": Key(one_of(*PROTOCOLS), "http/protobuf", OTEL_PROTOCOL),
        "headers": Key(str_table, {}, OTEL_HEADERS, parse_kv_list),
        "timeout": Key(seconds(3600.0), 10.0, OTEL_TIMEOUT, _env_ms),
        "insecure": Key(optional(boolean), None, OTEL_INSECURE, _env_bool),
        "certificate": Key(optional(string), None, OTEL_CERTIFICATE),
        "compression": Key(one_of("none", "gzip"), "none", OTEL_COMPRESSION),
        "max_file_bytes": Key(positive_int, 50 * 1024 * 1024),
        "max_files": Key(positive_int, 5),
        # Per-signal overrides: [exporter.signals.traces] type/endpoint/protocol/headers/... and the
        # OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_TRACES_* variables (likewise metrics, logs).
        "signals": Key(_signals_table, {}),
    },
    "traces": {
        "sampler": Key(one_of(*SAMPLERS), "parentbased_always_on", OTEL_SAMPLER),
        "sampler_arg": Key(ratio, 1.0, OTEL_SAMPLER_ARG, _env_float),
    },
    "metrics": {
        "export_interval": Key(positive_number, 10.0, OTEL_METRIC_INTERVAL, _env_ms),
    },
    "agent": {
        "disabled": Key(boolean, False, ENV_DISABLED, _env_bool),
        "data_dir": Key(nonempty_string, "infersight-data", ENV_DATA_DIR),
        # Files the agent and its plugins create in data_dir (telemetry, feedback store, outbox):
        # owner-only by default, since captured values can be personal data. Directories get x bits.
        "file_mode": Key(_file_mode, 0o600),
        "queue_size": Key(positive_int, 10_000, ENV_QUEUE_SIZE, _env_int),
        "stats_queue_size": Key(positive_int, 200_000),
        "batch_size": Key(positive_int, 1_000),
        "tick_interval": Key(seconds(3600.0), 1.0),
        "signal_window": Key(seconds(), 60.0),
        "shutdown_timeout": Key(seconds(3600.0), 10.0),
        "plugin_max_failures": Key(positive_int, 10),
        "plugin_configure_timeout": Key(seconds(3600.0), 30.0),
        "notify_timeout": Key(seconds(3600.0), 60.0),
        "set_global_providers": Key(boolean, False),
        "log_level": Key(one_of(*LOG_LEVELS), "info", ENV_LOG_LEVEL),
        "stderr_level": Key(one_of(*(*LOG_LEVELS, "off")), "warning"),
    },
    "plugins": {
        # None: every built-in plugin (the entry points this distribution ships).
        "enabled": Key(optional(str_list), None, ENV_PLUGINS, lambda t: [p for p in t.split(",") if p]),
        "paths": Key(str_list, ()),
        "entry_points": Key(boolean, True),
        "disabled": Key(str_list, ()),
    },
}

# Keys allowed in a ``[models.NAME]`` table; plugin-specific per-model settings live in
# the plugin's own table (``[drift.models.NAME]``).
MODEL_KEYS: dict[str, Key] = {
    "version": Key(string, ""),
    "task": Key(one_of(*TASKS), "other"),
    "capture": Key(boolean, False),
    "capture_outputs": Key(boolean, True),
    "sample_rate": Key(ratio, 1.0),
    "feature_names": Key(str_list, ()),
    "redact_drop": Key(str_list, ()),
    "redact_hash": Key(str_list, ()),
    # HMAC key for redact_hash, so a small id space cannot be reversed by hashing every candidate.
    # Default: INFERSIGHT_REDACT_SECRET. Masked wherever config is printed or logged.
    "redact_hash_secret": Key(optional(nonempty_string), None),
    "artifact": Key(optional(string), None),
    "expected_version": Key(optional(string), None),
    "expected_digest": Key(optional(string), None),
    "reference": Key(optional(string), None),
    # OpenInference span attributes for this model (None: INFERSIGHT_OPENINFERENCE decides).
    "openinference": Key(optional(boolean), None),
}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: core sections as dicts, models, and the raw data for plugins."""

    service: dict[str, Any]
    exporter: dict[str, Any]
    traces: dict[str, Any]
    metrics: dict[str, Any]
    agent: dict[str, Any]
    plugins: dict[str, Any]
    models: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(repr=False)
    source: str = "defaults"

    @property
    def data_dir(self) -> Path:
        """The data directory, with ``~`` expanded."""
        return Path(self.agent["data_dir"]).expanduser()

    @property
    def exporter_types(self) -> tuple[str, ...]:
        """The exporters in use across signals, in order (``("otlp", "file")``; ``("none",)`` when none)."""
        types = [t for sig in SIGNALS for t in self.exporter["signals"][sig]["type"] if t != "none"]
        return tuple(dict.fromkeys(types)) or ("none",)

    @property
    def exporter_type(self) -> str:
        """The exporters in use as one word for people: ``file``, ``otlp``, ``otlp+file``, ``none``."""
        return "+".join(self.exporter_types)

    def signal_exporter(self, signal: str) -> dict[str, Any]:
        """The effective exporter settings of ``traces``, ``metrics`` or ``logs``."""
        return dict(self.exporter["signals"][signal])

    @property
    def disabled(self) -> bool:
        """Whether the agent is switched off (INFERSIGHT_DISABLED or OTEL_SDK_DISABLED)."""
        return bool(self.agent["disabled"])

    def redacted(self) -> dict[str, Any]:
        """The resolved config with secrets (headers, URL credentials) masked, for logs and the CLI."""
        names = ("service", "exporter", "traces", "metrics", "agent", "plugins", "models")
        out: dict[str, Any] = redact_data({name: getattr(self, name) for name in names})
        out["exporter"]["type"] = self.exporter_type
        return out


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML config file; a missing file or bad TOML is a ConfigError naming the path."""
    p = Path(path).expanduser()
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config file", str(p), "an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config file", str(p), f"valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError("config file", str(p), "a UTF-8 text file (TOML)") from None
    except IsADirectoryError:
        raise ConfigError("config file", str(p), "a TOML file, not a directory") from None
    except OSError as exc:
        raise ConfigError("config file", str(p), f"a readable file ({exc.strerror or type(exc).__name__})") from None


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, tables merged recursively (neither is modified)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def resolve(
    path_or_dict: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve config from the four layers and validate it; raise ConfigError on the first mistake."""
    env = os.environ if environ is None else environ
    source = "defaults"
    if path_or_dict is None and env.get(ENV_CONFIG):
        path_or_dict = env[ENV_CONFIG]
    if path_or_dict is None:
        file_data: dict[str, Any] = {}
    elif isinstance(path_or_dict, Mapping):
        file_data, source = dict(path_or_dict), "dict"
    elif isinstance(path_or_dict, str | os.PathLike):
        file_data, source = load_file(path_or_dict), str(path_or_dict)
    else:
        raise ConfigError("path_or_dict", path_or_dict, "a path to a TOML file, a dict, or None")
    explicit = dict(overrides or {})
    for name, value in explicit.items():
        if name in SCHEMA and not isinstance(value, Mapping):
            raise ConfigError(name, value, f"a dict of [{name}] keys")
    sections: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        file_sec = file_data.get(section, {})
        if not isinstance(file_sec, Mapping):
            raise ConfigError(section, file_sec, f"a table [{section}]")
        expl_sec = explicit.get(section, {})
        for key in list(file_sec) + list(expl_sec):
            if key not in keys:
                raise unknown_key(f"{section}.{key}", None, keys)
        out: dict[str, Any] = {}
        for key, spec in keys.items():
            path = f"{section}.{key}"
            if key in expl_sec:
                value = expl_sec[key]
            elif spec.env and env.get(spec.env) is not None and env.get(spec.env) != "":
                env_text = env[spec.env]
                value = spec.parse_env(env_text) if spec.parse_env else env_text
                path = f"{spec.env} ({path})"
            elif key in file_sec:
                value = file_sec[key]
            else:
                out[key] = spec.default
                continue
            out[key] = spec.check(path, value)
        sections[section] = out
    # OTEL_RESOURCE_ATTRIBUTES adds to the file's attributes (explicit ones win over both), key by key.
    service_file = file_data.get("service", {}) if isinstance(file_data.get("service", {}), Mapping) else {}
    merged: dict[str, str] = {}
    if "attributes" in service_file:
        merged.update(str_table("service.attributes", service_file["attributes"]))
    if env.get(OTEL_RESOURCE_ATTRIBUTES):
        merged.update(parse_kv_list(env[OTEL_RESOURCE_ATTRIBUTES]))
    if "attributes" in explicit.get("service", {}):
        merged.update(str_table("service.attributes", explicit["service"]["attributes"]))
    sections["service"]["attributes"] = merged
    if _env_bool(env.get(OTEL_SDK_DISABLED, "")) is True and "disabled" not in explicit.get("agent", {}):
        sections["agent"]["disabled"] = True
    if sections["service"]["instance_id"] is None:
        sections["service"]["instance_id"] = uuid.uuid4().hex
    _check_exporter(sections["exporter"])
    sections["exporter"]["signals"] = _resolve_signals(
        sections["exporter"], explicit.get("exporter", {}), env)
    models = _resolve_models(deep_merge(dict(file_data.get("models", {}) or {}), explicit.get("models", {})))
    if env.get(ENV_REDACT_SECRET):
        for table in models.values():
            if table["redact_hash_secret"] is None:
                table["redact_hash_secret"] = env[ENV_REDACT_SECRET]
    raw = deep_merge(file_data, explicit)
    for name in raw:
        if name not in SCHEMA and name != "models" and not isinstance(raw[name], Mapping):
            raise ConfigError(name, raw[name], "a table (top-level keys are sections)")
    return Settings(models=models, raw=raw, source=source, **sections)


def _check_exporter(exp: dict[str, Any]) -> None:
    if exp["type"] and "otlp" in exp["type"] and not exp["endpoint"]:
        raise ConfigError("exporter.endpoint", None, "an OTLP endpoint URL when exporter.type is 'otlp'")


def _resolve_models(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise ConfigError("models", data, "a table of [models.NAME] tables")
    out: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"models.{name}", table, "a table")
        out[str(name)] = parse_table(f"models.{name}", table, MODEL_KEYS)
    return out


def unknown_sections(settings: Settings, claimed: frozenset[str]) -> list[str]:
    """Top-level tables that neither the core nor any plugin claimed."""
    core = set(SCHEMA) | {"models"}
    return sorted(k for k in settings.raw if k not in core and k not in claimed)
