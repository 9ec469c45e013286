"""``infersight report``: the HTML report over a data directory, contributed by the report plugin."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from plugins.report.build import DEFAULT_DATA_DIR, ENV_DATA_DIR, ReportInputError, build_report
from plugins.report.otlp import TelemetryShapeError
from plugins.report.page import PlotlyMissingError

__all__ = ["add_commands", "run_report_cli"]


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight report``."""
    report = subparsers.add_parser("report", help="build a self-contained HTML report from a data directory")
    report.add_argument("data_dir", nargs="?", default=None,
                        help=f"the agent's data_dir (default: ${ENV_DATA_DIR} or ./{DEFAULT_DATA_DIR})")
    report.add_argument("-o", "--output", default="report.html")
    report.set_defaults(func=run_report_cli)


def _fail(message: str) -> int:
    print("infersight report: " + " ".join(message.split()), file=sys.stderr)
    return 2


def run_report_cli(args: argparse.Namespace) -> int:
    """``infersight report [DATA_DIR] -o report.html``: 0 written, 2 bad input (one line on stderr)."""
    data_dir = args.data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
    output = getattr(args, "output", None) or "report.html"
    try:
        stats = build_report(data_dir, output)
    except PlotlyMissingError as exc:
        return _fail(str(exc))
    except ReportInputError as exc:
        return _fail(f"{exc} (run `infersight demo` or point at the agent's data_dir)")
    except TelemetryShapeError as exc:
        return _fail(f"{exc}; is {data_dir} the agent's data_dir?")
    print(f"Report written: {stats.output.resolve()} ({stats.bytes / 1e6:.1f} MB, {stats.predictions:,} predictions,"
          f" {stats.seconds:.1f} s)")
    if not stats.files_read:
        print(f"  no telemetry files under {os.path.join(data_dir, 'telemetry')}: every section is empty. The agent "
              'writes them when exporter.type includes "file" (the default without an OTLP endpoint); next to a '
              'collector, set exporter.type = ["otlp", "file"].')
    elif stats.empty_sections:
        print(f"  sections without data: {', '.join(stats.empty_sections)}")
    if stats.bad_lines:
        print(f"  skipped {stats.bad_lines} unreadable lines (cut short by a crash?)")
    if stats.bad_spans:
        print(f"  skipped {stats.bad_spans} spans with malformed attributes")
    for line in stats.unreadable:
        print(f"  could not open {line}")
    return 0
