"""The ``infersight`` command: config check, plugins, demo, drift/validate exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_drift_exits_one_on_drift_and_zero_without(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "ref.npz", a=rng.normal(size=800), b=rng.normal(size=800))
    np.savez(tmp_path / "same.npz", a=rng.normal(size=600), b=rng.normal(size=600))
    np.savez(tmp_path / "shifted.npz", a=rng.normal(1.0, 1.0, size=600), b=rng.normal(size=600))
    assert main(["drift", str(tmp_path / "ref.npz"), str(tmp_path / "same.npz"), "--tests", "none"]) == 0
    html = tmp_path / "drift.html"
    assert main(["drift", str(tmp_path / "ref.npz"), str(tmp_path / "shifted.npz"), "--json", "--html", str(html)]) == 1
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["drifted"] is True
    page = html.read_text()
    assert "<html" in page.lower() and ">a<" in page  # the drifted feature's row is in the page


def test_validate_and_schema_infer_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tmp_path / "ref.csv"
    ref.write_text("age,country\n" + "".join(f"{30 + i},{'US' if i % 2 else 'DE'}\n" for i in range(20)))
    bad = tmp_path / "bad.csv"
    bad.write_text("age,country\n30,US\n41,XX\n")
    schema = tmp_path / "schema.toml"
    assert main(["schema", "infer", str(ref), "-o", str(schema)]) == 0
    assert main(["validate", str(ref), "--schema", str(schema)]) == 0
    assert main(["validate", str(bad), "--schema", str(schema), "--json"]) == 1
    assert "not_allowed" in capsys.readouterr().out


def test_demo_runs_end_to_end_and_writes_telemetry(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "demo", "--data-dir", str(tmp_path), "--rows", "1500", "--no-report"],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "drift detected in: amount" in out
    assert "alert FIRING" in out and "alert RESOLVED" in out
    for signal in ("traces", "metrics", "logs"):
        assert (tmp_path / "telemetry" / f"{signal}.jsonl").stat().st_size > 0


def test_demo_alert_fires_and_resolves_through_a_real_webhook(tmp_path: Path) -> None:
    import os

    from tests.support.webhook import WebhookReceiver

    with WebhookReceiver() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERSIGHT_"))}
        env["INFERSIGHT_DEMO_WEBHOOK"] = hook.url + "/hooks/demo?token=planted-s3cr3t"
        proc = subprocess.run(
            [sys.executable, "-m", "agent.cli", "demo", "--data-dir", str(tmp_path), "--rows", "1500", "--no-report"],
            capture_output=True, text=True, timeout=240, cwd=ROOT, check=False, env=env,
        )
        assert proc.returncode == 0, proc.stderr
        requests = hook.wait_for(2)
    payloads = [r.json for r in requests]
    assert [p["status"] for p in payloads] == ["firing", "resolved"]
    assert all(p["version"] == "4" for p in payloads)
    features = {a["labels"]["feature"] for a in payloads[0]["alerts"]}
    assert {"amount", "country"} <= features
    assert "planted-s3cr3t" not in proc.stdout + proc.stderr
