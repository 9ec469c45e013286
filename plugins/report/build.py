"""Building the HTML report from a data directory's telemetry (``infersight report``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from plugins.report.collect import Telemetry, attr, collect
from plugins.report.page import FigureWriter, human_time, render, require_plotly
from plugins.report.sections_ml import drift_section, loops_section, performance_section, validation_section
from plugins.report.sections_ops import alerts_section, overview_section

DEFAULT_DATA_DIR = "infersight-data"
ENV_DATA_DIR = "INFERSIGHT_DATA_DIR"


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


def build_report(data_dir: str | Path, output: str | Path, *, title: str | None = None) -> ReportStats:
    """Read ``data_dir``'s telemetry and write the HTML report to ``output``.

    Raises :class:`PlotlyMissingError` when plotly is not installed and FileNotFoundError when
    ``data_dir`` does not exist; sections with no data show a short note instead.
    """
    started = time.perf_counter()
    require_plotly()
    directory = Path(data_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    tel = collect(directory)
    figure = FigureWriter()
    sections = [
        overview_section(tel, figure),
        drift_section(tel, figure),
        validation_section(tel, figure),
        performance_section(tel, figure),
        loops_section(tel, figure),
        alerts_section(tel, figure, directory),
    ]
    models = tuple(sorted({m for m, _ in tel.spans} | {m for m, _ in _counter_models(tel)}))
    span = f"{human_time(tel.t_min)} to {human_time(tel.t_max)}" if tel.has_time else "no telemetry yet"
    subtitle = f"{directory.resolve()} · models: {', '.join(models) or '-'} · {span}"
    page = render(title or "InferSight report", subtitle, sections)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
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
    )


def _counter_models(tel: Telemetry) -> set[tuple[str, str]]:
    return {(attr(a, "ml.model.name"), attr(a, "ml.model.version")) for (n, a) in tel.sums
            if n == "ml.inference.calls"}
