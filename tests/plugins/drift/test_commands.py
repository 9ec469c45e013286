"""``infersight drift``: exit 0 no drift, 1 drift, 2 bad input with one line naming it, never a traceback.

The exit codes are checked on the installed console script (each process pays the CLI's
start-up, so they run at once); more kinds of bad input through the command's own parser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.cli import run_cli

SCRIPT = Path(sys.executable).with_name("infersight")


@dataclass(frozen=True)
class Run:
    """One finished ``infersight drift`` process."""

    code: int
    out: str
    err: str


def _write_data(d: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    np.savez(d / "ref.npz", a=rng.normal(size=400), b=rng.normal(size=400))
    np.savez(d / "same.npz", a=rng.normal(size=300), b=rng.normal(size=300))
    np.savez(d / "shifted.npz", a=rng.normal(1.0, 1.0, 300), b=rng.normal(size=300))
    (d / "corrupt.npz").write_bytes(b"not a zip archive at all")
    (d / "a-file").write_text("x")
    return {k: str(d / f) for k, f in (("ref", "ref.npz"), ("same", "same.npz"), ("shifted", "shifted.npz"),
                                          ("corrupt", "corrupt.npz"), ("file", "a-file"))}


CASES = {  # the installed command as a user runs it (the in-process cases are below)
    "no_drift": ["{ref}", "{same}", "--tests", "none"],
    "drift": ["{ref}", "{shifted}", "--json", "--html", "{dir}/out/drift.html"],
    "missing_file": ["{ref}", "{dir}/nope.npz"],
}
IN_PROCESS = {
    "alpha_out_of_range": ["{ref}", "{same}", "--alpha", "2"],
    "html_unwritable": ["{ref}", "{shifted}", "--html", "{file}/drift.html"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case at once (each process pays the CLI's start-up; they overlap on the cores)."""
    d = tmp_path_factory.mktemp("drift-cli")
    paths = {**_write_data(d), "dir": str(d)}
    procs = {name: subprocess.Popen([str(SCRIPT), "drift", *(a.format(**paths) for a in args)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=d)
             for name, args in CASES.items()}
    out = {}
    for name, args in IN_PROCESS.items():
        done = run_cli("drift", *(a.format(**paths) for a in args), cwd=d)
        out[name] = Run(done.returncode, done.stdout, done.stderr)
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[name] = Run(p.returncode, stdout, stderr)
    out["_dir"] = Run(0, str(d), "")
    return out


def test_exit_0_without_drift(runs: dict[str, Run]) -> None:
    r = runs["no_drift"]
    assert (r.code, r.err) == (0, "")
    assert "verdict: no drift" in r.out


def test_exit_1_on_drift_with_json_and_the_html_report_written(runs: dict[str, Run]) -> None:
    r = runs["drift"]
    assert r.code == 1, r.err
    report = json.loads(r.out)
    assert report["drifted"] is True and any(x["feature"] == "a" and x["drifted"] for x in report["results"])
    page = Path(runs["_dir"].out, "out", "drift.html")
    assert page.exists() and "<html" in page.read_text().lower()
    assert "HTML report written to" in r.err


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("alpha_out_of_range", ("--alpha", "'2'", "between 0 and 1")),
        ("missing_file", ("nope.npz", "does not exist")),
        ("html_unwritable", ("--html", "a-file", "not a directory")),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_it(runs: dict[str, Run], case: str, names: tuple[str, ...]) -> None:
    r = runs[case]
    assert r.code == 2
    assert r.out == ""  # nothing half-done on stdout
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infersight drift: error: "), r.err
    assert "Traceback" not in r.err
    for text in names:
        assert text in lines[0]


def _run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Run:
    done = run_cli("drift", *argv)  # the real dispatcher: it turns an InputError into exit 2 and one line
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda d: ["{corrupt}", "{same}"], ("corrupt.npz", "cannot read the reference file")),
        (lambda d: ["{ref}", "{dir}"], ("cannot read the current file",)),
        (lambda d: ["{ref}", "{cube}"], ("cube.npy", "ValueError")),
        (lambda d: ["{ref}", "{same}", "--tests", "tt"], ("unknown test 'tt'",)),
        (lambda d: ["{ref}", "{same}", "--features", "zz"], ("zz",)),
        (lambda d: ["{ref}", "{same}", "--alpha", "abc"], ("--alpha", "'abc'")),
        (lambda d: ["{ref}", "{same}", "--alpha", "0"], ("--alpha",)),
        (lambda d: ["{ref}", "{same}", "--alpha", "inf"], ("--alpha",)),
        (lambda d: ["{ref}", "{same}", "--alpha", "nan"], ("--alpha", "'nan'")),
        (lambda d: ["{ref}", "{same}", "--html", "{dir}"], ("--html", "is a directory")),
        (lambda d: ["{ref}", "{same}", "--threshold-numeric", "-1"], ("--threshold-numeric", ">= 0")),
        (lambda d: ["{ref}", "{same}", "--threshold-joint", "big"], ("--threshold-joint", "'big'")),
        (lambda d: ["{ref}", "{same}", "--feature-type", "a=ordinal"], ("--feature-type a", "'discrete'")),
        (lambda d: ["{ref}", "{same}", "--feature-type", "a"], ("--feature-type", "NAME=TYPE")),
        (lambda d: ["{ref}", "{same}", "--permutations", "0"], ("--permutations", "positive")),
        (lambda d: ["{ref}", "{same}", "--reduction", "umap"], ("--reduction", "'auto'")),
        (lambda d: ["{ref}", "{same}", "--joint", "mmd_linear"], ("--joint", "'lsdd'")),
        (lambda d: ["{ref}", "{same}", "--tests", "mmd_linear"], ("unknown test 'mmd_linear'",)),
    ],
)
def test_more_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any,
                                              names: tuple[str, ...]) -> None:
    paths = {**_write_data(tmp_path), "dir": str(tmp_path), "cube": str(tmp_path / "cube.npy")}
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    r = _run_in_process([a.format(**paths) for a in make(tmp_path)], capsys)
    assert r.code == 2 and r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infersight drift: error: "), r.err
    for text in names:
        assert text in lines[0]


def test_options_set_thresholds_types_permutations_reduction_and_the_joint_test(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = {**_write_data(tmp_path), "dir": str(tmp_path)}
    argv = [paths["ref"], paths["shifted"], "--json", "--threshold-numeric", "5", "--threshold-categorical", "0.2",
            "--threshold-joint", "5", "--feature-type", "b=discrete", "--permutations", "60", "--reduction", "none",
            "--joint", "mmd", "--correction", "bh", "--seed", "3"]
    r = _run_in_process(argv, capsys)
    assert r.code == 0, r.err  # a 1 sd shift, but every threshold is 5 sd: significant, practically small
    report = json.loads(r.out)
    assert report["rule"]["thresholds"] == {"numeric": 5.0, "categorical": 0.2, "multivariate": 5.0}
    assert report["rule"]["correction"] == "bh"
    a = next(x for x in report["results"] if x["feature"] == "a")
    assert a["significant"] and a["verdict"] == "below_threshold"
    joint = next(x for x in report["results"] if x["feature"] == "multivariate")
    assert joint["effects"]["permutations"] >= 60
    off = _run_in_process([paths["ref"], paths["shifted"], "--joint", "off"], capsys)
    assert off.code == 1 and "multivariate" not in off.out and "features at 0.05" in off.out
