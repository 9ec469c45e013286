"""``infersight drift REF CUR``: the offline comparison, contributed to the command line by the drift plugin."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from agent.plugin import load_table
from plugins.drift.config import DriftConfig
from plugins.drift.offline import compare, format_table, report_to_json


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight drift``."""
    drift = subparsers.add_parser("drift", help="compare a reference and a current dataset; exit 1 on drift")
    drift.add_argument("reference")
    drift.add_argument("current")
    drift.add_argument("--features", nargs="*", default=None)
    drift.add_argument("--tests", nargs="*", default=None)
    drift.add_argument("--json", action="store_true")
    drift.add_argument("--html", default=None, help="also write an HTML report to this path")
    drift.add_argument("--alpha", type=float, default=0.05)
    drift.set_defaults(func=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    """0 no drift, 1 drift found, 2 bad input."""
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
