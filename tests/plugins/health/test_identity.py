"""Artifact hashing and pin checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent._errors import ConfigError
from agent._types import ModelInfo
from plugins.health.identity import (
    Mismatch,
    check_digest,
    check_version,
    hash_file,
    identify,
    model_pins,
    parse_digest,
)


def test_streamed_file_hash_equals_hashlib_over_the_whole_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000 + b"tail"  # spans several chunks, ends mid-chunk
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    assert hash_file(path, chunk_size=4096) == (hashlib.sha256(data).hexdigest(), len(data))
    ident = identify("m", path)
    assert (ident.sha256, ident.size, ident.path) == (hashlib.sha256(data).hexdigest(), len(data), str(path))


def test_bytes_and_memoryview_artifacts_hash_their_content() -> None:
    data = b"\x00\x01weights"
    assert identify("m", data).sha256 == hashlib.sha256(data).hexdigest()
    assert identify("m", memoryview(bytearray(data))).size == len(data)
    assert identify("m", data).path is None


def test_unreadable_path_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        identify("m", tmp_path / "missing")


def test_digest_pin_must_be_sha256_with_64_hex() -> None:
    assert parse_digest("k", "sha256:" + "AB" * 32) == "ab" * 32
    for bad in ("ab" * 32, "sha256:" + "a" * 63, "md5:" + "a" * 64, 42):
        with pytest.raises(ConfigError) as err:
            parse_digest("models.m.expected_digest", bad)
        assert err.value.key == "models.m.expected_digest"


def test_model_pins_read_the_model_table_and_name_bad_keys(tmp_path: Path) -> None:
    pins = model_pins(ModelInfo("m", options={"artifact": str(tmp_path / "a"), "expected_version": "2"}))
    assert pins.artifact == tmp_path / "a" and pins.expected_version == "2" and pins.expected_digest is None
    with pytest.raises(ConfigError) as err:
        model_pins(ModelInfo("m", options={"reference": 3}))
    assert err.value.key == "models.m.reference"


def test_checks_report_expected_and_actual() -> None:
    ident = identify("m", b"x")
    pins = model_pins(ModelInfo("m", options={"expected_digest": "sha256:" + "0" * 64, "expected_version": "2"}))
    assert check_digest(ident, pins) == Mismatch("digest", "m", "sha256:" + "0" * 64, ident.digest)
    assert check_version("1", pins) == Mismatch("version", "m", "2", "1")
    assert check_version("2", pins) is None
