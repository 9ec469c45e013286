"""Owner-only files: the alerts directory and what the plugin writes in it.

Notifications name models and features, and the outbox may hold them for a day, so other
users of the machine have no business reading them. Modes come from the agent
(``agent.file_mode``, 0600 by default; directories 0700), are set explicitly rather than
left to the umask, and are tightened on files an older version created wider.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.plugin import ensure_dir

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, mode: int = DIR_MODE) -> Path:
    """Create ``path`` (and missing parents) with ``mode``; the directory itself is set to ``mode``."""
    ensure_dir(path, mode)
    if path.stat().st_mode & 0o777 != mode:
        os.chmod(path, mode)
    return path


def private_file(path: Path, mode: int = FILE_MODE) -> Path:
    """Create ``path`` empty if missing, with ``mode`` either way (SQLite's -wal/-shm files copy it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, mode)
    try:
        if os.fstat(fd).st_mode & 0o777 != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, text: str, mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` with ``text``: a temp file created with ``mode``, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
