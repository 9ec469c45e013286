"""The ``infersight`` command: config check and plugins (plugins test their own commands: tests/plugins/*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main

ROOT = Path(__file__).resolve().parents[2]


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
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "drift.alpha" in err and "2" in err


def test_plugins_lists_builtins_and_their_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    drift = next(line for line in out.splitlines() if line.startswith("drift "))
    assert "process_records" in drift and "collect_signals" in drift
    assert any(line.startswith("alerts ") and "handle_signals" in line for line in out.splitlines())
