"""The report plugin object: it contributes ``infersight report`` and has no runtime hooks."""

from __future__ import annotations

from typing import Any

from agent.plugin import hookimpl
from plugins.report.commands import add_commands


class ReportPlugin:
    """The report's plugin: contributes ``infersight report``; it has no runtime hooks."""

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight report``."""
        add_commands(subparsers)


def make_plugin() -> ReportPlugin:
    """The report plugin instance."""
    return ReportPlugin()
