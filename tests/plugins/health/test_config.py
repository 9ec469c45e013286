"""The [health] table on the shared key table, the health reading of [models.NAME], and the pin checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.plugin import ConfigError
from plugins.health.config import HealthConfig, ModelPins, model_pins, parse_config, sha256_pin
from plugins.health.identity import Mismatch, check_digest, check_version


def test_empty_table_gives_defaults() -> None:
    assert parse_config({}) == HealthConfig()


def test_valid_table_is_parsed() -> None:
    c = parse_config({"dependencies": ["numpy"], "pins": {"numpy": " 2.4.6 "}, "gpu": False})
    assert (c.dependencies, dict(c.pins), c.gpu, c.system_metrics) == (("numpy",), {"numpy": "2.4.6"}, False, True)


@pytest.mark.parametrize(
    ("table", "key"),
    [({"dependencies": "numpy"}, "health.dependencies"), ({"dependencies": ["numpy", " "]}, "health.dependencies"),
     ({"pins": {"numpy": 2}}, "health.pins.numpy"), ({"pins": {"numpy": ""}}, "health.pins.numpy"),
     ({"pins": ["numpy"]}, "health.pins"), ({"gpu": "yes"}, "health.gpu"), ({"gpus": True}, "health.gpus")],
)  # fmt: skip
def test_bad_values_raise_config_error_naming_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(table)
    assert err.value.key == key


def test_unknown_key_names_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'gpu'"):
        parse_config({"gpus": True})


def test_digest_pin_must_be_sha256_with_64_hex() -> None:
    assert sha256_pin("k", "sha256:" + "AB" * 32) == "ab" * 32
    for bad in ("ab" * 32, "sha256:" + "a" * 63, "md5:" + "a" * 64, 42):
        with pytest.raises(ConfigError) as err:
            sha256_pin("models.m.expected_digest", bad)
        assert err.value.key == "models.m.expected_digest"


def test_model_pins_read_the_model_table(tmp_path: Path) -> None:
    pins = model_pins("m", {"artifact": str(tmp_path / "a"), "expected_version": "2", "expected_digest": None,
                            "reference": None, "capture": True})  # fmt: skip
    assert pins == ModelPins("m", artifact=tmp_path / "a", expected_version="2")
    with pytest.raises(ConfigError) as err:
        model_pins("m", {"expected_digest": "sha256:xyz"})
    assert err.value.key == "models.m.expected_digest"


def test_checks_report_expected_and_actual() -> None:
    pins = model_pins("m", {"expected_digest": "sha256:" + "0" * 64, "expected_version": "2"})
    assert check_digest("F" * 64, pins) == Mismatch("digest", "m", "sha256:" + "0" * 64, "sha256:" + "f" * 64)
    assert check_digest("0" * 64, pins) is None
    assert check_version("1", pins) == Mismatch("version", "m", "2", "1")
    assert check_version("2", pins) is None
