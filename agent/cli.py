"""The ``infersight`` command: demo, config check, plugins, and the offline tools plugins provide."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from agent._config import resolve
from agent._errors import ConfigError


def _cmd_demo(args: argparse.Namespace) -> int:
    from agent._demo import run_demo

    return run_demo(
        data_dir=args.data_dir, rows=args.rows, seed=args.seed, quiet=args.quiet, report=not args.no_report
    )


def _check_config(path: str | None) -> tuple[Any, list[Any]]:
    """Resolve a config and run every plugin's validation of its own section, without exporting."""
    import tempfile

    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider

    from agent._config import unknown_sections
    from agent._logging import make_logger
    from agent._plugins import PluginHost
    from agent._runtime import PluginContext

    settings = resolve(path)
    log, _ = make_logger(LoggerProvider(), stream=None)
    host = PluginHost(log)
    p = settings.plugins
    host.load(p["enabled"], p["paths"], p["entry_points"], p["disabled"])
    with tempfile.TemporaryDirectory() as tmp:
        from pathlib import Path

        from agent._agent import model_info

        models = {name: model_info(name, table) for name, table in settings.models.items()}
        ctx = PluginContext(
            config=settings.raw, data_dir=Path(tmp), meter=MeterProvider().get_meter("check"), log=log, models=models
        )
        ctx.hook = host.pm.hook
        host.configure(config=settings.raw, agent=ctx)
        host.call("infersight_shutdown", agent=ctx)
    unknown = unknown_sections(settings, ctx.claimed_sections)
    if unknown:
        raise ConfigError(unknown[0], settings.raw[unknown[0]], "a core section or one claimed by a loaded plugin")
    return settings, host.describe()


def _cmd_config_check(args: argparse.Namespace) -> int:
    try:
        settings, plugins = _check_config(args.file)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    redacted = settings.redacted()
    redacted["plugin_sections"] = _redact_sections(
        {k: v for k, v in settings.raw.items() if k not in redacted and k != "models"}
    )
    print(f"{args.file}: OK ({len(plugins)} plugins loaded)")
    print(json.dumps(redacted, indent=2, default=str))
    return 0


_SECRET_WORDS = ("password", "token", "secret", "authorization", "api_key", "apikey", "headers")


def _redact_sections(data: Any, key: str = "") -> Any:
    """Mask values of secret-looking keys and credentials in URLs, recursively (for printing)."""
    from agent._config import redact_url

    if isinstance(data, dict):
        return {k: _redact_sections(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact_sections(v, key) for v in data]
    if any(w in key.lower() for w in _SECRET_WORDS):
        return "***"
    if isinstance(data, str) and data.startswith(("http://", "https://")):
        return redact_url(data)
    return data


def _cmd_plugins(args: argparse.Namespace) -> int:
    try:
        _, plugins = _check_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    for p in plugins:
        print(f"{p.name:28} {p.source:24} {', '.join(h.removeprefix('infersight_') for h in p.hooks)}")
    return 0


def _cmd_drift(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from plugins.drift import DriftConfig, compare, format_table, report_to_json
    from plugins.reference import load_table

    try:
        reference = load_table(args.reference)
        current = load_table(args.current)
        config = replace(DriftConfig(), alpha=args.alpha)
        report = compare(reference, current, features=args.features, tests=args.tests, config=config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report_to_json(report), indent=2, default=str))
    else:
        print(format_table(report))
    if args.html:
        from plugins.report import build_drift_report

        build_drift_report(report, args.html)
        print(f"HTML report written to {args.html}", file=sys.stderr if args.json else sys.stdout)
    return 1 if report.drifted else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from plugins.validation import validate_file

    try:
        report = validate_file(args.data, args.schema)
    except (FileNotFoundError, ValueError) as exc:  # ConfigError (a bad schema) is handled by main()
        if isinstance(exc, ConfigError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.format_text())
    return int(report.exit_code)


def _cmd_schema_infer(args: argparse.Namespace) -> int:
    from plugins.validation import infer_schema_text

    try:
        text = infer_schema_text(args.reference)
    except (FileNotFoundError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "-":
        print(text, end="")
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"schema written to {args.output}")
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from plugins.alerts.state import format_alert_state

    data_dir = args.data_dir or str(resolve(args.config).data_dir)
    print(format_alert_state(Path(data_dir)))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    import os

    from agent._config import ENV_CONFIG, load_file
    from plugins.health.doctor import run_doctor

    path = args.config or os.environ.get(ENV_CONFIG)
    try:
        config = load_file(path) if path else {}
    except ConfigError as exc:
        print(f"config error: {exc}")
        return 1
    return int(run_doctor(config, sys.stdout))


def _cmd_report(args: argparse.Namespace) -> int:
    from plugins.report import run_report_cli

    return run_report_cli(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="infersight", description="Observability agent for ML models.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="serve a simulated model with a shift half-way; write telemetry locally")
    demo.add_argument("--data-dir", default=None, help="where telemetry goes (default: ./infersight-data)")
    demo.add_argument("--rows", type=int, default=6000, help="predictions to serve")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--no-report", action="store_true", help="skip writing the HTML report")
    demo.set_defaults(func=_cmd_demo)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a config file (secrets are masked in the output)")
    check.add_argument("file")
    check.set_defaults(func=_cmd_config_check)

    plugins = sub.add_parser("plugins", help="list loaded plugins and the hooks each implements")
    plugins.add_argument("--config", default=None)
    plugins.set_defaults(func=_cmd_plugins)

    drift = sub.add_parser("drift", help="compare a reference and a current dataset; exit 1 on drift")
    drift.add_argument("reference")
    drift.add_argument("current")
    drift.add_argument("--features", nargs="*", default=None)
    drift.add_argument("--tests", nargs="*", default=None)
    drift.add_argument("--json", action="store_true")
    drift.add_argument("--html", default=None, help="also write an HTML report to this path")
    drift.add_argument("--alpha", type=float, default=0.05)
    drift.set_defaults(func=_cmd_drift)

    validate = sub.add_parser("validate", help="check a data file against a schema; exit 1 on violations")
    validate.add_argument("data")
    validate.add_argument("--schema", required=True)
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(func=_cmd_validate)

    schema = sub.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_sub.add_parser("infer", help="infer an editable schema from reference data")
    infer.add_argument("reference")
    infer.add_argument("-o", "--output", default="-")
    infer.set_defaults(func=_cmd_schema_infer)

    alerts = sub.add_parser("alerts", help="print current alert state from the data directory")
    alerts.add_argument("data_dir", nargs="?", default=None)
    alerts.add_argument("--config", default=None)
    alerts.set_defaults(func=_cmd_alerts)

    doctor = sub.add_parser("doctor", help="run the init checks and print a report; non-zero on problems")
    doctor.add_argument("--config", default=None)
    doctor.set_defaults(func=_cmd_doctor)

    report = sub.add_parser("report", help="build a self-contained HTML report from a data directory")
    report.add_argument("data_dir", nargs="?", default=None)
    report.add_argument("-o", "--output", default="report.html")
    report.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``infersight`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
