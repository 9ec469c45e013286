"""A real third-party distribution: built, installed, and loaded through the ``infersight`` entry-point group.

The fixture package under tests/fixtures/example_plugin_dist is installed with pip (into
a target directory on PYTHONPATH, so the test environment itself is left as it was); the
agent and the ``infersight`` command then run in subprocesses that see it the way a
user's process would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "example_plugin_dist"
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import agent
from agent.plugin import running_plugin

config = json.loads(sys.argv[1])
agent.init(config)

@agent.monitor(model="m")
def predict(row):
    return row["x"] * 2

outputs = [predict({"x": float(i)}) for i in range(10)]
assert agent.flush(30), "flush did not finish"
counter, tracker, module = (running_plugin(n) for n in ("row_counter", "mean_tracker", "module_plugin"))
print(json.dumps({
    "outputs": outputs,
    "rows": counter.rows,
    "first": counter.first_values[:5],
    "limit": counter.limit,
    "mean": tracker.total / tracker.count,
    "section": module.section,
    "misspelled_loaded": running_plugin("misspelled") is not None,
}))
agent.shutdown()
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example distribution, built from a copy of its source and installed into a fresh directory."""
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "src"
    shutil.copytree(FIXTURE, source)
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(target.glob("infersight_example_plugin-1.0.0.dist-info/entry_points.txt"))
    return target


def _env(site: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFERSIGHT_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site) if site else "", str(ROOT)) if p)
    return env


def _config(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "agent": {"data_dir": str(tmp_path / "data"), "stderr_level": "off"},
        "exporter": {"type": "none"},
        "plugins": {"enabled": [], "disabled": ["misspelled"]},
        "models": {"m": {"capture": True}},
        "row_counter": {"limit": 5},
        "module_plugin": {"flag": True},
        **extra,
    }


def _run(config: dict[str, object], site: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(config)], capture_output=True, text=True,
                          env=_env(site), timeout=120, check=False)


def test_every_entry_point_form_loads_and_its_hooks_see_real_captured_rows(site: Path, tmp_path: Path) -> None:
    proc = _run(_config(tmp_path), site)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["outputs"] == [2.0 * i for i in range(10)]  # the model's results are untouched
    assert got["rows"] == {"m": 10}  # factory entry point: called, its hooks ran on every captured row
    assert got["first"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert got["limit"] == 5  # its config table was accepted and read
    assert got["mean"] == pytest.approx(4.5)  # class entry point: instantiated; unmarked hook ran
    assert got["section"] == {"flag": True}  # module entry point: make_plugin() called, configured
    assert got["misspelled_loaded"] is False


def test_the_plugins_config_table_is_checked_by_the_plugin(site: Path, tmp_path: Path) -> None:
    proc = _run(_config(tmp_path, row_counter={"limit": -1}), site)
    assert proc.returncode != 0
    assert "config key 'row_counter.limit'" in proc.stderr and "an integer >= 0" in proc.stderr


def test_without_the_distribution_its_config_table_is_unknown(tmp_path: Path) -> None:
    proc = _run(_config(tmp_path), None)
    assert proc.returncode != 0
    assert "config key 'module_plugin'" in proc.stderr and "claimed by a loaded plugin" in proc.stderr


def test_misspelled_hook_fails_to_load_naming_plugin_hook_and_closest_name(site: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "plugins"], capture_output=True, text=True,
                          env=_env(site), timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 1  # a plugin failed to load: the listing says so and the exit code too
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "entry point infersight_example.factory:make_plugin" in lines["row_counter"]
    assert "process_records" in lines["mean_tracker"]
    failed = lines["misspelled"]
    assert "FAILED TO LOAD" in failed
    assert "'infersight_proces_records' is not an InferSight hook" in failed
    assert "did you mean 'infersight_process_records'" in failed


def test_the_plugins_cli_subcommand_runs(site: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "example-rows", "--n", "4"], capture_output=True,
                          text=True, env=_env(site), timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"example": "rows", "n": 4}
    assert "misspelled" in proc.stderr  # the broken plugin is reported, the others still add their commands
