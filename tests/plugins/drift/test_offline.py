"""Offline comparison behind ``infersight drift``: results, text table and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from plugins.drift import compare, format_table, report_to_json


def _data(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    return {
        "a": rng.normal(shift, 1, n),
        "b": rng.normal(0, 1, n),
        "c": rng.choice(np.array(["x", "y"], dtype=object), n),
    }


def test_compare_flags_the_shifted_feature_and_renders_table_and_json() -> None:
    rng = np.random.default_rng(0)
    report = compare(_data(rng, 1000), _data(rng, 800, shift=0.8))
    assert report.drifted
    by = {r.feature: r for r in report.results}
    assert by["a"].drifted and not by["b"].drifted
    assert report.multivariate is not None and report.multivariate.test == "mmd"
    text = format_table(report)
    assert "DRIFT" in text and "verdict: drift in a" in text
    payload = report_to_json(report)
    json.dumps(payload)  # nan/inf are replaced, so this is valid JSON
    assert payload["drifted"] is True
    assert payload["summaries"]["reference"]["a"]["count"] == 1000


def test_compare_without_drift_and_with_chosen_tests_and_features() -> None:
    rng = np.random.default_rng(1)
    report = compare(_data(rng, 600), _data(rng, 600), features=["a", "b"], tests=["cvm", "lsdd"])
    assert not report.drifted
    assert {r.test for r in report.results} == {"cvm", "lsdd"}
    assert "verdict: no drift" in format_table(report)


def test_compare_rejects_unknown_tests_and_features() -> None:
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="unknown test 'tt'"):
        compare(_data(rng, 50), _data(rng, 50), tests=["tt"])
    with pytest.raises(ValueError, match="zz"):
        compare(_data(rng, 50), _data(rng, 50), features=["zz"])
