"""Building the HTML report from a data directory's telemetry (``infersight report``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from plugins.report import reads as r
from plugins.report.collect import Telemetry, attr, collect
from plugins.report.page import FigureWriter, human_time, render, require_plotly
from plugins.report.sections_attribution import attribution_section
from plugins.report.sections_ml import (
    drift_section,
    estimated_performance_section,
    loops_section,
    performance_section,
    validation_section,
)
from plugins.report.sections_ops import alerts_section, overview_section

__all__ = ["DEFAULT_DATA_DIR", "ENV_DATA_DIR", "ReportInputError", "ReportStats", "build_report", "write_page"]

DEFAULT_DATA_DIR = "infersight-data"
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"


class ReportInputError(ValueError):
    """The report cannot be built from or written to the paths given: says which path and why."""


@dataclass(frozen=True, slots=True)
class ReportStats:
    """What a report build read and wrote."""

    output: Path
    bytes: int
    seconds: float
    predictions: int
    models: tuple[str, ...]
    sections: tuple[str, ...]
    empty_sections: tuple[str, ...]
    files_read: int
    bad_lines: int
    bad_spans: int = 0
    unreadable: tuple[str, ...] = ()


def build_report(data_dir: str | Path, output: str | Path, *, title: str | None = None) -> ReportStats:
    """Read ``data_dir``'s telemetry and write the HTML report to ``output``.

    Raises :class:`PlotlyMissingError` when plotly is not installed,
    :class:`ReportInputError` when ``data_dir`` is not a directory or ``output`` cannot be
    written, and ``TelemetryShapeError`` when a telemetry file holds JSON that is not
    OTLP/JSON. Sections with no data say where they looked and what to configure. A
    report written inside the data directory is owner-only (0600), like the telemetry.
    """
    started = time.perf_counter()
    require_plotly()
    directory = Path(data_dir)
    if not directory.exists():
        raise ReportInputError(f"data directory {directory} does not exist")
    if not directory.is_dir():
        raise ReportInputError(f"{directory} is not a directory (expected the agent's data_dir)")
    tel = collect(directory)
    figure = FigureWriter()
    sections = [
        overview_section(tel, figure),
        drift_section(tel, figure),
        validation_section(tel, figure),
        attribution_section(tel, figure),
        performance_section(tel, figure),
        estimated_performance_section(tel, figure),
        loops_section(tel, figure),
        alerts_section(tel, figure, directory),
    ]
    models = tuple(sorted({m for m, _ in tel.spans} | {m for m, _ in _counter_models(tel)}))
    span = f"{human_time(tel.t_min)} to {human_time(tel.t_max)}" if tel.has_time else "no telemetry yet"
    subtitle = f"{directory.resolve()} · models: {', '.join(models) or '-'} · {span}"
    page = render(title or "InferSight report", subtitle, sections)
    out = Path(output)
    write_page(out, page, private=_inside(out, directory))
    return ReportStats(
        output=out,
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - started,
        predictions=sum(t.spans for t in tel.spans.values()),
        models=models,
        sections=tuple(s.ident for s in sections if s.has_data),
        empty_sections=tuple(s.ident for s in sections if not s.has_data),
        files_read=len(tel.files),
        bad_lines=tel.bad_lines,
        bad_spans=tel.bad_spans,
        unreadable=tuple(tel.unreadable),
    )


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def write_page(path: Path, page: str, *, private: bool = False) -> None:
    """Write ``page`` to ``path``, creating its directory; ``private``: owner-only file and new directories.

    Raises :class:`ReportInputError` naming the path when it cannot be written.
    """
    try:
        if private:
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            for d in reversed(missing):
                d.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an older report may have been written with the default mode
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(page)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportInputError(f"cannot write the report to {path}: {exc.strerror or type(exc).__name__}") from None


def _counter_models(tel: Telemetry) -> set[tuple[str, str]]:
    return {(attr(a, r.MODEL), attr(a, r.VERSION)) for (n, a) in tel.sums if n == r.CALLS}
