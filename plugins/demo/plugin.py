"""The demo's plugin object: it contributes ``infersight demo`` and has no runtime hooks."""

from __future__ import annotations

import argparse
from typing import Any

from agent.plugin import hookimpl

__all__ = ["DemoPlugin", "make_plugin"]


def _positive_rows(text: str) -> int:
    try:
        rows = int(text)
    except ValueError:
        rows = 0
    if rows < 3:
        raise argparse.ArgumentTypeError(f"expected a whole number of predictions >= 3, got {text!r}")
    return rows


def _run(args: argparse.Namespace) -> int:
    from plugins.demo.scenario import run_demo

    return run_demo(data_dir=args.data_dir, rows=args.rows, seed=args.seed, quiet=args.quiet,
                    report=not args.no_report)


class DemoPlugin:
    """Contributes ``infersight demo``."""

    @hookimpl
    def infersight_add_commands(self, subparsers: argparse._SubParsersAction[Any]) -> None:
        """Add ``infersight demo``."""
        demo = subparsers.add_parser(
            "demo", help="serve a simulated model with a shift half-way; write telemetry locally")
        demo.add_argument("--data-dir", default=None,
                          help="where telemetry goes (wins over $INFERSIGHT_DATA_DIR; default ./infersight-data)")
        demo.add_argument("--rows", type=_positive_rows, default=6000,
                          help="predictions to serve (rounded down to whole 500-row windows per phase)")
        demo.add_argument("--seed", type=int, default=7)
        demo.add_argument("--quiet", action="store_true")
        demo.add_argument("--no-report", action="store_true", help="skip writing the HTML report")
        demo.set_defaults(func=_run)


def make_plugin() -> DemoPlugin:
    """The demo plugin instance."""
    return DemoPlugin()
