"""``infersight validate`` and ``infersight schema infer``, contributed by the validation plugin.

Exit codes: 0 fine; 1 ``validate`` found violations above their thresholds; 2 bad input
(a missing, unreadable or malformed data or schema file, an output path that cannot be
written, a bad option value), with one line on stderr naming the file or option.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from agent.plugin import Columns, ConfigError, InputError, describe_exception, load_table
from plugins.validation.offline import check_columns, load_schema, schema_text
from plugins.validation.schema import DEFAULT_TOLERANCE

__all__ = ["add_commands", "run_schema_infer", "run_validate"]


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight validate`` and ``infersight schema infer``."""
    validate = subparsers.add_parser(
        "validate", help="check a data file against a schema; exit 1 on violations, 2 on bad input"
    )
    validate.add_argument("data", help="data file: .csv, .parquet, .npz or .npy")
    validate.add_argument("--schema", required=True, help="schema TOML file (as written by `schema infer`)")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument(
        "--max-rate", type=_rate, default=None,
        help="violation rate tolerated per feature and kind, 0..1 (the schema's [thresholds] win)",
    )  # fmt: skip
    validate.set_defaults(func=run_validate)

    schema = subparsers.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_sub.add_parser("infer", help="infer an editable schema from reference data")
    infer.add_argument("reference", help="reference data file: .csv, .parquet, .npz or .npy")
    infer.add_argument("-o", "--output", default="-", help="schema file to write (default: stdout)")
    infer.add_argument(
        "--tolerance", type=_tolerance, default=DEFAULT_TOLERANCE,
        help="widen each inferred bound by this many times its distance to the median "
             f"(default {DEFAULT_TOLERANCE:g}; 0 pins the observed range)",
    )  # fmt: skip
    infer.set_defaults(func=run_schema_infer)


def run_validate(args: argparse.Namespace) -> int:
    """0 clean, 1 violations above their thresholds, 2 bad input (an ``InputError``: one line on stderr)."""
    schema, thresholds = _schema(args.schema)
    columns = _table(args.data, "data")
    report = check_columns(
        columns, schema, thresholds, data=args.data, schema_name=args.schema, max_rate=args.max_rate
    )
    print(report.to_json() if args.json else report.format_text())
    return int(report.exit_code)


def run_schema_infer(args: argparse.Namespace) -> int:
    """0 written, 2 bad input (unreadable reference, unwritable output)."""
    columns = _table(args.reference, "reference")
    text = schema_text(columns, Path(args.reference).name, tolerance=args.tolerance)
    if args.output == "-":
        print(text, end="")
        return 0
    _write(args.output, text)
    print(f"schema written to {args.output}")
    return 0


# -- inputs and outputs ----------------------------------------------------------------


def _readable(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such {what} file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a {what} file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{path}: {what} file is not readable (permission denied)")
    return p


def _table(path: str, what: str) -> Columns:
    p = _readable(path, what)
    try:
        return load_table(p)
    except Exception as exc:  # csv, zip, pickle or parquet readers each raise their own errors on a bad file
        raise InputError(f"{path}: cannot read {what} file ({_one_line(describe_exception(exc))})") from None


def _schema(path: str) -> tuple[Any, dict[str, float]]:
    p = _readable(path, "schema")
    try:
        return load_schema(p, "--schema")
    except ConfigError as exc:
        raise InputError(f"{path}: bad schema: {_one_line(str(exc))}") from None


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write schema file ({exc.strerror or type(exc).__name__})") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- option values ---------------------------------------------------------------------


def _rate(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text!r}")
    return value


def _tolerance(text: str) -> float:
    value = _float(text)
    if not (value >= 0.0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value
