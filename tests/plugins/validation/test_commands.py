"""``infersight validate`` and ``infersight schema infer``: exit 0 fine, 1 violations found, 2 bad input with one
line on stderr (never a traceback).

The round trip (infer, validate clean data, validate broken data) runs the installed command in a
subprocess, as a user runs it; the bad-input checks run the same ``main`` in-process (``run_cli``).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import run_cli

INFERSIGHT = str(Path(sys.executable).parent / "infersight")


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INFERSIGHT, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr lines of the command itself (another installed plugin failing to load prints its own)."""
    return [line for line in proc.stderr.splitlines() if not line.startswith("infersight: ml.agent.")]


def assert_bad_input(proc: subprocess.CompletedProcess[str], *mentions: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = error_lines(proc)
    for text in mentions:
        assert text in line, line


def ages_csv(path: Path, rng: np.random.Generator, n: int, *, extra: str = "") -> Path:
    age = np.round(rng.normal(42, 12, size=n)).clip(0).astype(int)
    amount = rng.lognormal(3, 0.5, size=n).round(2)
    rows = "".join(f"{a},{m}\n" for a, m in zip(age.tolist(), amount.tolist(), strict=True))
    path.write_text("age,amount\n" + rows + extra, encoding="utf-8")
    return path


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return ages_csv(tmp_path / "ref.csv", np.random.default_rng(1), 500)


def test_schema_infer_to_an_unwritable_path_exits_2_with_one_line(tmp_path: Path, reference: Path) -> None:
    proc = run_cli("schema", "infer", reference, "-o", "missing/dir/schema.toml", cwd=tmp_path)
    assert_bad_input(proc, "missing/dir/schema.toml", "cannot write schema file")
    assert error_lines(proc)[0].startswith("infersight schema infer: error: ")  # the nested command's own name
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("schema", "infer", "garbage.npz"), ("garbage.npz", "cannot read reference file")),
        (("validate", "nope.csv", "--schema", "schema.toml"), ("nope.csv", "no such data file")),
        (("validate", "ref.csv", "--schema", "nope.toml"), ("nope.toml", "no such schema file")),
        (("validate", "ref.csv", "--schema", "bad.toml"), ("bad.toml", "features.age.min")),
        (("validate", "latin1.csv", "--schema", "schema.toml"), ("latin1.csv", "cannot read data file")),
    ],
)
def test_missing_or_unreadable_input_exits_2_naming_the_file(
    tmp_path: Path, reference: Path, args: tuple[str, ...], mentions: tuple[str, ...]
) -> None:
    (tmp_path / "garbage.npz").write_bytes(b"not a zip archive")
    (tmp_path / "bad.toml").write_text('[features.age]\ntype = "int"\nmin = "zero"\n', encoding="utf-8")
    (tmp_path / "schema.toml").write_text('[features.age]\ntype = "int"\n', encoding="utf-8")
    (tmp_path / "latin1.csv").write_bytes("age,city\n30,Zürich\n".encode("latin-1"))
    assert_bad_input(run_cli(*args, cwd=tmp_path), *mentions)


def test_a_bad_option_value_exits_2_naming_the_option(tmp_path: Path, reference: Path) -> None:
    assert_bad_input(run_cli("schema", "infer", reference, "--tolerance", "nan", cwd=tmp_path), "--tolerance")


def test_validate_passes_fresh_data_of_the_reference_distribution_and_exits_1_only_on_violations(
    tmp_path: Path, reference: Path
) -> None:
    inferred = cli("schema", "infer", reference, "-o", "schema.toml", cwd=tmp_path)
    assert inferred.returncode == 0 and inferred.stdout.strip() == "schema written to schema.toml"
    schema = tomllib.loads((tmp_path / "schema.toml").read_text(encoding="utf-8"))
    assert schema["features"]["age"]["min"] == 0 and schema["features"]["age"]["max"] > 80

    fresh = ages_csv(tmp_path / "fresh.csv", np.random.default_rng(2), 5000)
    clean = cli("validate", fresh, "--schema", "schema.toml", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout
    assert "5000 rows checked" in clean.stdout and "no violations" in clean.stdout

    broken = ages_csv(tmp_path / "broken.csv", np.random.default_rng(3), 50, extra="-4,10.0\n")
    found = cli("validate", broken, "--schema", "schema.toml", "--json", cwd=tmp_path)
    assert found.returncode == 1 and error_lines(found) == []
    assert '"kind": "below_min"' in found.stdout
