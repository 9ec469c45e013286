"""A real Arize Phoenix server on 127.0.0.1, for the optional tests that read back what it received.

Phoenix is too large for the test extra: these tests run when ``PHOENIX_PYTHON`` names a
Python with ``arize-phoenix`` installed, and are skipped otherwise.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PHOENIX_PYTHON = os.environ.get("PHOENIX_PYTHON", "")
needs_phoenix = pytest.mark.skipif(not PHOENIX_PYTHON,
                                   reason="set PHOENIX_PYTHON to a Python with arize-phoenix installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def phoenix_server(working_dir: Path) -> Iterator[str]:
    """Start Phoenix on 127.0.0.1 with its own working directory; yield its base URL once it answers."""
    port, grpc_port = _free_port(), _free_port()
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc_port),
           "PHOENIX_WORKING_DIR": str(working_dir), "PHOENIX_TELEMETRY_ENABLED": "false"}
    proc = subprocess.Popen([PHOENIX_PYTHON, "-m", "phoenix.server.main", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # readiness: the server answers its health check (start-up takes seconds)
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("phoenix did not start") from None
                time.sleep(0.5)  # polling a starting process: there is nothing to wait on instead
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
