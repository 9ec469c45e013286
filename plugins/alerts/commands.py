"""``infersight alerts``: print alert state from a data directory, contributed by the alerts plugin."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.plugin import resolve_config
from plugins.alerts.state import format_alert_state


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight alerts``."""
    alerts = subparsers.add_parser("alerts", help="print current alert state from the data directory")
    alerts.add_argument("data_dir", nargs="?", default=None)
    alerts.add_argument("--config", default=None)
    alerts.set_defaults(func=run_alerts)


def run_alerts(args: argparse.Namespace) -> int:
    """Print the state; 0."""
    data_dir = args.data_dir or str(resolve_config(args.config).data_dir)
    print(format_alert_state(Path(data_dir)))
    return 0
