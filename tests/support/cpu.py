"""Keeping CPU burners and wall-clock assertions apart when pytest-xdist runs tests side by side.

``busy_cores`` (tests/plugins/demo) burns every core on purpose; a test on the other worker
that asserts a wall-clock bound (the load test's tick gaps, flush and shutdown timeouts) must
not run meanwhile, or it measures the burners. Such tests hold ``cpu_lock(path, shared=True)``
(the ``timing`` marker, tests/conftest.py), the burners ``cpu_lock(path, shared=False)``: timing
tests run alongside each other, never next to burning cores. ``path`` is the run's lock file
(the ``cpu_lock_file`` fixture), None when one process runs every test in turn.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cpu_lock"]


@contextmanager
def cpu_lock(path: Path | None, *, shared: bool) -> Iterator[None]:
    """Hold the run's CPU lock (shared: timing tests; exclusive: CPU burners) for the block; no-op without one."""
    if path is None:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
