"""Running the installed ``infersight demo`` in a clean environment, optionally with both cores kept busy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from agent.plugin import ENVIRONMENT_VARIABLES
from tests.support.cpu import cpu_lock

INFERSIGHT = Path(sys.executable).with_name("infersight")
EXPECTED = Path(__file__).with_name("expected_output.txt")  # with {data_dir} for the data directory


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any OTEL_*/INFERSIGHT_* variable, plus ``extra``."""
    drop = set(ENVIRONMENT_VARIABLES)
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("OTEL_", "INFERSIGHT_"))}
    return {**env, **extra}


def run_demo(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``infersight demo ARGS`` as a user runs it; returns the finished process (text output)."""
    return subprocess.run([str(INFERSIGHT), "demo", *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=dict(env) if env is not None else clean_env())  # fmt: skip


@contextmanager
def busy_cores(lock: Path | None, n: int | None = None) -> Iterator[None]:
    """Keep ``n`` (default: every available) cores busy with CPU-burning processes for the block.

    ``lock``: the run's CPU lock file (``cpu_lock_file``), held exclusively meanwhile.
    """
    count = n or len(os.sched_getaffinity(0))
    with cpu_lock(lock, shared=False):  # no test asserting a wall-clock bound runs meanwhile (tests/support/cpu.py)
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
        try:
            yield
        finally:
            for p in burners:
                p.kill()
            for p in burners:
                p.wait()
