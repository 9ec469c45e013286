"""``infersight doctor``: a clear report, secrets kept out of it, exit 1 on problems, 2 on an unreadable config.

``run_doctor`` is called in-process for the report's content; the command's exit codes and its
one-line errors through ``agent.cli.main`` in-process (``run_cli``), and once on the installed
``infersight`` executable, as a user runs it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy
import pytest

from agent.plugin import ENVIRONMENT_VARIABLES
from plugins.health.doctor import ENV_DATA_DIR, OTEL_ENDPOINT, OTEL_PROTOCOL, display_endpoint, run_doctor
from tests.support.cli import run_cli

INFERSIGHT = Path(sys.executable).with_name("infersight")


def _toml(config: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for test configs (tables, strings, booleans, numbers and string lists)."""
    lines, tables = [], []
    for key, value in config.items():
        if isinstance(value, Mapping):
            tables.append(_toml(value, f"{prefix}{key}."))
        else:
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else json.dumps(value)}")
    head = f"[{prefix[:-1]}]\n" if prefix and lines else ""
    return head + "".join(f"{line}\n" for line in lines) + "".join(tables)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or INFERSIGHT_* variable of the developer's shell reaches the checks."""
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port with a listening socket (connects succeed through the backlog)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        yield int(s.getsockname()[1])


def _doctor(tmp_path: Path, config: Mapping[str, Any]) -> tuple[int, str]:
    path = tmp_path / "agent.toml"
    path.write_text(_toml(config))
    out = io.StringIO()
    code = run_doctor(str(path), out)
    return code, out.getvalue()


def test_the_fallback_variables_are_the_cores() -> None:
    assert {ENV_DATA_DIR, OTEL_ENDPOINT, OTEL_PROTOCOL} <= set(ENVIRONMENT_VARIABLES)


def test_collector_down_is_reported_with_the_endpoint_minus_secrets(tmp_path: Path, closed_port: int) -> None:
    config = {
        "exporter": {
            "endpoint": f"http://127.0.0.1:{closed_port}/otlp?api_key=TOPSECRET#frag",
            "headers": {"Authorization": "Bearer HEADERSECRET"},
        },
        "agent": {"data_dir": str(tmp_path / "data")},
        "health": {"dependencies": []},
    }
    code, report = _doctor(tmp_path, config)
    assert code != 0
    [line] = [ln for ln in report.splitlines() if "exporter" in ln]
    assert line.split()[0] == "FAIL"
    assert f"http://127.0.0.1:{closed_port}/otlp" in line
    assert "ECONNREFUSED" in line
    for secret in ("TOPSECRET", "HEADERSECRET", "api_key", "frag"):
        assert secret not in report
    assert report.rstrip().endswith("1 problem(s) found")


def test_a_collector_next_to_the_files_is_probed(tmp_path: Path, listening_port: int) -> None:
    config = {"exporter": {"type": ["otlp", "file"], "endpoint": f"http://127.0.0.1:{listening_port}"},
              "agent": {"data_dir": str(tmp_path / "data")}, "health": {"dependencies": []}}  # fmt: skip
    code, report = _doctor(tmp_path, config)
    assert code == 0, report
    [line] = [ln for ln in report.splitlines() if "exporter" in ln]
    assert line.split()[0] == "ok" and "TCP connect succeeded" in line


def test_endpoint_with_credentials_is_a_problem_that_does_not_show_them(tmp_path: Path, closed_port: int) -> None:
    config = {"exporter": {"endpoint": f"http://alice:s3cr3t-pw@127.0.0.1:{closed_port}/otlp"},
              "agent": {"data_dir": str(tmp_path / "data")}, "health": {"dependencies": []}}  # fmt: skip
    code, report = _doctor(tmp_path, config)
    assert code == 1
    assert "'exporter.endpoint'" in report
    assert "s3cr3t-pw" not in report and "alice" not in report


def test_healthy_setup_exits_zero(tmp_path: Path, listening_port: int) -> None:
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(b"weights")
    config = {
        "exporter": {"endpoint": f"http://127.0.0.1:{listening_port}"},
        "agent": {"data_dir": str(tmp_path / "data")},
        "health": {"dependencies": ["numpy"], "pins": {"numpy": numpy.__version__}},
        "models": {"doctor-ok": {"version": "1", "expected_version": "1", "artifact": str(artifact),
                                 "expected_digest": "sha256:" + hashlib.sha256(b"weights").hexdigest()}},
    }  # fmt: skip
    code, report = _doctor(tmp_path, config)
    assert code == 0, report
    assert f"sha256:{hashlib.sha256(b'weights').hexdigest()}, 7 bytes, matches expected_digest" in report
    assert f"matches pin {numpy.__version__}" in report
    assert "TCP connect succeeded" in report
    assert report.rstrip().endswith("no problems found")
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700  # created owner-only


def test_every_kind_of_problem_is_listed_and_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(b"older weights")
    config = {
        "exporter": {"type": "file"},
        "agent": {"data_dir": str(blocker / "data")},
        "health": {"dependencies": ["numpy", "no-such-package-xyz"], "pins": {"numpy": "0.1"}},
        "models": {"doctor-bad": {"version": "2", "expected_version": "3", "artifact": str(artifact),
                                  "reference": str(tmp_path / "missing.csv"),
                                  "expected_digest": "sha256:" + "a" * 64}},
    }  # fmt: skip
    code, report = _doctor(tmp_path, config)
    fails = [ln for ln in report.splitlines() if ln.split()[:1] == ["FAIL"]]
    assert code == 1
    assert any("data directory" in ln and "needs write access" in ln and "ENOTDIR" in ln for ln in fails)
    assert any("models.doctor-bad.reference" in ln and "ENOENT" in ln for ln in fails)
    assert any("artifact digest" in ln and "a" * 64 in ln for ln in fails)
    assert any("version '2' differs from expected '3'" in ln for ln in fails)
    assert any("dependency numpy" in ln and "pin 0.1" in ln for ln in fails)
    assert any("no-such-package-xyz" in ln and "not installed" in ln for ln in fails)
    assert "skip  exporter" in report
    assert report.rstrip().endswith(f"{len(fails)} problem(s) found")


def test_invalid_config_is_reported_with_its_key(tmp_path: Path) -> None:
    config = {
        "exporter": {"type": "none"},
        "agent": {"data_dir": str(tmp_path)},
        "health": {"dependencies": "numpy"},
        "models": {"fraud": {"expected_digest": "deadbeef"}},
    }
    code, report = _doctor(tmp_path, config)
    assert code == 1
    assert "'health.dependencies'" in report
    assert "'models.fraud.expected_digest'" in report


def test_a_core_section_error_still_checks_the_rest_with_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "from-env"))
    code, report = _doctor(tmp_path, {"agent": {"queue_size": -1}, "exporter": {"type": "file"}})
    assert code == 1
    assert "'agent.queue_size'" in report
    assert f"{tmp_path / 'from-env'}: writable" in report


def test_display_endpoint_drops_userinfo_query_and_fragment() -> None:
    assert display_endpoint("https://u:p@collector.example:4318/v1/traces?token=x#y") == (
        "https://collector.example:4318/v1/traces"
    )
    assert display_endpoint("http://[::1]:4317") == "http://[::1]:4317"
    assert display_endpoint("localhost:4317") == "localhost:4317"


# -- the command ------------------------------------------------------------------------


def _run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    return subprocess.run([str(INFERSIGHT), *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**base, **(env or {})})  # fmt: skip


def _error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr lines of the command itself (a broken third-party plugin's load failure is the core's line)."""
    return [ln for ln in proc.stderr.splitlines() if ln.strip() and "ml.agent.plugin_load_failed" not in ln]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(bytes(range(256)), "UTF-8"), ("amount = 'é'\n".encode("latin-1"), "UTF-8"),
     (b"\x00\x01\x02 not toml", "TOML")],
    ids=["binary", "latin-1", "nul-bytes"],
)  # fmt: skip
def test_command_on_a_binary_or_non_utf8_config_exits_2_with_one_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "agent.toml"
    path.write_bytes(content)
    proc = run_cli("doctor", "--config", path)
    assert proc.returncode == 2, proc.stderr
    [line] = _error_lines(proc)
    assert line.startswith("infersight doctor: ") and str(path) in line and expected in line
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_command_on_a_directory_or_missing_config_exits_2(tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "missing.toml"):
        proc = run_cli("doctor", "--config", target)
        assert proc.returncode == 2, proc.stderr
        [line] = _error_lines(proc)
        assert str(target) in line


def test_command_reads_the_config_from_the_environment_and_exits_1_on_problems(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(_toml({"exporter": {"type": "file"}, "agent": {"data_dir": str(tmp_path / "data")},
                           "health": {"dependencies": ["no-such-package-xyz"]}}))  # fmt: skip
    proc = _run("doctor", env={"INFERSIGHT_CONFIG": str(path)})
    assert proc.returncode == 1, proc.stderr
    assert "no-such-package-xyz" in proc.stdout and proc.stdout.rstrip().endswith("1 problem(s) found")
