"""The demo's plugin object: it contributes ``infersight demo`` and has no runtime hooks."""

from __future__ import annotations

import argparse
from typing import Any

from agent.plugin import hookimpl


def _run(args: argparse.Namespace) -> int:
    from plugins.demo.scenario import run_demo

    return run_demo(data_dir=args.data_dir, rows=args.rows, seed=args.seed, quiet=args.quiet,
                    report=not args.no_report)


class DemoPlugin:
    """Contributes ``infersight demo``."""

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight demo``."""
        demo = subparsers.add_parser(
            "demo", help="serve a simulated model with a shift half-way; write telemetry locally")
        demo.add_argument("--data-dir", default=None, help="where telemetry goes (default: ./infersight-data)")
        demo.add_argument("--rows", type=int, default=6000, help="predictions to serve")
        demo.add_argument("--seed", type=int, default=7)
        demo.add_argument("--quiet", action="store_true")
        demo.add_argument("--no-report", action="store_true", help="skip writing the HTML report")
        demo.set_defaults(func=_run)


def make_plugin() -> DemoPlugin:
    """The demo plugin instance."""
    return DemoPlugin()
