"""``infersight doctor``: the init checks as a report, contributed by the health plugin."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from agent.plugin import ConfigError
from plugins.health.doctor import run_doctor

ENV_CONFIG = "INFERSIGHT_CONFIG"


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight doctor``."""
    doctor = subparsers.add_parser("doctor", help="run the init checks and print a report; non-zero on problems")
    doctor.add_argument("--config", default=None, help=f"the agent's TOML config (default: ${ENV_CONFIG})")
    doctor.set_defaults(func=run_doctor_command)


def run_doctor_command(args: argparse.Namespace) -> int:
    """0 healthy, 1 problems found, 2 a config file that cannot be read (one line on stderr)."""
    path = args.config or os.environ.get(ENV_CONFIG) or None
    try:
        return run_doctor(path, sys.stdout)
    except ConfigError as exc:
        print("infersight doctor: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
