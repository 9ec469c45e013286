"""Path checks: they act (create, open) rather than ask, and keep the OS error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.health.paths import check_data_dir, check_readable


def test_missing_data_dir_is_created_owner_only_and_left_clean(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert check_data_dir(target) is None
    assert target.is_dir() and list(target.iterdir()) == []
    assert [p.stat().st_mode & 0o777 for p in (tmp_path / "a", target)] == [0o700, 0o700]


def test_data_dir_under_a_regular_file_is_reported_with_errno(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    problem = check_data_dir(tmp_path / "f" / "data")
    assert problem is not None
    assert (problem.access, problem.role) == ("write", "data directory")
    assert "ENOTDIR" in problem.error or "EEXIST" in problem.error
    assert problem.describe().startswith(f"data directory {tmp_path / 'f' / 'data'}: needs write access: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root bypasses permission bits; the ENOTDIR case covers root")
def test_read_only_data_dir_is_reported_for_non_root(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        problem = check_data_dir(locked)
    finally:
        locked.chmod(0o700)
    assert problem is not None and "EACCES" in problem.error


def test_readable_check_reports_missing_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "ok.bin").write_bytes(b"1")
    assert check_readable(tmp_path / "ok.bin", "models.m.artifact") is None
    missing = check_readable(tmp_path / "nope", "models.m.artifact")
    assert missing is not None and "ENOENT" in missing.error and missing.access == "read"
    a_dir = check_readable(tmp_path, "models.m.reference")
    assert a_dir is not None and "EISDIR" in a_dir.error
