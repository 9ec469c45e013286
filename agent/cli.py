"""The ``infersight`` command: demo, config check, plugins, and the offline tools plugins provide."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from agent._config import Settings, redact_data, resolve
from agent._errors import ConfigError
from agent._plugins import LoadedPlugin


def _cmd_demo(args: argparse.Namespace) -> int:
    from agent._demo import run_demo

    return run_demo(
        data_dir=args.data_dir, rows=args.rows, seed=args.seed, quiet=args.quiet, report=not args.no_report
    )


def _check_config(path: str | None) -> tuple[Settings, list[LoadedPlugin]]:
    """Resolve a config and run every plugin's validation of its own table, exporting nothing.

    The same ``configure_plugins`` step as ``agent.init``, on an agent whose exporter is
    off and whose data directory is a throwaway one.
    """
    import tempfile
    from dataclasses import replace

    from agent._agent import Agent

    settings = resolve(path)
    with tempfile.TemporaryDirectory() as tmp:
        checking = replace(
            settings,
            exporter={**settings.exporter, "type": "none"},
            agent={**settings.agent, "data_dir": tmp, "stderr_level": "off"},
        )
        agent = Agent(checking)
        try:
            agent.configure_plugins()
            return settings, agent.host.describe()
        finally:
            agent.host.call("infersight_shutdown", agent=agent.context)
            agent.pipelines.shutdown(1.0)


def _cmd_config_check(args: argparse.Namespace) -> int:
    try:
        settings, plugins = _check_config(args.file)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    redacted = settings.redacted()
    redacted["plugin_sections"] = redact_data(
        {k: v for k, v in settings.raw.items() if k not in redacted and k != "models"}
    )
    print(f"{args.file}: OK ({len(plugins)} plugins loaded)")
    print(json.dumps(redacted, indent=2, default=str))
    return 0


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
