"""The programs in examples/ run as a user would run them (so they cannot rot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_writes_telemetry(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERSIGHT_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = _readme_output(name)
    if shown is not None:  # the README prints this example's output: it must be what the example prints
        assert proc.stdout.strip() == shown
    if name != "custom_plugin.py":  # that one runs under agent.testing, in memory
        assert (tmp_path / "infersight-data" / "telemetry" / "traces.jsonl").stat().st_size > 0


def _readme_output(name: str) -> str | None:
    """The fenced block the README prints right after "Runnable: `python examples/NAME` (...):", if any."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    at = readme.find(f"Runnable: `python examples/{name}`")
    if at < 0:
        return None
    end = readme.find("\n\n", at)  # the end of the "Runnable:" paragraph (or bullet)
    fence = readme.find("```", end)
    if not readme[:end].rstrip().endswith(":") or readme[end + 2:fence].strip():
        return None
    body = readme.find("\n", fence) + 1
    lines = readme[body:readme.find("```", body)].rstrip().splitlines()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines).strip()
