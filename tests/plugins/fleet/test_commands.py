"""``infersight fleet``: exit codes, bad input in one line, and five real replicas merged by the command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plugins.fleet import ProfileBuilder, names
from plugins.fleet.codec import to_base64, to_bytes
from plugins.fleet.sample import offset_priorities
from tests.support.cli import run_cli

HERE = Path(__file__).parent


def fleet(*argv: str) -> int:
    """Run ``infersight fleet ARGV`` in-process through the real dispatcher (one test runs the installed one).

    Its output is written back to this process's stdout and stderr, where ``capsys`` reads it.
    """
    done = run_cli("fleet", *argv)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


SEED = 205  # replicas' traffic: seeds 205..209 (the reference: seed 0)


def _replicas(tmp: Path, shift: float) -> list[Path]:
    dirs = [tmp / f"replica{i}" for i in range(5)]
    procs = [subprocess.Popen([sys.executable, str(HERE / "replica.py"), str(d), str(i), str(shift), str(SEED)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i, d in enumerate(dirs)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()
    return [d / "telemetry" / "logs.jsonl" for d in dirs]


def test_a_shift_too_small_for_any_replica_is_flagged_by_the_fleet_and_no_shift_is_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 0.12 sd in f0 and f1: each replica's 400 rows give a KS p-value no better than 0.1 (Bonferroni-corrected),
    # the 2,000 pooled rows 0.004 (effect 0.12 sd >= 0.1); the run is deterministic (module docs of replica.py)
    shifted = _replicas(tmp_path / "shifted", 0.12)
    _replicas(tmp_path / "plain", 0.0)
    capsys.readouterr()
    assert [fleet(str(f)) for f in shifted] == [0] * 5  # each replica's window alone: no drift
    assert fleet(*map(str, shifted)) == 1
    out = capsys.readouterr().out
    assert "5 replica(s), 2000 rows; reference: exported by" in out
    assert "verdict: drift in f0" in out
    assert fleet(str(tmp_path / "plain")) == 0  # a directory: every replica's telemetry under it
    assert "fleet verdict: no drift in 1 window(s)" in capsys.readouterr().out


def _write_profiles(path: Path, shift: float) -> None:
    rng = np.random.default_rng(3)
    lines = []
    for kind, start, rows, s in (("reference", 0.0, 1000, 0.0), ("window", 60.0, 500, shift)):
        b = ProfileBuilder(model="m", version="1", kind=kind)
        b.add_columns({"x": rng.normal(size=rows) + s}, offset_priorities(kind, 0, rows), start=start,
                      end=start + 60)
        attrs = {names.ATTR_MODEL: "m", names.ATTR_VERSION: "1", names.ATTR_PROFILE_KIND: kind,
                 names.ATTR_WINDOW_START: start, names.ATTR_WINDOW_END: start + 60,
                 names.ATTR_PROFILE_DATA: to_base64(b.build())}
        record = {"body": {"stringValue": names.PROFILE_EVENT},
                  "attributes": [{"key": k, "value": {"doubleValue": v} if isinstance(v, float)
                                  else {"stringValue": v}} for k, v in attrs.items()]}
        lines.append('{"resourceLogs":[{"resource":{"attributes":[{"key":"service.instance.id","value":'
                     '{"stringValue":"a"}}]},"scopeLogs":[{"logRecords":[' + __import__("json").dumps(record)
                     + "]}]}]}")
    path.write_text("\n".join(lines) + "\n")


def test_json_output_and_a_reference_profile_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    logs = tmp_path / "logs.jsonl"
    _write_profiles(logs, 1.0)
    # As a user runs it: the installed command.
    proc = subprocess.run([str(Path(sys.executable).with_name("infersight")), "fleet", str(logs), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["drifted"] and doc["windows"][0]["replicas"] == ["a"]
    assert doc["windows"][0]["report"]["results"][0]["feature"] == "x"
    b = ProfileBuilder(model="m")
    b.add_columns({"x": np.random.default_rng(9).normal(size=500) + 1.0}, offset_priorities("r", 0, 500))
    (tmp_path / "ref.isfp").write_bytes(to_bytes(b.build()))
    assert fleet(str(logs), "--reference", str(tmp_path / "ref.isfp")) == 0  # against a shifted reference


@pytest.mark.parametrize(("argv", "message"), [
    (["{missing}"], "does not exist"),
    (["{empty}"], "no ml.drift.profile records"),
    (["{bad}"], "bad.jsonl:1: not an OTLP/JSON line"),
    (["{logs}", "--alpha", "2"], "--alpha: got '2'"),
    (["{logs}", "--reference", "{bad}"], "--reference"),
    (["--dataset", "{logs}"], "--dataset takes two datasets"),
    (["--dataset", "{logs}", "{logs}", "--engine", "ray"], "--engine: got 'ray'"),
    (["{logs}", "--engine", "dask"], "go with --dataset"),
    (["{logs}", "--follow", "--interval", "0"], "--interval"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        argv: list[str], message: str) -> None:
    logs = tmp_path / "logs.jsonl"
    _write_profiles(logs, 0.0)
    (tmp_path / "empty.jsonl").write_text('{"resourceLogs":[]}\n')
    (tmp_path / "bad.jsonl").write_text("ml.drift.profile {not json\n")
    paths = {"missing": str(tmp_path / "nope.jsonl"), "empty": str(tmp_path / "empty.jsonl"),
             "bad": str(tmp_path / "bad.jsonl"), "logs": str(logs)}
    capsys.readouterr()
    assert fleet(*[a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("infersight fleet: error: ") and message in err
    assert "Traceback" not in err
