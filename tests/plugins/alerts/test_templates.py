"""Templates: safe rendering that never evaluates, lenient at run time, strict at load."""

from __future__ import annotations

import pytest

from agent.plugin import ConfigError
from plugins.alerts.templates import render_template, split_field, validate_template


def test_render_reads_labels_details_and_top_level_names() -> None:
    ctx = {"value": 0.123456, "model": "fraud", "labels": {"model": "fraud"}, "details": {"p": 0.01}}
    assert render_template("{model} {labels[model]} {value:.2f} {details[p]:.0e}", ctx) == "fraud fraud 0.12 1e-02"


def test_missing_label_or_detail_renders_na() -> None:
    assert render_template("{labels[team]}/{details[x]}/{feature}", {"labels": {}, "details": {}}) == "n/a/n/a/n/a"


def test_numeric_spec_on_a_string_detail_falls_back_to_text() -> None:
    assert render_template("{details[p]:.2f}", {"details": {"p": "low"}}) == "low"


def test_attribute_access_is_never_evaluated() -> None:
    # Even a template that slipped past validation cannot reach Python attributes.
    assert render_template("{value.__class__}", {"value": 1.0}) == "n/a"


@pytest.mark.parametrize("template", ["{rule}: {value:.3g} {op} {threshold} since {since} ({for})",
                                      "{{literal}} {labels[anything]} {details[k]!r} {command}"])
def test_valid_templates_pass(template: str) -> None:
    assert validate_template(template, "k") == template


def test_rule_label_names_become_placeholders() -> None:
    validate_template("{team}", "k", extra_labels=["team"])
    with pytest.raises(ConfigError):
        validate_template("{team}", "k")


def test_split_field_parses_like_str_format() -> None:
    assert split_field("labels[model]") == ("labels", [(False, "model")])
    assert split_field("a.b[c]") == ("a", [(True, "b"), (False, "c")])
