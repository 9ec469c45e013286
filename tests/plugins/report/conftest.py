"""A data directory seeded once per session by the real agent (see seed.py), and the report built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.report import ReportStats, build_report
from tests.plugins.report.seed import seed


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Telemetry of 1,800 predictions with a shift, violations, labels and a firing-then-resolved alert."""
    return seed(tmp_path_factory.mktemp("seeded") / "data")


@pytest.fixture(scope="session")
def seeded_report(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportStats, str]:
    """The report of ``seeded_dir`` and its HTML text."""
    stats = build_report(seeded_dir, tmp_path_factory.mktemp("report") / "report.html")
    return stats, stats.output.read_text(encoding="utf-8")
