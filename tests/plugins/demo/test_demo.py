"""``infersight demo`` end to end, as the installed command: same output on an idle and a busy machine.

The expected output (``expected_output.txt``) is the README's "Reading the demo" block;
it holds ``{data_dir}`` where the demo prints its data directory.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.plugins.demo.conftest import EXPECTED, busy_cores, clean_env, run_demo
from tests.support.otlp import OTLPHttpReceiver
from tests.support.webhook import WebhookReceiver

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture(scope="module")
def idle_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The default demo on an otherwise idle machine, with INFERSIGHT_DATA_DIR pointing elsewhere."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    decoy = tmp_path_factory.mktemp("decoy") / "data"
    proc = run_demo("--data-dir", str(data_dir), env=clean_env(INFERSIGHT_DATA_DIR=str(decoy)))
    return proc, data_dir, decoy


def _expected(data_dir: Path) -> str:
    return EXPECTED.read_text().replace("{data_dir}", str(data_dir))


def test_demo_prints_the_expected_output(idle_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    proc, data_dir, _ = idle_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _expected(data_dir)


def test_demo_prints_the_same_with_every_core_busy(
    idle_run: tuple[subprocess.CompletedProcess[str], Path, Path], tmp_path: Path
) -> None:
    # Same data directory path as the idle run, so the lines naming it are the same too.
    _, data_dir, _ = idle_run
    with busy_cores():
        proc = run_demo("--data-dir", str(data_dir), "--no-report")
    assert proc.returncode == 0, proc.stderr
    idle = _expected(data_dir)
    no_report = re.sub(r"\nReport: .*\n", "", idle)
    assert proc.stdout == no_report


def test_data_dir_option_wins_over_the_environment_and_files_are_owner_only(
    idle_run: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    _, data_dir, decoy = idle_run
    assert not decoy.exists()
    for signal in ("traces", "metrics", "logs"):
        path = data_dir / "telemetry" / f"{signal}.jsonl"
        assert path.stat().st_size > 0
        assert path.stat().st_mode & 0o777 == 0o600
    report = data_dir / "report.html"
    assert report.stat().st_mode & 0o777 == 0o600
    html = report.read_text()
    assert '<section id="drift" data-has-data="true">' in html
    assert "<b>12</b><span>windows closed</span>" in html  # three phases of four 500-row windows


def test_readme_shows_what_the_demo_prints() -> None:
    block = README.read_text().split("### Reading the demo", 1)[1].split("```", 2)[1].removeprefix("\n")
    expected = EXPECTED.read_text()
    start = expected.index("[1/2]")
    end = expected.index("\nTelemetry written:")
    assert block.strip() == expected[start:end].strip()


def test_demo_next_to_a_collector_sends_there_keeps_files_and_alerts_a_webhook(tmp_path: Path) -> None:
    with OTLPHttpReceiver() as rx, WebhookReceiver() as hook:
        env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
                        INFERSIGHT_DEMO_WEBHOOK=hook.url + "/hooks/demo?token=planted-s3cr3t")  # fmt: skip
        proc = run_demo("--data-dir", str(tmp_path), "--rows", "1500", env=env)
        assert proc.returncode == 0, proc.stderr
        requests = hook.wait_for(2)
        spans = [s for s in rx.spans() if s.name == "predict fraud"]
    assert "(exporter: otlp+file)" in proc.stdout
    assert "drift detected in: amount" in proc.stdout
    assert "alert fraud-feature-drift: FIRING for amount" in proc.stdout
    assert len(spans) == 1500
    assert (tmp_path / "telemetry" / "traces.jsonl").stat().st_size > 0
    assert '<section id="overview" data-has-data="true">' in (tmp_path / "report.html").read_text()
    payloads = [r.json for r in requests]
    assert [p["status"] for p in payloads] == ["firing", "resolved"]
    assert {"amount", "country"} <= {a["labels"]["feature"] for a in payloads[0]["alerts"]}
    assert "planted-s3cr3t" not in proc.stdout + proc.stderr


def test_bad_rows_option_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = run_demo("--data-dir", str(tmp_path), "--rows", "zero")
    assert proc.returncode == 2
    assert "--rows" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "telemetry").exists()
