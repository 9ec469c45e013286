"""Offline validation of a data file against a schema file, and schema inference to TOML text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.plugin import ConfigError
from plugins.validation.offline import infer_schema_text, validate_file

REFERENCE = "amount,country,age\n" + "".join(f"{i * 1.5},{'FR' if i % 2 else 'DE'},{20 + i}\n" for i in range(40))


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reference_validates_clean_against_its_inferred_schema(tmp_path: Path) -> None:
    ref = write(tmp_path, "ref.csv", REFERENCE)
    schema = write(tmp_path, "schema.toml", infer_schema_text(ref))
    report = validate_file(ref, schema)
    assert report.rows == 40 and report.violations == () and report.exit_code == 0
    assert "ok" in report.format_text()


def test_violations_exit_one_with_kinds_examples_and_json(tmp_path: Path) -> None:
    schema = write(tmp_path, "schema.toml", infer_schema_text(write(tmp_path, "ref.csv", REFERENCE)))
    data = write(tmp_path, "new.csv", "amount,country,age,extra\n1.0,FR,25,x\n999,IT,30,y\n2.0,DE,,z\n")
    report = validate_file(data, schema)
    assert report.exit_code == 1 and report.failed
    kinds = {(v.feature, v.kind): v.count for v in report.violations}
    assert kinds == {
        ("amount", "above_max"): 1,
        ("country", "not_allowed"): 1,
        ("age", "null"): 1,
        ("extra", "unknown_feature"): 3,
    }
    payload = json.loads(report.to_json())
    assert payload["failed"] is True
    assert {"feature": "country", "kind": "not_allowed", "examples": ["IT"]}.items() <= next(
        v for v in payload["violations"] if v["kind"] == "not_allowed"
    ).items()
    assert "! country" in report.format_text()


def test_thresholds_decide_the_exit_code(tmp_path: Path) -> None:
    text = infer_schema_text(write(tmp_path, "ref.csv", REFERENCE))
    data = write(tmp_path, "new.csv", "amount,country,age\n1.0,FR,25\n999,DE,30\n2.0,DE,31\n3.0,FR,32\n")
    strict = write(tmp_path, "strict.toml", text)
    lenient = write(tmp_path, "lenient.toml", text + "\n[thresholds]\ndefault = 0.5\n")
    assert validate_file(data, strict).exit_code == 1
    assert validate_file(data, lenient).exit_code == 0  # 1 of 4 rows above max: 0.25 <= 0.5
    assert validate_file(data, strict, max_rate=0.3).exit_code == 0
    assert validate_file(data, strict, max_rate=0.2).exit_code == 1


def test_missing_rate_over_the_file_is_checked(tmp_path: Path) -> None:
    text = 'allow_unknown = true\n[features.a]\ntype = "float"\nnullable = true\nmax_missing_rate = 0.25\n'
    schema = write(tmp_path, "s.toml", text)
    data = write(tmp_path, "d.csv", "a,b\n1,x\n,y\n,z\n4,w\n")
    report = validate_file(data, schema)
    [v] = report.violations
    assert (v.feature, v.kind, v.rate, report.exit_code) == ("a", "missing_rate", 0.5, 1)


def test_bad_schema_file_raises_config_error_with_the_path(tmp_path: Path) -> None:
    schema = write(tmp_path, "s.toml", '[features.a]\ntype = "float"\nmin = "zero"\n')
    data = write(tmp_path, "d.csv", "a\n1\n")
    with pytest.raises(ConfigError) as info:
        validate_file(data, schema)
    assert info.value.key.endswith("features.a.min")
    with pytest.raises(ConfigError):
        validate_file(data, write(tmp_path, "bad.toml", "[features.a\n"))


def test_thresholds_table_names_an_unknown_kind(tmp_path: Path) -> None:
    schema = write(tmp_path, "s.toml", '[features.a]\ntype = "float"\n[thresholds]\nabove_maximum = 0.1\n')
    with pytest.raises(ConfigError) as info:
        validate_file(write(tmp_path, "d.csv", "a\n1\n"), schema)
    assert info.value.key.endswith("thresholds.above_maximum") and "above_max" in str(info.value)


def test_second_sample_of_the_reference_distribution_validates_clean(tmp_path: Path) -> None:
    """``schema infer`` on one sample, ``validate`` on an independent one: no range violation."""
    rng = np.random.default_rng(8)

    def sample(name: str, n: int) -> Path:
        age = np.round(rng.normal(42, 12, size=n)).clip(0).astype(int)
        amount = rng.lognormal(3, 0.5, size=n).round(2)
        rows = "".join(f"{a},{m}\n" for a, m in zip(age.tolist(), amount.tolist(), strict=True))
        return write(tmp_path, name, "age,amount\n" + rows)

    schema = write(tmp_path, "schema.toml", infer_schema_text(sample("ref.csv", 1000)))
    report = validate_file(sample("fresh.csv", 5000), schema)
    assert report.violations == () and report.exit_code == 0
