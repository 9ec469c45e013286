"""``infersight validate`` and ``infersight schema infer``, contributed by the validation plugin."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agent.plugin import ConfigError
from plugins.validation.offline import infer_schema_text, validate_file


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight validate`` and ``infersight schema infer``."""
    validate = subparsers.add_parser("validate", help="check a data file against a schema; exit 1 on violations")
    validate.add_argument("data")
    validate.add_argument("--schema", required=True)
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(func=run_validate)

    schema = subparsers.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_sub.add_parser("infer", help="infer an editable schema from reference data")
    infer.add_argument("reference")
    infer.add_argument("-o", "--output", default="-")
    infer.set_defaults(func=run_schema_infer)


def run_validate(args: argparse.Namespace) -> int:
    """0 clean, 1 violations found, 2 bad input."""
    try:
        report = validate_file(args.data, args.schema)
    except (FileNotFoundError, ValueError) as exc:  # ConfigError (a bad schema) is handled by main()
        if isinstance(exc, ConfigError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.format_text())
    return int(report.exit_code)


def run_schema_infer(args: argparse.Namespace) -> int:
    """0 written, 2 bad input."""
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
