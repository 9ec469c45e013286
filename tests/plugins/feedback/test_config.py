"""The [feedback] table on the shared key table: defaults, moved keys, durations; the store's file modes."""

from __future__ import annotations

import os
from typing import Any

import pytest

from agent.plugin import ConfigError, Window
from agent.testing import run_plugin
from plugins.feedback.config import FeedbackConfig, parse_config


def test_empty_table_gives_the_documented_defaults() -> None:
    assert parse_config({}) == FeedbackConfig()
    assert FeedbackConfig().window == Window("count", 1000, 3600.0)


def test_window_is_one_table_laid_over_the_default() -> None:
    cfg = parse_config({"window": {"type": "time", "seconds": 30}})
    assert cfg.window == Window("time", 1000, 30.0)


@pytest.mark.parametrize(("old", "new"), [("window_type", "window.type"), ("window_size", "window.size"),
                                          ("window_seconds", "window.seconds")])
def test_old_flat_window_keys_name_the_new_key(old: str, new: str) -> None:
    with pytest.raises(ConfigError, match=rf"feedback\.{old}.*{new}"):
        parse_config({old: 10})


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"synchronous": "SOMETIMES"}, r"feedback\.synchronous"),
        ({"window": {"size": 0}}, r"feedback\.window\.size"),
        ({"score_threshold": 1.5}, r"feedback\.score_threshold"),
        ({"pending_timeout_s": "soon"}, r"feedback\.pending_timeout_s"),
        ({"baseline": {"mae": "low"}}, r"feedback\.baseline\.mae"),
        ({"windw": {}}, r"feedback\.windw.*did you mean 'window'"),
    ],
)
def test_bad_values_raise_config_error_naming_the_key_path(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config(table)


def test_values_are_normalised() -> None:
    cfg = parse_config({"synchronous": "full", "pending_timeout_s": "10m", "kinds": ["thumbs"]})
    assert cfg.synchronous == "FULL" and cfg.pending_timeout_s == 600.0
    assert {"thumbs", "click", "label"} <= cfg.kinds


def test_bad_config_fails_the_agent_start_through_the_real_host() -> None:
    with pytest.raises(ConfigError, match=r"feedback\.window_size.*window\.size"), \
            run_plugin("feedback", config={"feedback": {"window_size": 10}}):
        pass


@pytest.mark.parametrize(("agent_table", "files", "dirs"), [({}, 0o600, 0o700),
                                                            ({"file_mode": 0o640}, 0o640, 0o750)])
def test_the_store_follows_the_agent_file_mode(tmp_path: Any, agent_table: dict[str, Any], files: int,
                                               dirs: int) -> None:
    old = os.umask(0o022)  # the usual umask: SQLite alone would create 0644 files
    try:
        with run_plugin("feedback", config={"feedback": {"db_file": "fb/feedback.sqlite", "export": False}},
                        agent={"data_dir": str(tmp_path / "data"), "stderr_level": "off", **agent_table}) as h:
            path = h.plugin("feedback").store.path
            assert os.stat(path.parent).st_mode & 0o777 == dirs
            assert {os.stat(f"{path}{s}").st_mode & 0o777 for s in ("", "-wal", "-shm")} == {files}
    finally:
        os.umask(old)
