"""Rule and channel validation: every bad field fails at load with a ConfigError naming it."""

from __future__ import annotations

from typing import Any

import pytest

from agent.plugin import ConfigError
from plugins.alerts.config import parse_alerts_config

GOOD = {"name": "drift-high", "signal": "ml.drift.psi", "op": ">", "threshold": 0.2}


def load(rule: dict[str, Any] | None = None, **section: Any) -> Any:
    """Parse a section with GOOD (updated by ``rule``) as its second rule."""
    other = {"name": "first", "signal": "x", "threshold": 1}
    return parse_alerts_config({"rules": [other, {**GOOD, **(rule or {})}], **section})


BAD_RULES = [
    ({"op": "=>"}, "alerts.rules['drift-high'].op"),
    ({"threshold": "high"}, "alerts.rules['drift-high'].threshold"),
    ({"threshold": float("inf")}, "alerts.rules['drift-high'].threshold"),
    ({"threshold": True}, "alerts.rules['drift-high'].threshold"),
    ({"for": "5 minutes"}, "alerts.rules['drift-high'].for"),
    ({"for": -1}, "alerts.rules['drift-high'].for"),
    ({"for_windows": 0}, "alerts.rules['drift-high'].for_windows"),
    ({"keep_firing_for": "soon"}, "alerts.rules['drift-high'].keep_firing_for"),
    ({"signal": ""}, "alerts.rules['drift-high'].signal"),
    ({"severity": 3}, "alerts.rules['drift-high'].severity"),
    ({"labels": {"team": 1}}, "alerts.rules['drift-high'].labels"),
    ({"matchers": ['feature=~"("']}, "alerts.rules['drift-high'].matchers.feature"),
    ({"matchers": ["not a matcher"]}, "alerts.rules['drift-high'].matchers[0]"),
    ({"matchers": 5}, "alerts.rules['drift-high'].matchers"),
    ({"channels": ["pager"]}, "alerts.rules['drift-high'].channels"),
    ({"summary": "{value} for {modle}"}, "alerts.rules['drift-high'].summary"),
    ({"description": "{labels.model}"}, "alerts.rules['drift-high'].description"),
    ({"description": "{value.__class__}"}, "alerts.rules['drift-high'].description"),
    ({"description": "{details[a][b]}"}, "alerts.rules['drift-high'].description"),
    ({"description": "{0}"}, "alerts.rules['drift-high'].description"),
    ({"description": "{value:{threshold}}"}, "alerts.rules['drift-high'].description"),
    ({"description": "{value:.2q}"}, "alerts.rules['drift-high'].description"),
    ({"description": "unclosed {value"}, "alerts.rules['drift-high'].description"),
    ({"description": "{value!a}"}, "alerts.rules['drift-high'].description"),
    ({"no_data_after": "never"}, "alerts.rules['drift-high'].no_data_after"),
    ({"treshold": 1}, "alerts.rules['drift-high'].treshold"),
]


@pytest.mark.parametrize(("patch", "key"), BAD_RULES, ids=[k.split(".")[-1] + repr(p) for p, k in BAD_RULES])
def test_bad_rule_field_raises_config_error_naming_rule_and_field(patch: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(patch)
    assert info.value.key == key


def test_rule_without_name_is_named_by_index() -> None:
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"rules": [GOOD, {"signal": "x", "threshold": 1}]})
    assert info.value.key == "alerts.rules[1].name"


def test_duplicate_rule_name_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"rules": [GOOD, GOOD]})
    assert info.value.key == "alerts.rules[1].name"


BAD_SECTIONS = [
    ({"group_by": "model"}, "alerts.group_by"),
    ({"repeat_interval": "often"}, "alerts.repeat_interval"),
    ({"send_resolved": "yes"}, "alerts.send_resolved"),
    ({"queue_size": 0}, "alerts.queue_size"),
    ({"retries": -1}, "alerts.retries"),
    ({"evaluation_interval": 0}, "alerts.evaluation_interval"),
    ({"unknown_setting": 1}, "alerts.unknown_setting"),
    ({"default_channels": ["nope"]}, "alerts.default_channels"),
    ({"channels": {"hook": {"type": "webhook"}}}, "alerts.channels.hook.url"),
    ({"channels": {"hook": {"type": "webhook", "url": "ftp://x/y"}}}, "alerts.channels.hook.url"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h", "format": "teams"}}}, "alerts.channels.hook.format"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h", "timeout": 0}}}, "alerts.channels.hook.timeout"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h", "verify_tls": "no"}}},
     "alerts.channels.hook.verify_tls"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h", "headers": {"A": 1}}}},
     "alerts.channels.hook.headers"),
    ({"channels": {"am": {"type": "alertmanager"}}}, "alerts.channels.am.url"),
    ({"channels": {"m": {"type": "email", "from": "a@x", "to": ["b@x"]}}}, "alerts.channels.m.host"),
    ({"channels": {"m": {"type": "email", "host": "h", "from": "a@x"}}}, "alerts.channels.m.to"),
    ({"channels": {"m": {"type": "email", "host": "h", "from": "a@x", "to": "b@x", "port": "25"}}},
     "alerts.channels.m.port"),
    ({"channels": {"x": {}}}, "alerts.channels.x.type"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h", "hedaers": {}}}}, "alerts.channels.hook.hedaers"),
    ({"channels": {"hook": {"type": "webhook", "url": "http://h:99999/x"}}}, "alerts.channels.hook.url"),
    ({"channels": {"m": {"type": "email", "host": "h", "from": "a@x", "to": "b@x", "port": 70000}}},
     "alerts.channels.m.port"),
    ({"channels": {"m": {"type": "email", "host": "h", "from": "a@x", "to": []}}}, "alerts.channels.m.to"),
    ({"channels": {"o": {"type": "otlp", "url": "http://h"}}}, "alerts.channels.o.url"),
    ({"backoff_max": "1000d"}, "alerts.backoff_max"),
    ({"shutdown_timeout": 1e300}, "alerts.shutdown_timeout"),
    ({"group_by": ["rule", " "]}, "alerts.group_by"),
    ({"resolve_timeout": "5m"}, "alerts.resolve_timeout"),
]


@pytest.mark.parametrize(("section", "key"), BAD_SECTIONS, ids=[k for _, k in BAD_SECTIONS])
def test_bad_section_or_channel_field_raises_config_error(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"rules": [GOOD], **section})
    assert info.value.key == key


def test_bad_url_error_does_not_echo_the_url() -> None:
    secret = "ftp://user:hunter2@host/x?token=abc123"
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"channels": {"hook": {"type": "webhook", "url": secret}}})
    assert "hunter2" not in str(info.value) and "abc123" not in str(info.value)


def test_defaults_and_durations_parse() -> None:
    cfg = load({"for": "1m30s", "keep_firing_for": 45, "matchers": {"model": "fraud"}, "channels": "log"})
    rule = cfg.rules[1]
    assert (rule.for_seconds, rule.keep_firing_for, rule.channels) == (90.0, 45.0, ("log",))
    assert rule.matchers[0].matches({"model": "fraud"}) and not rule.matchers[0].matches({"model": "x"})
    assert cfg.group_by == ("rule", "model")
    assert cfg.channels["log"].type == "log"
    assert (cfg.repeat_interval, cfg.send_resolved) == (4 * 3600.0, True)


def test_matchers_support_negation_and_anchored_regex() -> None:
    rule = load({"matchers": ['feature!~"id.*"', 'model!="test"', "version=~2|3"]}).rules[1]
    assert rule.matches({"feature": "amount", "model": "fraud", "version": "3"})
    assert not rule.matches({"feature": "id_user", "model": "fraud", "version": "3"})
    assert not rule.matches({"feature": "amount", "model": "test", "version": "3"})
    assert not rule.matches({"feature": "amount", "model": "fraud", "version": "33"})


def test_email_channel_defaults() -> None:
    cfg = parse_alerts_config({"channels": {"m": {"type": "email", "host": "h", "from": "a@x", "to": "b@x"}}})
    opts = cfg.channels["m"].options
    assert (opts["port"], opts["starttls"], opts["to"], opts["verify_tls"]) == (587, True, ["b@x"], True)


def test_custom_channel_type_passes_options_through() -> None:
    cfg = parse_alerts_config({"channels": {"pd": {"type": "pagerduty", "routing_key": "k"}}})
    assert (cfg.channels["pd"].type, cfg.channels["pd"].options["routing_key"]) == ("pagerduty", "k")


def test_renamed_key_points_to_its_new_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"resolve_timeout": "5m"})
    assert "'no_data_after'" in str(info.value)


def test_unknown_key_names_the_closest_known_one() -> None:
    with pytest.raises(ConfigError) as info:
        parse_alerts_config({"group_intervall": "5m"})
    assert "did you mean 'group_interval'" in str(info.value)


def test_webhook_channel_takes_the_section_external_url_unless_it_has_its_own() -> None:
    cfg = parse_alerts_config({"external_url": "http://dash", "channels": {
        "a": {"type": "webhook", "url": "http://h/a"},
        "b": {"type": "webhook", "url": "http://h/b", "external_url": "http://other"},
    }})
    assert (cfg.channels["a"].options["external_url"], cfg.channels["b"].options["external_url"]) == (
        "http://dash", "http://other")
