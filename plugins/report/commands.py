"""``infersight report``: the HTML report over a data directory, contributed by the report plugin."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from plugins.report.build import DEFAULT_DATA_DIR, ENV_DATA_DIR, build_report
from plugins.report.page import PlotlyMissingError


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight report``."""
    report = subparsers.add_parser("report", help="build a self-contained HTML report from a data directory")
    report.add_argument("data_dir", nargs="?", default=None)
    report.add_argument("-o", "--output", default="report.html")
    report.set_defaults(func=run_report_cli)


def run_report_cli(args: argparse.Namespace) -> int:
    """``infersight report [DATA_DIR] -o report.html``: 0 on success, 1 on a missing directory, 2 without plotly."""
    data_dir = args.data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
    output = getattr(args, "output", None) or "report.html"
    try:
        stats = build_report(data_dir, output)
    except PlotlyMissingError as exc:
        print(f"infersight report: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"infersight report: {exc} (run `infersight demo` or point at the agent's data_dir)", file=sys.stderr)
        return 1
    print(f"Report written: {stats.output.resolve()} ({stats.bytes / 1e6:.1f} MB, {stats.predictions:,} predictions,"
          f" {stats.seconds:.1f} s)")
    if stats.empty_sections:
        print(f"  sections without data: {', '.join(stats.empty_sections)}")
    if stats.bad_lines:
        print(f"  skipped {stats.bad_lines} unreadable lines")
    return 0
