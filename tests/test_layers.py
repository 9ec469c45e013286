"""The layer contracts (import-linter): the core imports no plugin; plugins use only the core's public face.

``lint-imports`` runs on the real tree and must keep both contracts; on a copy of the
tree with one deliberate violation of each, it must fail and name the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _copy_tree(dest: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    for package in ("agent", "plugins"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))


def test_both_layer_contracts_are_kept() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The core imports no plugin KEPT" in proc.stdout
    assert "Plugins use only the core's public face KEPT" in proc.stdout


@pytest.mark.parametrize(("path", "line", "named"), [
    ("agent/_violation.py", "import plugins.drift\n", "agent._violation -> plugins.drift"),
    ("plugins/drift/violation.py", "from agent._state import AGENT\n", "plugins.drift.violation -> agent._state"),
])
def test_a_deliberate_violation_breaks_its_contract(tmp_path: Path, path: str, line: str, named: str) -> None:
    _copy_tree(tmp_path)
    (tmp_path / path).write_text(f'"""A deliberate layer violation."""\n\n{line}')
    proc = _lint(tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert "BROKEN" in proc.stdout and named in proc.stdout


def test_every_private_core_module_is_forbidden_to_plugins() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (face,) = [c for c in contracts if c["source_modules"] == ["plugins"]]
    private = {f"agent.{p.stem}" for p in (ROOT / "agent").glob("_*.py") if p.stem != "__init__"}
    assert private <= set(face["forbidden_modules"])
