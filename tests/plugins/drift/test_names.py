"""Every emitted name is a constant of ``plugins/drift/names.py``; the per-window event has its documented layout."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from agent import semconv
from agent.testing import ManualClock, run_plugin
from plugins.drift import names
from tests.plugins.drift.data import batch, columns

PACKAGE = Path(names.__file__).parent
NAME_VALUES = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
RESULT_KEYS = {"feature", "test", "statistic", "p_value", "corrected_p_value", "effect_name", "effect_size",
               "threshold", "null_effect", "corrected_effect", "level", "verdict", "significant", "drifted",
               "skipped", "n_reference", "n_window", "effects", "summary"}


def test_no_ml_name_literal_outside_names_py() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "names.py":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""["']ml\.""", line):
                offenders.append(f"{path.name}:{lineno}: {line.strip()}")
    assert not offenders, offenders


def test_no_private_core_import_in_the_package() -> None:
    offenders = [f"{p.name}: {line.strip()}" for p in sorted(PACKAGE.glob("*.py"))
                 for line in p.read_text().splitlines() if re.search(r"\bagent\._", line)]
    assert not offenders, offenders


def _shifted_run() -> tuple[list[dict[str, Any]], list[Any]]:
    rng = np.random.default_rng(0)
    config = {"drift": {"window": {"size": 200}, "min_window": 50, "permutations": 30, "reference_from_live": 200},
              "models": {"fraud": {"version": "3", "task": "regression"}}}
    with run_plugin("drift", config=config, clock=ManualClock(start=1_000.0)) as h:
        h.set_reference("fraud", columns(rng, 600))
        h.process("fraud", batch(columns(rng, 200), outputs=rng.normal(size=200)))
        h.tick()  # processed at the clock's start
        h.tick(advance=5)
        cur = columns(rng, 200, shift=1.0)
        del cur["age"]
        h.process("fraud", batch(cur, outputs=rng.normal(2.0, 1.0, size=200)))
        h.tick()
        events = [e for e in h.events() if e["event"].startswith("ml.drift")]
        points = [p for name in (names.STATISTIC, names.P_VALUE, names.EFFECT_SIZE, names.CORRECTED_EFFECT,
                                 names.DETECTED, names.SUMMARY,
                                 names.SKIPPED, names.BAD_VALUES, names.WINDOWS, names.ROWS_RECEIVED,
                                 names.ROWS_TESTED, names.ROWS_DROPPED) for p in h.metric_points(name)]
        return events, points


def test_every_emitted_event_metric_and_attribute_key_is_a_namespaced_constant() -> None:
    events, points = _shifted_run()
    assert {e["event"] for e in events} == {names.EVENT_REFERENCE, names.EVENT_WINDOW, names.EVENT_DETECTED,
                                            names.EVENT_SCHEMA}
    keys = {k for e in events for k in e if k != "event"} | {k for p in points for k in p.attributes}
    assert keys <= NAME_VALUES
    core = {semconv.ATTR_MODEL_NAME, semconv.ATTR_MODEL_VERSION, semconv.ATTR_FEATURE_NAME}
    assert all(k.startswith("ml.drift.") or k in core for k in keys), keys


def test_one_window_event_per_closed_window_with_every_result_as_json() -> None:
    events, _ = _shifted_run()
    windows = [e for e in events if e["event"] == names.EVENT_WINDOW]
    # window 1: inputs (outputs became the output reference); window 2: inputs and outputs
    assert [(e[names.ATTR_STREAM], e[names.ATTR_WINDOW_NUMBER]) for e in windows] == [
        (names.STREAM_INPUTS, 1), (names.STREAM_INPUTS, 2), (names.STREAM_OUTPUTS, 2)]
    first, second, outputs = windows
    assert (first[names.ATTR_WINDOW_START], first[names.ATTR_WINDOW_END]) == (1_000.0, 1_000.0)
    assert (second[names.ATTR_WINDOW_START], second[names.ATTR_WINDOW_END]) == (1_005.0, 1_005.0)
    assert second[names.ATTR_MODEL] == "fraud" and second[names.ATTR_VERSION] == "3"
    assert (second[names.ATTR_WINDOW_ROWS], second[names.ATTR_WINDOW_ROWS_SEEN]) == (200, 200)
    assert first[names.ATTR_DRIFTED] is False and first[names.ATTR_DRIFTED_FEATURES] == ()
    assert second[names.ATTR_DRIFTED] is True and "amount" in second[names.ATTR_DRIFTED_FEATURES]
    assert outputs[names.ATTR_DRIFTED_FEATURES] == ("output",)

    results = json.loads(second[names.ATTR_RESULTS])
    assert [r["feature"] for r in results] == ["amount", "country", "multivariate"]  # age is missing
    assert all(set(r) == RESULT_KEYS for r in results)
    amount = results[0]
    assert amount["test"] == "ks" and amount["drifted"] is True and amount["skipped"] is None
    assert amount["p_value"] < 1e-6 and amount["effect_name"] == "wasserstein_norm" and amount["effect_size"] > 0.5
    assert amount["n_window"] == 200 and amount["n_reference"] == 600
    assert set(amount["effects"]) == {"wasserstein_norm", "psi", "js"}
    assert amount["verdict"] == "drift" and amount["level"] == 0.05
    assert 0 < amount["null_effect"] < amount["corrected_effect"] < amount["effect_size"]
    assert amount["summary"]["count"] == 200 and 0.5 < amount["summary"]["mean"] < 1.5
    assert {"p5", "p25", "median", "p75", "p95", "min", "max"} <= set(amount["summary"])
    country = results[1]
    assert country["test"] == "chi2" and set(country["summary"]["frequencies"]) == {"fr", "de", "us"}
    assert country["effect_name"] == "tvd" and country["verdict"] in ("not_significant", "below_threshold")
    assert results[2]["summary"] is None  # the joint test has no one-feature summary
    changes = json.loads(second[names.ATTR_SCHEMA_CHANGES])
    assert changes == [{"kind": "feature_missing", "feature": "age", "count": 0, "examples": []}]
    # every number is finite or null: strict JSON, readable by any consumer
    assert all(isinstance(v, bool | str | type(None)) or math.isfinite(v)
               for r in results for v in r.values() if not isinstance(v, dict))


def test_the_reference_event_carries_the_reference_summaries() -> None:
    events, _ = _shifted_run()
    refs = {e[names.ATTR_STREAM]: e for e in events if e["event"] == names.EVENT_REFERENCE}
    assert set(refs) == {names.STREAM_INPUTS, names.STREAM_OUTPUTS}
    inputs = refs[names.STREAM_INPUTS]
    assert inputs[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_SET and inputs[names.ATTR_REFERENCE_ROWS] == 600
    assert inputs[names.ATTR_FEATURES] == ("age", "amount", "country")
    summaries = json.loads(inputs[names.ATTR_SUMMARIES])
    assert summaries["amount"]["count"] == 600 and "frequencies" in summaries["country"]
    assert refs[names.STREAM_OUTPUTS][names.ATTR_REFERENCE_SOURCE] == names.SOURCE_LIVE
