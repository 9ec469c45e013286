"""The ``infersight`` command run inside the test process, answering as the installed command would.

``run_cli(*args)`` returns a ``subprocess.CompletedProcess`` (exit code, stdout, stderr) from
``agent.cli.main``, argparse's exits included, without paying a new interpreter and every
plugin's imports per run. Use it for checks of a command's behaviour; every command family
keeps at least one run of the installed executable, as a user runs it.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from agent.cli import main

__all__ = ["run_cli"]


def run_cli(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``infersight ARGS`` in-process, with ``env`` set on top of the environment and ``cwd`` as the directory."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        if cwd is not None:
            mp.chdir(cwd)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(["infersight", *argv], code, out.getvalue(), err.getvalue())
