"""Permission checks: the data directory must be writable, declared model and reference files readable.

Checks act rather than ask: ``os.access`` answers yes to root for every file and
ignores read-only mounts, so the data directory is probed by creating and removing a
file, and files are probed by opening and reading one byte. The OS error is kept
verbatim so the report says exactly what the kernel said.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Access", "PathProblem", "check_data_dir", "check_readable", "describe_os_error", "make_private_dirs"]

Access = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class PathProblem:
    """A path the agent cannot use: which one, what it is for, the access needed and the OS error."""

    path: str
    role: str
    access: Access
    error: str

    def describe(self) -> str:
        """One line for a report: ``<role> <path>: needs <access> access: <error>``."""
        return f"{self.role} {self.path}: needs {self.access} access: {self.error}"


def describe_os_error(exc: OSError) -> str:
    """``ExcType [ERRNO_NAME] message``: the OS error as the kernel reported it."""
    code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    text = exc.strerror or str(exc)
    return f"{type(exc).__name__} [{code}] {text}" if code else f"{type(exc).__name__}: {text}"


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents owner-only (0700): data files are nobody else's business.

    ``Path.mkdir(parents=True)`` would create the parents with the default mode, so each
    missing component is created here; directories that exist keep their mode.
    """
    missing: list[Path] = []
    p = path
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            if not d.is_dir():
                raise


def check_data_dir(path: str | os.PathLike[str], role: str = "data directory") -> PathProblem | None:
    """Create ``path`` if missing (owner-only), then prove it writable by creating and deleting a probe file."""
    p = Path(path).expanduser()
    try:
        make_private_dirs(p)
        if not p.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(p))
        fd, probe = tempfile.mkstemp(prefix=".infersight-probe-", dir=p)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return PathProblem(str(p), role, "write", describe_os_error(exc))
    return None


def check_readable(path: str | os.PathLike[str], role: str) -> PathProblem | None:
    """Prove a file readable by opening it and reading one byte; a directory or missing file is a problem."""
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        return PathProblem(str(p), role, "read", describe_os_error(exc))
    return None
