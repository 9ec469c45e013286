"""The [recsys] table on the shared key table: windows, per-model overrides, moved keys."""

from __future__ import annotations

from typing import Any

import pytest

from agent.plugin import ConfigError, Window
from agent.testing import run_plugin
from plugins.recsys.config import RecsysConfig, parse_config


def test_defaults_and_per_model_overrides_laid_over_them() -> None:
    settings = parse_config({"window": {"size": 300}, "catalog_size": 500,
                             "models": {"shelf": {"window": {"type": "time"}, "head_share": 0.1}}})
    assert settings.defaults == RecsysConfig(window=Window("count", 300, 3600.0), catalog_size=500)
    shelf = settings.for_model("shelf")
    assert shelf.window == Window("time", 300, 3600.0) and shelf.head_share == 0.1 and shelf.catalog_size == 500
    assert settings.for_model("other") == settings.defaults


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"window_size": 10}, r"recsys\.window_size.*window\.size"),
        ({"window_type": "time"}, r"recsys\.window_type.*window\.type"),
        ({"window_seconds": 5}, r"recsys\.window_seconds.*window\.seconds"),
        ({"head_share": 1.5}, r"recsys\.head_share"),
        ({"catalog_size": 0}, r"recsys\.catalog_size"),
        ({"catalog_size": {"rec": 500}}, r"recsys\.catalog_size.*recsys\.models\.NAME"),
        ({"models": {"rec": {"window": {"size": -1}}}}, r"recsys\.models\.rec\.window\.size"),
        ({"models": {"rec": {"max_tracked": 5}}}, r"recsys\.models\.rec\.max_tracked.*recsys\.max_tracked"),
        ({"click_grace_s": "later"}, r"recsys\.click_grace_s"),
    ],
)
def test_bad_values_raise_config_error_naming_the_key_path(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config(table)


def test_per_model_windows_apply_on_the_real_host() -> None:
    config = {"recsys": {"window": {"size": 2}, "min_window_lists": 1, "click_grace_s": 0,
                         "models": {"big": {"window": {"size": 4}}}},
              "models": {"small": {"task": "ranking", "capture": True}, "big": {"task": "ranking", "capture": True}}}
    with run_plugin("recsys", config=config) as h:
        for model in ("small", "big"):
            for i in range(4):
                h.feed(model, {"user": i}, [f"i{i}", f"i{i + 1}"])
        h.tick()
        counts = {m: len([r for r in h.plugin("recsys").reports if r.model == m]) for m in ("small", "big")}
    assert counts == {"small": 2, "big": 1}


def test_bad_config_fails_the_agent_start_through_the_real_host() -> None:
    with pytest.raises(ConfigError, match=r"recsys\.head_share"), \
            run_plugin("recsys", config={"recsys": {"head_share": 1.5}}):
        pass
