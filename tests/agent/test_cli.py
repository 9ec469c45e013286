"""The ``infersight`` command: config check and plugins (plugins test their own commands: tests/plugins/*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agent
from agent.cli import main
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


INFERSIGHT = Path(sys.executable).with_name("infersight")


def test_config_check_accepts_the_example_configs_and_masks_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "config" / "agent.toml").read_text() + "\n" + (ROOT / "config" / "alerts.toml").read_text()
    text = text.replace('# authorization = "Bearer <token>"', 'authorization = "Bearer planted-s3cr3t"')
    path = tmp_path / "full.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    for secret in ("planted-s3cr3t", "CHANGE-ME"):
        assert secret not in out
    assert '"type": "file"' in out


def test_config_check_names_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[drift]\nalpha = 2\n')
    assert main(["config", "check", str(path)]) == 2  # bad input; 1 is kept for "found a problem"
    err = capsys.readouterr().err
    assert "drift.alpha" in err and "2" in err


def test_plugins_lists_builtins_and_their_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    drift = next(line for line in out.splitlines() if line.startswith("drift "))
    assert "process_records" in drift and "collect_signals" in drift
    assert any(line.startswith("alerts ") and "handle_signals" in line for line in out.splitlines())


def test_plugins_lists_every_builtin_as_an_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert {"drift", "validation", "feedback", "recsys", "alerts", "health", "report", "demo"} <= names


def test_version_and_every_plugin_command_is_on_the_command_line() -> None:
    proc = subprocess.run([str(INFERSIGHT), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == f"infersight {agent.__version__}"
    helptext = subprocess.run([str(INFERSIGHT), "--help"], capture_output=True, text=True, timeout=60, check=False)
    for command in ("config", "plugins", "demo", "drift", "validate", "schema", "alerts", "doctor", "report", "retrain",
                    "fleet"):
        assert command in helptext.stdout
    assert helptext.stderr == ""  # every built-in loaded


@pytest.mark.parametrize("argv", [["config", "check", "{dir}"], ["config", "check", "{binary}"],
                                  ["config", "check", "{missing}"], ["plugins", "--config", "{binary}"],
                                  ["no-such-command"], ["config"]])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00\x01")
    paths = {"dir": str(tmp_path), "binary": str(tmp_path / "binary.toml"), "missing": str(tmp_path / "nope.toml")}
    proc = run_cli(*[a.format(**paths) for a in argv])  # in-process; --version and --help run the executable
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
