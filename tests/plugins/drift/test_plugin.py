"""The live drift plugin on the real host (``agent.testing.run_plugin``): windows, signals, metrics, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.plugin import ConfigError, FeedbackEvent, RecordBatch, Signal
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.drift import names
from tests.plugins.drift.data import batch, columns, rows

SMALL = {"window": {"size": 200}, "min_window": 50, "permutations": 30}
FRAUD = {"fraud": {"version": "3", "task": "classification"}}


def drift_signals(signals: list[Signal], name: str) -> dict[str, Signal]:
    """The signals called ``name``, by feature label."""
    return {s.labels[names.LABEL_FEATURE]: s for s in signals if s.name == name}


def scores(rng: np.random.Generator, n: int) -> list[float]:
    """A classifier's score per row (a batch call's outputs)."""
    return [float(p) for p in rng.beta(2, 8, n)]


def metric(h: CapturedTelemetry, name: str, key: str) -> dict[str, float]:
    """A metric's current points summed by the value of one attribute."""
    out: dict[str, float] = {}
    for p in h.metric_points(name):
        k = str(p.attributes.get(key))
        out[k] = out.get(k, 0.0) + float(p.value or 0.0)
    return out


def severities(h: CapturedTelemetry, event: str) -> set[str]:
    """Severity texts of the log records named ``event``."""
    out = set()
    for rec in h.log_records():
        lr: Any = getattr(rec, "log_record", rec)
        if str(lr.body) == event:
            out.add(str(lr.severity_text))
    return out


def test_count_window_detects_a_shift_with_signals_metrics_and_info_logs() -> None:
    rng = np.random.default_rng(0)
    with run_plugin("drift", config={"drift": SMALL, "models": FRAUD}, clock=ManualClock()) as h:
        h.set_reference("fraud", columns(rng, 1000))
        h.feed("fraud", rows(columns(rng, 150, shift=1.0)), scores(rng, 150))
        h.tick()
        assert h.plugin("drift").latest("fraud") == ()  # window not full yet
        h.feed("fraud", rows(columns(rng, 50, shift=1.0)), scores(rng, 50))
        signals = h.tick()
        latest = {r.feature: r for r in h.plugin("drift").latest("fraud")}
        assert latest["amount"].drifted and not latest["age"].drifted
        assert latest["amount"].n_window == 200
        detected = drift_signals(signals, names.SIGNAL_DETECTED)
        assert detected["amount"].value == 1.0 and detected["age"].value == 0.0
        assert detected["amount"].labels == {"model": "fraud", "version": "3", "feature": "amount", "test": "ks"}
        assert detected["amount"].details["p_value"] < 1e-6 and detected["amount"].details["effect_size"] > 0.5
        assert not drift_signals(h.tick(), names.SIGNAL_DETECTED)  # only new signals
        logs = h.events(names.EVENT_DETECTED)
        assert {e[names.ATTR_FEATURE] for e in logs} == {f for f, r in latest.items() if r.drifted}
        amount = next(e for e in logs if e[names.ATTR_FEATURE] == "amount")
        assert amount[names.ATTR_MODEL] == "fraud" and amount[names.ATTR_VERSION] == "3"
        assert amount[names.ATTR_TEST] == "ks" and amount[names.ATTR_P_VALUE] < 1e-6
        assert amount[names.ATTR_WINDOW_NUMBER] == 1 and amount[names.ATTR_WINDOW_ROWS] == 200
        assert severities(h, names.EVENT_DETECTED) == {"INFO"}  # findings go to the exported log, not stderr
        det = metric(h, names.DETECTED, names.ATTR_FEATURE)
        assert det["amount"] == 1.0 and det["age"] == 0.0
        assert h.metric_points(names.P_VALUE) and h.metric_points(names.EFFECT_SIZE)
        assert h.metric_points(names.STATISTIC)
        assert h.plugin_errors == 0


def test_time_window_closes_on_the_agent_clock_and_memory_stays_bounded() -> None:
    rng = np.random.default_rng(1)
    cfg = {"window": {"type": "time", "seconds": 60, "size": 300}, "min_window": 50, "multivariate": False}
    with run_plugin("drift", config={"drift": cfg}, clock=ManualClock()) as h:
        h.set_reference("fraud", columns(rng, 500))
        for _ in range(40):
            h.process("fraud", batch(columns(rng, 500)))
        h.tick()  # every row arrived at the clock's start
        assert not drift_signals(h.tick(advance=30), names.SIGNAL_DETECTED)
        assert drift_signals(h.tick(advance=31), names.SIGNAL_DETECTED)
        assert {r.n_window for r in h.plugin("drift").latest("fraud")} == {300}
        dropped = metric(h, names.ROWS_DROPPED, names.ATTR_REASON)
        assert dropped == {names.DROP_SAMPLED_OUT: 20_000 - 300}  # a uniform sample of 300 rows was tested
        assert metric(h, names.ROWS_TESTED, names.ATTR_STREAM) == {names.STREAM_INPUTS: 300}


def test_the_first_live_rows_become_the_reference_when_none_is_set() -> None:
    rng = np.random.default_rng(2)
    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 400}}) as h:
        h.process("fraud", batch(columns(rng, 300)))
        h.process("fraud", batch({k: np.concatenate([a, b]) for (k, a), b in zip(
            columns(rng, 100).items(), columns(rng, 200, shift=2.0).values(), strict=True)}))
        h.tick()
        assert {r.feature for r in h.plugin("drift").latest("fraud") if r.drifted} >= {"amount"}
        ref = h.events(names.EVENT_REFERENCE)
        assert [(e[names.ATTR_STREAM], e[names.ATTR_REFERENCE_SOURCE], e[names.ATTR_REFERENCE_ROWS]) for e in ref] \
            == [(names.STREAM_INPUTS, names.SOURCE_LIVE, 400)]
        assert metric(h, names.ROWS_DROPPED, names.ATTR_REASON) == {names.DROP_REFERENCE: 400}
        assert metric(h, names.ROWS_TESTED, names.ATTR_STREAM) == {names.STREAM_INPUTS: 200}


def test_rows_waiting_for_a_live_reference_are_tested_once_a_reference_is_set() -> None:
    rng = np.random.default_rng(3)
    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 1000}}) as h:
        h.process("fraud", batch(columns(rng, 150, shift=2.0)))
        h.set_reference("fraud", columns(rng, 600))
        h.process("fraud", batch(columns(rng, 50, shift=2.0)))
        h.tick()
        assert next(r for r in h.plugin("drift").latest("fraud") if r.feature == "amount").drifted
        assert metric(h, names.ROWS_TESTED, names.ATTR_STREAM) == {names.STREAM_INPUTS: 200}
        assert h.metric_points(names.ROWS_DROPPED) == []


def test_schema_changes_are_their_own_signals_and_info_events() -> None:
    rng = np.random.default_rng(3)
    with run_plugin("drift", config={"drift": {**SMALL, "multivariate": "off"}}) as h:
        h.set_reference("fraud", columns(rng, 600))
        cur = columns(rng, 200)
        del cur["age"]
        cur["new_feature"] = rng.normal(size=200)
        cur["country"][:7] = "zz"
        h.process("fraud", batch(cur))
        signals = h.tick()
        by_name = {(s.name, s.labels[names.LABEL_FEATURE]): s for s in signals if s.name.startswith("ml.drift")}
        assert (names.SIGNAL_FEATURE_MISSING, "age") in by_name
        assert (names.SIGNAL_FEATURE_ADDED, "new_feature") in by_name
        new_cat = by_name[(names.SIGNAL_NEW_CATEGORY, "country")]
        assert new_cat.value == 7 and new_cat.details["examples"] == ["zz"]
        changes = {(e[names.ATTR_FEATURE], e[names.ATTR_CHANGE]): e for e in h.events(names.EVENT_SCHEMA)}
        assert set(changes) == {("age", "feature_missing"), ("new_feature", "feature_added"),
                                ("country", "new_category")}
        assert changes[("country", "new_category")][names.ATTR_EXAMPLES] == ("zz",)
        assert severities(h, names.EVENT_SCHEMA) == {"INFO"}


def test_output_drift_new_output_class_and_regression_range() -> None:
    rng = np.random.default_rng(4)
    models = {"fraud": {"task": "classification"}, "price": {"task": "regression"}}
    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 300}, "models": models}) as h:
        h.set_reference("fraud", columns(rng, 600))
        classes = np.array(["ok", "fraud", "review"], dtype=object)
        h.process("fraud", batch(columns(rng, 300), outputs=rng.choice(classes[:2], 300, p=[0.9, 0.1])))
        h.process("fraud", batch(columns(rng, 100), outputs=rng.choice(classes, 100, p=[0.5, 0.3, 0.2])))
        signals = h.tick()
        assert any(s.name == names.SIGNAL_NEW_OUTPUT_CLASS and s.details["examples"] == ["review"] for s in signals)
        out = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "output")
        assert out.drifted and out.test == "chi2" and out.n_window == 100

        h.set_reference("price", columns(rng, 600))
        h.process("price", batch(columns(rng, 300), outputs=rng.uniform(0, 1, 300)))
        h.process("price", batch(columns(rng, 100), outputs=rng.uniform(0.5, 1.5, 100)))
        sig = [s for s in h.tick() if s.name == names.SIGNAL_OUTPUT_OUT_OF_RANGE]
        assert len(sig) == 1 and 0.3 < sig[0].value < 0.7


def test_a_float_classifier_output_is_a_number_not_a_category() -> None:
    rng = np.random.default_rng(5)
    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 300}, "models": FRAUD}) as h:
        h.set_reference("fraud", columns(rng, 600))
        for _ in range(4):  # 300 outputs become the output reference, then two windows of 200
            h.feed("fraud", rows(columns(rng, 125)), scores(rng, 125))
        signals = h.tick()
        assert h.events(names.EVENT_SCHEMA) == []  # each new score is not an "unseen category"
        assert not [s for s in signals if s.name in (names.SIGNAL_NEW_OUTPUT_CLASS, names.SIGNAL_NEW_CATEGORY)]
        out = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "output")
        assert out.test == "ks" and not out.drifted


def test_probability_vector_outputs_use_the_multivariate_test() -> None:
    rng = np.random.default_rng(5)
    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 300}}) as h:
        h.set_reference("fraud", columns(rng, 600))
        h.feed("fraud", rows(columns(rng, 300)), rng.dirichlet([8, 2], 300))
        h.feed("fraud", rows(columns(rng, 100)), rng.dirichlet([2, 8], 100))
        h.tick()
        out = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "output")
        assert out.test == "mmd" and out.drifted


def test_label_feedback_builds_a_label_drift_window() -> None:
    rng = np.random.default_rng(6)

    def labels(p: float, n: int) -> list[FeedbackEvent]:
        return [FeedbackEvent(event_id=f"e{i}", prediction_id=f"p{i}", kind="label", value=int(v))
                for i, v in enumerate(rng.random(n) < p)]

    with run_plugin("drift", config={"drift": {**SMALL, "reference_from_live": 300}}) as h:
        h.process_feedback("fraud", labels(0.1, 300))
        h.process_feedback("fraud", [FeedbackEvent(event_id="c", prediction_id="p", kind="click")])
        h.process_feedback("fraud", labels(0.5, 200))
        h.tick()
        label = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "label")
        assert label.drifted and label.n_window == 200
        assert metric(h, names.ROWS_RECEIVED, names.ATTR_STREAM) == {names.STREAM_LABELS: 500}
        assert metric(h, names.ROWS_TESTED, names.ATTR_STREAM) == {names.STREAM_LABELS: 200}
        assert metric(h, names.ROWS_DROPPED, names.ATTR_REASON) == {names.DROP_REFERENCE: 300}


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda c: c["amount"].__setitem__(slice(0, 20), np.nan), None),
        (lambda c: c["amount"].__setitem__(slice(0, 20), np.inf), names.BAD_NON_FINITE),
        (lambda c: c["age"].__setitem__(slice(None), 3.0), names.BAD_CONSTANT_WINDOW),
    ],
)
def test_bad_values_are_counted_and_the_window_still_tested(spoil: Any, reason: str | None) -> None:
    rng = np.random.default_rng(7)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 600))
        cur = columns(rng, 200)
        spoil(cur)
        h.process("fraud", batch(cur))
        h.tick()
        assert h.plugin("drift").latest("fraud")
        bad = metric(h, names.BAD_VALUES, names.ATTR_REASON)
        assert (reason in bad) if reason else bad == {}
        assert h.plugin_errors == 0


def test_strings_in_a_numeric_feature_are_counted_and_tested_as_missing() -> None:
    rng = np.random.default_rng(8)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 600))
        cur = columns(rng, 200)
        amount = cur["amount"].astype(object)
        amount[:5] = "oops"
        cur["amount"] = amount
        h.process("fraud", batch(cur))
        h.tick()
        assert metric(h, names.BAD_VALUES, names.ATTR_REASON) == {names.BAD_NON_NUMERIC: 5}
        amount_result = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "amount")
        assert amount_result.skipped is None and amount_result.n_window == 200


def test_a_window_below_the_minimum_gives_skipped_results() -> None:
    rng = np.random.default_rng(9)
    with run_plugin("drift", config={"drift": {"window": {"type": "time", "seconds": 10}, "min_window": 100}},
                    clock=ManualClock()) as h:
        h.set_reference("fraud", columns(rng, 600))
        h.process("fraud", batch(columns(rng, 30)))
        h.tick()
        h.tick(advance=11)
        latest = h.plugin("drift").latest("fraud")
        assert latest and all(r.skipped == names.SKIP_WINDOW_TOO_SMALL for r in latest)
        assert metric(h, names.SKIPPED, names.ATTR_REASON) == {names.SKIP_WINDOW_TOO_SMALL: 4}  # 3 + joint


def test_a_malformed_batch_is_dropped_and_counted_as_a_whole() -> None:
    rng = np.random.default_rng(1)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 600))
        h.process("fraud", RecordBatch(prediction_ids=("a", "b"), row_index=np.zeros(2), timestamps=np.zeros(2),
                                       columns={"amount": np.zeros(3)}))
        h.tick()
        assert metric(h, names.ROWS_DROPPED, names.ATTR_REASON) == {names.DROP_MALFORMED: 2}
        assert h.plugin_errors == 0


def test_an_unexpected_failure_reaches_the_host_and_is_counted_there() -> None:
    rng = np.random.default_rng(1)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 600))
        broken: Any = None  # not a mapping of columns: a bug upstream, not bad data
        h.process("fraud", RecordBatch(prediction_ids=("a",), row_index=np.zeros(1), timestamps=np.zeros(1),
                                       columns=broken))
        h.tick()
        assert h.plugin_errors == 1
        assert h.events(names.EVENT_WINDOW) == []
        h.process("fraud", batch(columns(rng, 200)))  # the plugin goes on with the next batch
        h.tick()
        assert len(h.events(names.EVENT_WINDOW)) == 1


def test_the_reference_comes_from_models_config_and_per_model_overrides_apply(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    path = tmp_path / "ref.npz"
    ref = columns(rng, 600)
    np.savez(path, amount=ref["amount"], age=ref["age"])
    config = {"drift": {**SMALL, "models": {"fraud": {"window": {"size": 100}}}},
              "models": {"fraud": {"reference": str(path)}}}
    with run_plugin("drift", config=config) as h:
        plugin = h.plugin("drift")
        assert plugin.config_for("fraud").window.size == 100
        assert plugin.config_for("other").window.size == 200
        cur = columns(rng, 100, shift=1.5)
        del cur["country"]
        h.process("fraud", batch(cur))
        h.tick()
        assert any(r.feature == "amount" and r.drifted for r in plugin.latest("fraud"))
        assert [e[names.ATTR_REFERENCE_SOURCE] for e in h.events(names.EVENT_REFERENCE)] == [names.SOURCE_SET]


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        ({"window": {"size": 0}}, "drift.window.size", "positive integer"),
        ({"window": {"type": "hourly"}}, "drift.window.type", "'count', 'time'"),
        ({"alpha": 1.5}, "drift.alpha", "1.5"),
        ({"correction": "holm"}, "drift.correction", "'bonferroni'"),
        ({"tests": {"numeric": "t"}}, "drift.tests.numeric", "'ks', 'cvm'"),
        ({"thresholds": {"numeric": -1}}, "drift.thresholds.numeric", ">= 0"),
        ({"models": {"m": {"permutations": "many"}}}, "drift.models.m.permutations", "positive integer"),
        ({"feature_types": {"x": "text"}}, "drift.feature_types.x", "'numeric'"),
        ({"windw": {}}, "drift.windw", "did you mean 'window'"),
        ({"reference": "ref.csv"}, "drift.reference", "models.NAME.reference"),
        ({"models": {"m": {"reference": "ref.csv"}}}, "drift.models.m.reference", "models.NAME.reference"),
        ({"window_size": 500}, "drift.window_size", "window.size"),
        ({"models": {"fraud": {"enabled": "no"}}}, "drift.models.fraud.enabled", "true or false"),
    ],
)
def test_bad_config_fails_init_naming_the_key(section: dict[str, Any], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info, run_plugin("drift", config={"drift": section}):
        pass
    assert info.value.key == key
    assert expected in str(info.value)


def test_reference_and_window_summaries_are_both_exported() -> None:
    rng = np.random.default_rng(11)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        ref = columns(rng, 1000)
        h.set_reference("fraud", ref)
        h.process("fraud", batch(columns(rng, 200, shift=2.0)))
        h.tick()
        points = h.metric_points(names.SUMMARY)
        means = {(p.attributes[names.ATTR_SAMPLE], p.attributes[names.ATTR_FEATURE]): float(p.value or 0.0)
                 for p in points if p.attributes[names.ATTR_STAT] == "mean"}
        assert means[(names.SAMPLE_REFERENCE, "amount")] == pytest.approx(float(np.mean(ref["amount"])))
        assert means[(names.SAMPLE_WINDOW, "amount")] > means[(names.SAMPLE_REFERENCE, "amount")] + 1.5
        freqs = {p.attributes[names.ATTR_STAT] for p in points
                 if p.attributes[names.ATTR_SAMPLE] == names.SAMPLE_REFERENCE
                 and p.attributes[names.ATTR_FEATURE] == "country"}
        assert {"freq:fr", "freq:de", "freq:us"} <= freqs


def test_a_model_can_be_switched_off() -> None:
    rng = np.random.default_rng(12)
    with run_plugin("drift", config={"drift": {**SMALL, "models": {"fraud": {"enabled": False}}}}) as h:
        h.set_reference("fraud", columns(rng, 500))
        h.process("fraud", batch(columns(rng, 400, shift=3.0)))
        assert not drift_signals(h.tick(), names.SIGNAL_DETECTED)
        assert h.metric_points(names.DETECTED) == [] and h.metric_points(names.ROWS_RECEIVED) == []
        assert h.events(names.EVENT_WINDOW) == []


def test_a_batch_closing_many_windows_has_every_window_tested_in_order() -> None:
    # The window tests run on the agent's jobs thread: a burst of windows waits there, none lost.
    rng = np.random.default_rng(5)
    with run_plugin("drift", config={"drift": SMALL}, clock=ManualClock()) as h:
        h.set_reference("fraud", columns(rng, 1000))
        h.process("fraud", batch(columns(rng, 200 * 12)))  # one batch, twelve windows
        h.tick()
        numbers = [int(e[names.ATTR_WINDOW_NUMBER]) for e in h.events(names.EVENT_WINDOW)
                   if e[names.ATTR_STREAM] == names.STREAM_INPUTS]
        assert numbers == list(range(1, 13))
        assert metric(h, names.ROWS_TESTED, names.ATTR_STREAM) == {names.STREAM_INPUTS: 2400}
        assert names.DROP_BACKLOG not in metric(h, names.ROWS_DROPPED, names.ATTR_REASON)
        assert h.plugin_errors == 0
