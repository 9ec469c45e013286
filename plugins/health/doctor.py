"""``infersight doctor``: run the init checks from the command line and print a report.

Checks, in order: the configuration (core sections through the core's resolver, the
``[health]`` table and each model's pins), exporter reachability (a TCP connect to the
OTLP endpoint's host and port), the data directory, model artifacts (identified by the
core's ``agent.record_artifact``) and reference files, digests and versions against
their pins, dependency pins and imports. The endpoint is printed without user info,
query or fragment, and exporter headers are never printed. Exit code: 0 when nothing
needs action, 1 otherwise; a config file that cannot be read at all raises
``ConfigError`` (the command exits 2).
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from agent.plugin import ConfigError, Settings, identify_artifact, load_config_file, resolve_config
from plugins.health.checks import CheckReport, artifact_role, run_checks
from plugins.health.config import HealthConfig, ModelPins, model_pins, parse_config
from plugins.health.dependencies import PYTHON
from plugins.health.gpu import load_nvml
from plugins.health.identity import Mismatch, check_digest
from plugins.health.paths import describe_os_error

__all__ = ["ENV_DATA_DIR", "OTEL_ENDPOINT", "OTEL_PROTOCOL", "ProbeResult", "display_endpoint", "probe_tcp",
           "run_doctor"]

# Read only when the core's resolver rejected the config, to still say where data and telemetry would
# go; each is one of agent.plugin.ENVIRONMENT_VARIABLES (a test holds them to that).
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"
OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"

Status = Literal["ok", "FAIL", "info", "skip"]
_DEFAULT_ENDPOINTS = {"grpc": "http://localhost:4317", "http/protobuf": "http://localhost:4318"}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Outcome of a TCP connect: whether it succeeded, and the error when it did not."""

    ok: bool
    error: str = ""


def display_endpoint(url: str) -> str:
    """The endpoint as safe to print: scheme, host, port and path; user info, query and fragment dropped."""
    try:
        parts = urllib.parse.urlsplit(url if "://" in url else f"//{url}")
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable endpoint>"
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = f"{host}:{port}" if port is not None else host
    if not parts.scheme:  # grpc-style "host:port" without a scheme
        return netloc + parts.path
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url if "://" in url else f"//{url}")
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "localhost", parts.port or default


def probe_tcp(host: str, port: int, timeout: float) -> ProbeResult:
    """Try a TCP connection to ``host:port`` within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ProbeResult(True)
    except TimeoutError:
        return ProbeResult(False, f"no answer within {timeout:g} s")
    except OSError as exc:
        return ProbeResult(False, describe_os_error(exc))


class _Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.problems = 0

    def line(self, status: Status, subject: str, text: str) -> None:
        if status == "FAIL":
            self.problems += 1
        self.out.write(f"  {status:<5} {subject:<22} {text}\n")


def _check_config(
    path: str | None, raw: Mapping[str, Any], rep: _Report
) -> tuple[Settings | None, HealthConfig, dict[str, ModelPins]]:
    settings: Settings | None = None
    try:
        settings = resolve_config(path)
        rep.line("ok", "config", "core sections valid")
    except ConfigError as exc:
        rep.line("FAIL", "config", str(exc))
    try:
        health = parse_config(_table(raw.get("health")))
        rep.line("ok", "config [health]", "valid")
    except ConfigError as exc:
        health = HealthConfig()
        rep.line("FAIL", "config [health]", f"{exc} (checking with defaults)")
    models = settings.models if settings else _table(raw.get("models"))
    pins: dict[str, ModelPins] = {}
    for name, table in models.items():
        try:
            pins[name] = model_pins(name, _table(table))
        except ConfigError as exc:
            rep.line("FAIL", f"model {name}", str(exc))
    return settings, health, pins


def _table(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _exporter_kinds(value: Any) -> tuple[str, ...]:
    """``exporter.type`` as a tuple: one name, or several (``["otlp", "file"]``) where the core allows it."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def _otlp_targets(
    settings: Settings | None, config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """(exporters in use, [(endpoint URL, protocol)] of every signal exported over OTLP, each once)."""
    if settings is not None:
        kinds = settings.exporter_types
        targets = []
        for signal in ("traces", "metrics", "logs"):
            exp = settings.signal_exporter(signal)
            if "otlp" in exp["type"]:
                targets.append((str(exp["endpoint"] or ""), str(exp["protocol"])))
        return kinds, list(dict.fromkeys(targets))
    exporter = _table(config.get("exporter"))
    endpoint = environ.get(OTEL_ENDPOINT) or exporter.get("endpoint")
    protocol = str(environ.get(OTEL_PROTOCOL) or exporter.get("protocol") or "http/protobuf")
    kinds = _exporter_kinds(exporter.get("type")) or (("otlp",) if endpoint else ("file",))
    return kinds, [(str(endpoint or ""), protocol)] if "otlp" in kinds else []


def _check_exporter(
    settings: Settings | None,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    rep: _Report,
    *,
    timeout: float,
    probe: bool,
) -> None:
    kinds, targets = _otlp_targets(settings, config, environ)
    if not targets:
        rep.line("skip", "exporter", f"type {'+'.join(kinds)!r}: no network endpoint to probe")
        return
    probed: set[tuple[str, int]] = set()
    for endpoint, protocol in targets:
        url = endpoint or _DEFAULT_ENDPOINTS.get(protocol, _DEFAULT_ENDPOINTS["http/protobuf"])
        shown = f"{display_endpoint(url)} ({protocol})"
        host, port = _host_port(url)
        if not probe:
            rep.line("skip", "exporter", f"{shown}: not probed")
            continue
        if (host, port) in probed:
            continue
        probed.add((host, port))
        result = probe_tcp(host, port, timeout)
        if result.ok:
            rep.line("ok", "exporter", f"{shown}: TCP connect succeeded")
        else:
            rep.line("FAIL", "exporter", f"{shown}: cannot connect: {result.error}")


def _data_dir(settings: Settings | None, config: Mapping[str, Any], environ: Mapping[str, str]) -> Path:
    if settings is not None:
        return settings.data_dir
    raw = environ.get(ENV_DATA_DIR) or _table(config.get("agent")).get("data_dir") or "infersight-data"
    return Path(str(raw)).expanduser()


def _check_artifacts(report: CheckReport, pins: Mapping[str, ModelPins], rep: _Report) -> list[Mismatch]:
    """Identify each readable artifact through the core; print it; return the digest mismatches."""
    mismatches: list[Mismatch] = []
    for name, path in report.artifacts:
        identity = identify_artifact(name, path)
        digest = identity.digest or None
        try:
            size = f", {path.stat().st_size} bytes"
        except OSError:
            size = ""
        if digest is None:  # readable a moment ago, not any more
            rep.line("FAIL", artifact_role(name), f"{path}: needs read access: could not be read")
            continue
        model = pins.get(name)
        mismatch = check_digest(digest.removeprefix("sha256:"), model) if model else None
        if mismatch:
            mismatches.append(mismatch)
            continue
        pinned = model is not None and model.expected_digest is not None
        note = ", matches expected_digest" if pinned else ""
        rep.line("ok", f"model {name}", f"artifact {path}: {digest}{size}{note}")
    return mismatches


def _print_checks(
    report: CheckReport,
    mismatches: list[Mismatch],
    pins: Mapping[str, ModelPins],
    dep_pins: Mapping[str, str],
    data_dir: Path,
    rep: _Report,
) -> None:
    bad_paths = {p.path for p in report.path_problems}
    for problem in report.path_problems:
        rep.line("FAIL", problem.role, problem.describe().removeprefix(problem.role + " "))
    if str(data_dir) not in bad_paths:
        rep.line("ok", "data directory", f"{data_dir}: writable")
    for name, model in pins.items():
        if model.reference is not None and str(model.reference) not in bad_paths:
            rep.line("ok", f"model {name}", f"reference {model.reference}: readable")
    for name in report.unversioned:
        rep.line("info", f"model {name}", "expected_version set, no version in config: checked at run time")
    for m in mismatches:
        subject = f"model {m.subject}"
        if m.kind == "digest":
            rep.line("FAIL", subject, f"artifact digest {m.actual} differs from expected {m.expected}")
        elif m.kind == "version":
            rep.line("FAIL", subject, f"version {m.actual!r} differs from expected {m.expected!r}")
        else:
            rep.line("FAIL", f"dependency {m.subject}", f"version {m.actual} differs from pin {m.expected}")
    for e in report.inventory.errors:
        rep.line("FAIL", f"dependency {e.package}", e.error)
    mismatched = {m.subject for m in mismatches if m.kind == "dependency"}
    for name, version in report.inventory.with_python().items():
        if name not in mismatched:
            note = f" (matches pin {dep_pins[name]})" if name in dep_pins else ""
            rep.line("ok", name if name == PYTHON else f"dependency {name}", f"{version}{note}")


def run_doctor(
    path: str | None,
    out: TextIO,
    *,
    probe_exporter: bool = True,
    timeout: float = 1.0,
) -> int:
    """Run the init checks for the config file at ``path`` (None: defaults and environment), print a report.

    Returns 0 when nothing needs action, 1 when any check failed. OTEL_* and
    INFERSIGHT_* environment variables override the file, as at init. Raises
    ``ConfigError`` naming the file when it cannot be read as TOML at all.
    """
    raw = load_config_file(path) if path else {}
    rep = _Report(out)
    out.write("infersight doctor\n")
    settings, health, pins = _check_config(path, raw, rep)
    _check_exporter(settings, raw, os.environ, rep, timeout=timeout, probe=probe_exporter)
    data_dir = _data_dir(settings, raw, os.environ)
    tables = settings.models if settings else _table(raw.get("models"))
    versions = {name: str(_table(tables.get(name)).get("version") or "") for name in pins}
    report = run_checks(health, pins, versions, data_dir, references=True)
    mismatches = _check_artifacts(report, pins, rep) + list(report.mismatches)
    _print_checks(report, mismatches, pins, health.pins, data_dir, rep)
    nvml = load_nvml()
    if nvml.module is not None:
        nvml.module.nvmlShutdown()
        rep.line("info", "gpu", f"{nvml.devices} NVIDIA GPU(s): hw.gpu.* metrics available")
    else:
        rep.line("info", "gpu", f"{nvml.reason}: GPU metrics off")
    summary = "no problems found" if rep.problems == 0 else f"{rep.problems} problem(s) found"
    out.write(f"result: {summary}\n")
    return 0 if rep.problems == 0 else 1
