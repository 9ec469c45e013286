"""``infersight demo`` end to end, as the installed command: same output on an idle and a busy machine.

The expected output (``expected_output.txt``) is the README's "Reading the demo" block;
it holds ``{data_dir}`` where the demo prints its data directory.

Two full runs, no more (each is a third of a minute of both cores): the idle run is also
the run next to a collector (OTLP endpoint and an alert webhook set), and the busy run is
the plain command. Next to a collector the demo prints exactly two lines differently, both
named in ``_next_to_a_collector``; everything else is byte-for-byte the busy run's output.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from tests.plugins.demo.conftest import EXPECTED, INFERSIGHT, busy_cores, clean_env, run_demo
from tests.support.otlp import OTLPHttpReceiver
from tests.support.webhook import WebhookReceiver

README = Path(__file__).resolve().parents[3] / "README.md"
SECRET = "planted-s3cr3t"


@dataclass(frozen=True)
class IdleRun:
    """The default demo on an otherwise idle machine, exporting to a loopback collector and webhook."""

    returncode: int
    stdout: str
    stderr: str
    data_dir: Path
    decoy: Path  # INFERSIGHT_DATA_DIR pointed here; --data-dir must win
    webhook_url: str
    fraud_spans: int  # "predict fraud" spans the collector received
    webhook_payloads: list[Any]  # JSON bodies the webhook received, in arrival order
    next_command: list[str]  # the command the demo's last line suggests, as printed
    next_returncode: int  # ... and what running it right after the demo gave
    next_stdout: str


def _run_idle(root: Path) -> IdleRun:
    data_dir, decoy = root / "demo" / "data", root / "decoy" / "data"
    with OTLPHttpReceiver() as rx, WebhookReceiver() as hook:
        url = hook.url + f"/hooks/demo?token={SECRET}"
        env = clean_env(INFERSIGHT_DATA_DIR=str(decoy), OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
                        INFERSIGHT_DEMO_WEBHOOK=url)  # fmt: skip
        proc = run_demo("--data-dir", str(data_dir), env=env)
        # The command has exited: whatever it delivered has arrived.
        fraud_spans = sum(1 for s in rx.spans() if s.name == "predict fraud")
        payloads = [r.json for r in hook.requests]
    # "Next: `infersight alerts DIR` ...", run as printed (before the busy run reuses the directory).
    printed = re.search(r"^Next: `([^`]+)`", proc.stdout, re.MULTILINE)
    command = shlex.split(printed.group(1)) if printed else []
    nxt = subprocess.run([str(INFERSIGHT), *command[1:]], capture_output=True, text=True, timeout=120, check=False,
                         env=clean_env()) if command[:1] == ["infersight"] else None  # fmt: skip
    return IdleRun(proc.returncode, proc.stdout, proc.stderr, data_dir, decoy, url, fraud_spans, payloads, command,
                   nxt.returncode if nxt else -1, nxt.stdout if nxt else "")  # fmt: skip


@pytest.fixture(scope="module")
def idle_run(tmp_path_factory: pytest.TempPathFactory) -> IdleRun:
    """The idle run, once per test session even when pytest-xdist spreads this module over workers.

    The first worker to get here runs it under a lock and leaves the result for the others,
    so the busy run never overlaps a second "idle" run on the other core.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _run_idle(tmp_path_factory.mktemp("idle"))
    shared = tmp_path_factory.getbasetemp().parent / "demo-idle-run"  # one directory per test session
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = shared / "result.json"
        if result.exists():
            fields = json.loads(result.read_text())
            for key in ("data_dir", "decoy"):
                fields[key] = Path(fields[key])
            return IdleRun(**fields)
        run = _run_idle(shared)
        result.write_text(json.dumps({**asdict(run), "data_dir": str(run.data_dir), "decoy": str(run.decoy)}))
        return run


def _expected(data_dir: Path) -> str:
    return EXPECTED.read_text().replace("{data_dir}", str(data_dir))


def _next_to_a_collector(plain: str, webhook_url: str) -> str:
    """What the demo prints instead of ``plain`` with an OTLP endpoint and a webhook set: the exporter
    in the first line, and one line after the alert summary naming the webhook (its token masked)."""
    masked = re.sub(r"token=[^&]*", "token=***", webhook_url)
    with_otlp = plain.replace("(exporter: file)", "(exporter: otlp+file)", 1)
    last_alert = with_otlp.rindex("\n  alert ")
    end = with_otlp.index("\n", last_alert + 1)
    return f"{with_otlp[:end]}\n  (also delivered to the webhook at {masked}){with_otlp[end:]}"


def test_demo_prints_the_expected_output(idle_run: IdleRun) -> None:
    assert idle_run.returncode == 0, idle_run.stderr
    assert idle_run.stdout == _next_to_a_collector(_expected(idle_run.data_dir), idle_run.webhook_url)


def test_demo_prints_the_same_with_every_core_busy(idle_run: IdleRun, cpu_lock_file: Path | None) -> None:
    # The plain command (no collector, no webhook), in the same data directory path as the idle
    # run so the lines naming it are the same too.
    with busy_cores(cpu_lock_file):
        proc = run_demo("--data-dir", str(idle_run.data_dir), "--no-report")
    assert proc.returncode == 0, proc.stderr
    no_report = re.sub(r"\nReport: .*\n", "", _expected(idle_run.data_dir))
    assert proc.stdout == no_report
    idle = re.sub(r"\nReport: .*\n", "", idle_run.stdout)
    assert _next_to_a_collector(proc.stdout, idle_run.webhook_url) == idle


def test_data_dir_option_wins_over_the_environment_and_files_are_owner_only(idle_run: IdleRun) -> None:
    data_dir = idle_run.data_dir
    assert not idle_run.decoy.exists()
    for signal in ("traces", "metrics", "logs"):
        path = data_dir / "telemetry" / f"{signal}.jsonl"
        assert path.stat().st_size > 0  # next to a collector the files are still written
        assert path.stat().st_mode & 0o777 == 0o600
    report = data_dir / "report.html"
    assert report.stat().st_mode & 0o777 == 0o600
    html = report.read_text()
    assert '<section id="overview" data-has-data="true">' in html
    assert '<section id="drift" data-has-data="true">' in html
    assert "<b>12</b><span>windows closed</span>" in html  # three phases of four 500-row windows


def test_readme_shows_what_the_demo_prints() -> None:
    block = README.read_text().split("### Reading the demo", 1)[1].split("```", 2)[1].removeprefix("\n")
    expected = EXPECTED.read_text()
    start = expected.index("[1/2]")
    end = expected.index("\nTelemetry written:")
    assert block.strip() == expected[start:end].strip()


def test_demo_next_to_a_collector_sends_there_and_alerts_a_webhook(idle_run: IdleRun) -> None:
    assert idle_run.returncode == 0, idle_run.stderr
    assert idle_run.fraud_spans == 6000
    # How many notifications carry them depends on which windows closed in the same tick; what
    # fired and what resolved does not: every feature alert fires in the shift, resolves after it.
    payloads = idle_run.webhook_payloads
    statuses = [p["status"] for p in payloads]
    assert statuses == sorted(statuses) and statuses[0] == "firing" and statuses[-1] == "resolved", statuses
    features = {
        status: {a["labels"]["feature"] for p in payloads if p["status"] == status for a in p["alerts"]}
        for status in ("firing", "resolved")
    }
    assert {"amount", "country"} <= features["firing"] == features["resolved"]
    assert SECRET not in idle_run.stdout + idle_run.stderr


def test_the_command_the_demo_suggests_next_shows_its_alerts_resolved(idle_run: IdleRun) -> None:
    assert idle_run.next_command == ["infersight", "alerts", str(idle_run.data_dir)]
    assert idle_run.next_returncode == 0, idle_run.next_stdout
    assert "0 firing" in idle_run.next_stdout
    resolved = [line for line in idle_run.next_stdout.splitlines() if line.startswith("resolved ")]
    assert {"feature=amount", "feature=country"} <= {w for line in resolved for w in line.split()}
    assert all("fraud-feature-drift" in line for line in resolved)
    # one row per label set: the output feature's two episodes in the shifted phase are one row
    label_sets = [tuple(w for w in line.split() if "=" in w) for line in resolved]
    assert len(label_sets) == len(set(label_sets)) == 4, idle_run.next_stdout


def test_bad_rows_option_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Argument checking only: in-process (the runs above are the installed command).
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--data-dir", str(tmp_path), "--rows", "zero"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "--rows" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "telemetry").exists()
