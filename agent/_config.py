"""Configuration: TOML file or dict, environment variables, explicit overrides; validated at init.

Resolution order for every key: explicit argument (``init(**overrides)``), then
environment variable, then file (or dict), then default. Config is data: it is
parsed with ``tomllib`` and checked against the schema below, never evaluated.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent._errors import ConfigError

# Environment variables (OpenTelemetry ones mean what the specification says).
ENV_CONFIG = "INFERSIGHT_CONFIG"
ENV_DISABLED = "INFERSIGHT_DISABLED"
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"
ENV_EXPORTER = "INFERSIGHT_EXPORTER"
ENV_QUEUE_SIZE = "INFERSIGHT_QUEUE_SIZE"
ENV_LOG_LEVEL = "INFERSIGHT_LOG_LEVEL"
ENV_PLUGINS = "INFERSIGHT_PLUGINS"
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

ENVIRONMENT_VARIABLES = (
    ENV_CONFIG, ENV_DISABLED, ENV_DATA_DIR, ENV_EXPORTER, ENV_QUEUE_SIZE, ENV_LOG_LEVEL, ENV_PLUGINS,
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
TASKS = ("classification", "regression", "ranking", "recommendation", "generation", "other")
BUILTIN_PLUGINS = ("drift", "validation", "feedback", "recsys", "alerts", "notifiers", "health")


@dataclass(frozen=True)
class _Key:
    """One scalar config key: its check, default and environment variable."""

    check: Callable[[str, Any], Any]
    default: Any
    env: str | None = None
    parse_env: Callable[[str], Any] | None = None


def _str(key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(key, v, "a string")
    return v


def _nonempty_str(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(key, v, "a non-empty string")
    return v


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(key, v, "true or false")
    return v


def _pos_int(key: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(key, v, "a positive integer")
    return v


def _pos_float(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or v == float("inf"):
        raise ConfigError(key, v, "a positive number")
    return float(v)


def _ratio(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise ConfigError(key, v, "a number between 0 and 1")
    return float(v)


def _one_of(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(key: str, v: Any) -> str:
        if v not in options:
            raise ConfigError(key, v, "one of " + ", ".join(repr(o) for o in options))
        return str(v)

    return check


def _str_list(key: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ConfigError(key, v, "a list of strings")
    return tuple(v)


def _str_table(key: str, v: Any) -> dict[str, str]:
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise ConfigError(key, v, "a table of string keys to string values")
    return dict(v)


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def opt(key: str, v: Any) -> Any:
        return None if v is None else check(key, v)

    return opt


def _endpoint(key: str, v: Any) -> str:
    v = _str(key, v)
    parsed = urllib.parse.urlsplit(v)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(key, redact_url(v), "an http:// or https:// URL with a host")
    try:
        _ = parsed.port
    except ValueError:
        raise ConfigError(key, redact_url(v), "a URL with a valid port") from None
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


SCHEMA: dict[str, dict[str, _Key]] = {
    "service": {
        "name": _Key(_nonempty_str, "infersight-service", OTEL_SERVICE_NAME),
        "instance_id": _Key(_optional(_nonempty_str), None),
        "attributes": _Key(_str_table, {}, OTEL_RESOURCE_ATTRIBUTES, parse_kv_list),
    },
    "exporter": {
        "type": _Key(_optional(_one_of(EXPORTER_TYPES)), None, ENV_EXPORTER),
        "endpoint": _Key(_optional(_endpoint), None, OTEL_ENDPOINT),
        "protocol": _Key(_one_of(PROTOCOLS), "http/protobuf", OTEL_PROTOCOL),
        "headers": _Key(_str_table, {}, OTEL_HEADERS, parse_kv_list),
        "timeout": _Key(_pos_float, 10.0, OTEL_TIMEOUT, _env_ms),
        "insecure": _Key(_optional(_bool), None, OTEL_INSECURE, _env_bool),
        "certificate": _Key(_optional(_str), None, OTEL_CERTIFICATE),
        "compression": _Key(_one_of(("none", "gzip")), "none", OTEL_COMPRESSION),
        "max_file_bytes": _Key(_pos_int, 50 * 1024 * 1024),
        "max_files": _Key(_pos_int, 5),
    },
    "traces": {
        "sampler": _Key(_one_of(SAMPLERS), "parentbased_always_on", OTEL_SAMPLER),
        "sampler_arg": _Key(_ratio, 1.0, OTEL_SAMPLER_ARG, _env_float),
    },
    "metrics": {
        "export_interval": _Key(_pos_float, 10.0, OTEL_METRIC_INTERVAL, _env_ms),
    },
    "agent": {
        "disabled": _Key(_bool, False, ENV_DISABLED, _env_bool),
        "data_dir": _Key(_nonempty_str, "infersight-data", ENV_DATA_DIR),
        "queue_size": _Key(_pos_int, 10_000, ENV_QUEUE_SIZE, _env_int),
        "stats_queue_size": _Key(_pos_int, 200_000),
        "batch_size": _Key(_pos_int, 1_000),
        "tick_interval": _Key(_pos_float, 1.0),
        "signal_window": _Key(_pos_float, 60.0),
        "shutdown_timeout": _Key(_pos_float, 10.0),
        "plugin_max_failures": _Key(_pos_int, 10),
        "set_global_providers": _Key(_bool, False),
        "log_level": _Key(_one_of(LOG_LEVELS), "info", ENV_LOG_LEVEL),
        "stderr_level": _Key(_one_of((*LOG_LEVELS, "off")), "warning"),
    },
    "plugins": {
        "enabled": _Key(_str_list, BUILTIN_PLUGINS, ENV_PLUGINS, lambda t: [p for p in t.split(",") if p]),
        "paths": _Key(_str_list, ()),
        "entry_points": _Key(_bool, True),
        "disabled": _Key(_str_list, ()),
    },
}

# Keys allowed in a ``[models.NAME]`` table; plugin-specific per-model settings live in
# the plugin's own table (``[drift.models.NAME]``).
MODEL_KEYS: dict[str, _Key] = {
    "version": _Key(_str, ""),
    "task": _Key(_one_of(TASKS), "other"),
    "capture": _Key(_bool, False),
    "capture_outputs": _Key(_bool, True),
    "sample_rate": _Key(_ratio, 1.0),
    "feature_names": _Key(_str_list, ()),
    "redact_drop": _Key(_str_list, ()),
    "redact_hash": _Key(_str_list, ()),
    "artifact": _Key(_optional(_str), None),
    "expected_version": _Key(_optional(_str), None),
    "expected_digest": _Key(_optional(_str), None),
    "reference": _Key(_optional(_str), None),
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
    def exporter_type(self) -> str:
        """The effective exporter: as configured, else ``otlp`` with an endpoint, else ``file``."""
        configured = self.exporter["type"]
        if configured:
            return str(configured)
        return "otlp" if self.exporter["endpoint"] else "file"

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


REDACTED = "***"
# A path segment that may be a credential (Slack/Teams/Discord webhooks put the token in the
# path): 16+ characters, or 8+ that are not a plain lowercase word. Over-masking is the safe side.
_TOKENISH = re.compile(r"^(?![a-z]+$)[^/]{8,}$|^[^/]{16,}$")


SECRET_KEYS = frozenset({"password", "token", "secret", "api_key", "apikey", "authorization"})


def is_secret_key(key: str) -> bool:
    """Whether a config key names a secret (``password``, ``smtp_password``, ``api_key``, ...)."""
    low = key.lower()
    return low in SECRET_KEYS or low.endswith(("_password", "_token", "_secret"))


def redact_data(data: Any, key: str = "") -> Any:
    """Config data safe to log or print, recursively: secret-named values and every header value
    masked, credentials and tokens in URLs redacted (``redact_url``)."""
    if isinstance(data, Mapping):
        if key.lower() == "headers":
            return {str(name): REDACTED for name in data}
        return {str(k): redact_data(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v, key) for v in data]
    if is_secret_key(key):
        return REDACTED if data else data
    if isinstance(data, str) and data.startswith(("http://", "https://")):
        return redact_url(data)
    return data


def redact_url(url: str) -> str:
    """The URL with userinfo, every query value, the fragment and token-like path segments masked."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
    except ValueError:
        return REDACTED
    netloc = host + (f":{port}" if port else "")
    if parts.username is not None or parts.password is not None:
        netloc = f"{REDACTED}@{netloc}"
    path = "/".join(REDACTED if _TOKENISH.match(seg) else seg for seg in parts.path.split("/"))
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = urllib.parse.urlencode([(k, REDACTED) for k, _ in pairs], safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, ""))


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
                raise ConfigError(f"{section}.{key}", expl_sec.get(key, file_sec.get(key)),
                                  "one of the keys " + ", ".join(sorted(keys)))
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
    if _env_bool(env.get(OTEL_SDK_DISABLED, "")) is True and "disabled" not in explicit.get("agent", {}):
        sections["agent"]["disabled"] = True
    if sections["service"]["instance_id"] is None:
        sections["service"]["instance_id"] = uuid.uuid4().hex
    _check_exporter(sections["exporter"])
    models = _resolve_models(deep_merge(dict(file_data.get("models", {}) or {}), explicit.get("models", {})))
    raw = deep_merge(file_data, explicit)
    for name in raw:
        if name not in SCHEMA and name != "models" and not isinstance(raw[name], Mapping):
            raise ConfigError(name, raw[name], "a table (top-level keys are sections)")
    return Settings(models=models, raw=raw, source=source, **sections)


def _check_exporter(exp: dict[str, Any]) -> None:
    if exp["type"] == "otlp" and not exp["endpoint"]:
        raise ConfigError("exporter.endpoint", None, "an OTLP endpoint URL when exporter.type is 'otlp'")


def _resolve_models(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise ConfigError("models", data, "a table of [models.NAME] tables")
    out: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"models.{name}", table, "a table")
        model: dict[str, Any] = {}
        for key in table:
            if key not in MODEL_KEYS:
                raise ConfigError(f"models.{name}.{key}", table[key],
                                  "one of the keys " + ", ".join(sorted(MODEL_KEYS)))
        for key, spec in MODEL_KEYS.items():
            model[key] = spec.check(f"models.{name}.{key}", table[key]) if key in table else spec.default
        out[str(name)] = model
    return out


def unknown_sections(settings: Settings, claimed: frozenset[str]) -> list[str]:
    """Top-level tables that neither the core nor any plugin claimed."""
    core = set(SCHEMA) | {"models"}
    return sorted(k for k in settings.raw if k not in core and k not in claimed)
