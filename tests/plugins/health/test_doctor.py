"""``run_doctor``: a clear report, secrets kept out of it, non-zero exit on problems."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy
import pytest

from plugins.health.doctor import display_endpoint, run_doctor


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


def _doctor(config: dict[str, object]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(config, out, environ={})
    return code, out.getvalue()


def test_collector_down_is_reported_with_the_endpoint_minus_secrets(tmp_path: Path, closed_port: int) -> None:
    config = {
        "exporter": {
            "endpoint": f"http://alice:s3cr3t-pw@127.0.0.1:{closed_port}/otlp?api_key=TOPSECRET#frag",
            "headers": {"Authorization": "Bearer HEADERSECRET"},
        },
        "agent": {"data_dir": str(tmp_path / "data")},
        "health": {"dependencies": []},
    }
    code, report = _doctor(config)
    assert code != 0
    [line] = [ln for ln in report.splitlines() if "exporter" in ln]
    assert line.split()[0] == "FAIL"
    assert f"http://127.0.0.1:{closed_port}/otlp" in line
    assert "ECONNREFUSED" in line
    for secret in ("alice", "s3cr3t-pw", "TOPSECRET", "HEADERSECRET", "api_key", "frag"):
        assert secret not in report
    assert report.rstrip().endswith("1 problem(s) found")


def test_healthy_setup_exits_zero(tmp_path: Path, listening_port: int) -> None:
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(b"weights")
    config = {
        "exporter": {"endpoint": f"http://127.0.0.1:{listening_port}"},
        "agent": {"data_dir": str(tmp_path / "data")},
        "health": {"dependencies": ["numpy"], "pins": {"numpy": numpy.__version__}},
        "models": {"fraud": {"version": "1", "expected_version": "1", "artifact": str(artifact),
                             "expected_digest": "sha256:" + hashlib.sha256(b"weights").hexdigest()}},
    }  # fmt: skip
    code, report = _doctor(config)
    assert code == 0, report
    assert "matches expected_digest" in report
    assert f"matches pin {numpy.__version__}" in report
    assert "TCP connect succeeded" in report
    assert report.rstrip().endswith("no problems found")


def test_every_kind_of_problem_is_listed_and_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(b"older weights")
    config = {
        "exporter": {"type": "file"},
        "agent": {"data_dir": str(blocker / "data")},
        "health": {"dependencies": ["numpy", "no-such-package-xyz"], "pins": {"numpy": "0.1"}},
        "models": {"fraud": {"version": "2", "expected_version": "3", "artifact": str(artifact),
                             "reference": str(tmp_path / "missing.csv"),
                             "expected_digest": "sha256:" + "a" * 64}},
    }  # fmt: skip
    code, report = _doctor(config)
    fails = [ln for ln in report.splitlines() if ln.split()[:1] == ["FAIL"]]
    assert code == 1
    assert any("data directory" in ln and "needs write access" in ln and "ENOTDIR" in ln for ln in fails)
    assert any("models.fraud.reference" in ln and "ENOENT" in ln for ln in fails)
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
    code, report = _doctor(config)
    assert code == 1
    assert "'health.dependencies'" in report
    assert "'models.fraud.expected_digest'" in report


def test_display_endpoint_drops_userinfo_query_and_fragment() -> None:
    assert display_endpoint("https://u:p@collector.example:4318/v1/traces?token=x#y") == (
        "https://collector.example:4318/v1/traces"
    )
    assert display_endpoint("http://[::1]:4317") == "http://[::1]:4317"
    assert display_endpoint("localhost:4317") == "localhost:4317"
