"""The [health] section: defaults and errors that name the key."""

from __future__ import annotations

import pytest

from agent._errors import ConfigError
from plugins.health.settings import HealthSettings, parse_settings


def test_empty_section_gives_defaults() -> None:
    assert parse_settings({}) == HealthSettings()


def test_valid_section_is_parsed() -> None:
    s = parse_settings({"dependencies": ["numpy"], "pins": {"numpy": " 2.4.6 "}, "gpu": False})
    assert (s.dependencies, dict(s.pins), s.gpu, s.system_metrics) == (("numpy",), {"numpy": "2.4.6"}, False, True)


@pytest.mark.parametrize(
    ("section", "key"),
    [({"dependencies": "numpy"}, "health.dependencies"), ({"pins": {"numpy": 2}}, "health.pins.numpy"),
     ({"pins": ["numpy"]}, "health.pins"), ({"gpu": "yes"}, "health.gpu"), ({"gpus": True}, "health.gpus")],
)  # fmt: skip
def test_bad_values_raise_config_error_naming_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(section)
    assert err.value.key == key
