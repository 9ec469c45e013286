"""``infersight alerts``: print alert state from a data directory, contributed by the alerts plugin."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.plugin import resolve_config
from plugins.alerts.state import format_alert_state, state_path


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight alerts``."""
    alerts = subparsers.add_parser("alerts", help="print current alert state from the data directory")
    alerts.add_argument("data_dir", nargs="?", default=None)
    alerts.add_argument("--config", default=None)
    alerts.set_defaults(func=run_alerts)


def run_alerts(args: argparse.Namespace) -> int:
    """Print the state: 0; 2 with one line on stderr when the directory is missing or the state file unreadable."""
    data_dir = Path(args.data_dir or str(resolve_config(args.config).data_dir))
    if not data_dir.is_dir():
        print(f"error: no data directory at {data_dir}", file=sys.stderr)
        return 2
    path = state_path(data_dir)
    if path.exists():
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read the alert state {path}: {type(exc).__name__}", file=sys.stderr)
            return 2
    print(format_alert_state(data_dir))
    return 0
