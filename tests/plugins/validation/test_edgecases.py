"""Edge-case detection: errors on outlier rows and feature-range slices vs overall, pure and through hooks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agent.plugin import FeedbackEvent
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.validation import names
from plugins.validation.edgecases import (
    NO_BIN,
    LabelledWindow,
    PredictionStore,
    bin_edges,
    bin_index,
    find_edge_cases,
    point_predictions,
    row_error,
)
from tests.plugins.validation.test_plugin import batch


def test_find_edge_cases_reports_the_bin_where_errors_concentrate() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, size=4000)
    edges = bin_edges(rng.uniform(0, 10, size=10_000), 10)
    errors = np.where((x >= 8) & (x < 9), rng.random(4000) < 0.6, rng.random(4000) < 0.05).astype(float)
    bins = bin_index(x, edges).reshape(-1, 1)
    report = find_edge_cases(errors, np.zeros(4000, bool), bins, ["x"], {"x": edges}, factor=2.0, min_size=30)

    assert report.labelled == 4000
    assert report.outlier_error is None
    [top, *_] = report.slices
    assert top.feature == "x" and top.slice.startswith("[8") and top.slice.endswith(")")
    assert 300 < top.size < 500
    assert top.error == pytest.approx(0.6, abs=0.1)
    assert top.ratio >= 2.0
    assert all(s.slice.startswith("[8") or s.slice.startswith("[7.9") for s in report.slices)


def test_outlier_rows_that_the_model_handles_well_are_not_edge_cases() -> None:
    rng = np.random.default_rng(1)
    errors = (rng.random(1000) < 0.1).astype(float)
    outlier = np.zeros(1000, bool)
    outlier[:100] = True
    errors[:100] = 0.0
    report = find_edge_cases(errors, outlier, np.full((1000, 0), NO_BIN, np.uint8), [], {}, min_size=30)
    assert report.outlier_size == 100 and report.outlier_error == 0.0
    assert report.slices == ()


def test_slices_smaller_than_min_size_are_not_reported() -> None:
    errors = np.array([1.0] * 5 + [0.0] * 95)
    outlier = np.array([True] * 5 + [False] * 95)
    report = find_edge_cases(errors, outlier, np.full((100, 0), NO_BIN, np.uint8), [], {}, min_size=10)
    assert report.slices == ()
    report = find_edge_cases(errors, outlier, np.full((100, 0), NO_BIN, np.uint8), [], {}, min_size=5)
    assert [(s.feature, s.slice, s.size, s.error) for s in report.slices] == [("*", "outliers", 5, 1.0)]


def test_row_error_is_misclassification_or_absolute_error() -> None:
    assert row_error(1, 1, "classification") == 0.0
    assert row_error("cat", "dog", "classification") == 1.0
    assert row_error(0.8, 1, "classification") == 0.0  # probability of the positive class
    assert row_error(0.2, 1, "classification") == 1.0
    assert row_error(2.5, 4.0, "regression") == 1.5
    assert np.isnan(row_error(None, 1, "classification"))
    assert np.isnan(row_error("x", 1.0, "regression"))


def test_point_predictions_take_argmax_of_probability_rows() -> None:
    assert point_predictions(np.array([[0.1, 0.9], [0.7, 0.3]]), 2).tolist() == [1, 0]
    assert point_predictions(np.array([1.5, 2.5]), 2).tolist() == [1.5, 2.5]
    assert point_predictions(None, 2).tolist() == [None, None]
    assert point_predictions(np.array([1.0]), 2).tolist() == [None, None]  # length mismatch


def test_prediction_store_is_bounded_and_forgets_the_oldest() -> None:
    store = PredictionStore(capacity=3, n_features=1)
    for i in range(10):
        store.add([(f"p{i}", 0)], np.array([i], dtype=object), np.array([i % 2 == 0]), np.array([[i]], np.uint8))
    assert store.get(("p0", 0)) is None
    hit = store.get(("p9", 0))
    assert hit is not None and hit[0] == 9 and hit[1] is False and hit[2].tolist() == [9]
    assert len(store._slot) <= 2 * store.capacity + 1  # the index stays bounded too


def test_labelled_window_keeps_the_latest_rows() -> None:
    w = LabelledWindow(capacity=2, n_features=0)
    for e in (1.0, 2.0, 3.0):
        w.add(e, False, np.empty(0, np.uint8))
    assert sorted(w.arrays()[0].tolist()) == [2.0, 3.0]


def run(section: dict[str, Any], model: str, task: str) -> Any:
    cfg = {"validation": section, "models": {model: {"task": task}}}
    return run_plugin("validation", config=cfg, clock=ManualClock())


def edge_signals(h: CapturedTelemetry, advance: float = 3600.0) -> list[Any]:
    h.flush()
    return [s for s in h.tick(advance=advance) if s.name == names.SIGNAL_EDGE_CASE]


def total(h: CapturedTelemetry, metric: str, **attrs: Any) -> float:
    return sum(p.value or 0 for p in h.metric_points(metric) if all(p.attributes.get(k) == v for k, v in attrs.items()))


def test_edge_case_slice_is_signalled_once_labels_arrive() -> None:
    """Seeded data where the classifier is mostly wrong for x in one reference-quantile band."""
    with run({"edge_cases": {"bins": 10, "min_size": 30, "factor": 2.0}}, "clf", "classification") as h:
        rng = np.random.default_rng(7)
        h.set_reference("clf", {"x": rng.uniform(0, 10, size=5000), "z": rng.normal(size=5000)})
        h.flush()
        n = 3000
        x = rng.uniform(0, 10, size=n)
        z = rng.normal(size=n)
        truth = rng.integers(0, 2, size=n)
        wrong = np.where((x >= 6) & (x < 7), rng.random(n) < 0.7, rng.random(n) < 0.05)
        predicted = np.where(wrong, 1 - truth, truth)
        ids = [f"id{i}" for i in range(n)]
        h.process("clf", batch({"x": x, "z": z}, outputs=predicted, ids=ids))
        events = [FeedbackEvent(f"e{i}", ids[i], "label", int(truth[i])) for i in range(n)]
        events.append(FeedbackEvent("u", "unknown", "label", 1))
        events.append(FeedbackEvent("c", ids[0], "click"))
        events.append(FeedbackEvent("r", ids[0], "label", 1, attributes={"row_index": "first"}))
        h.process_feedback("clf", events)
        signals = edge_signals(h)

        assert signals, "the bad band must be reported"
        top = max(signals, key=lambda s: s.value)
        assert top.labels["feature"] == "x" and top.labels["model"] == "clf"
        low = float(top.labels["slice"][1:].split(",")[0])
        assert 5.5 <= low <= 7.0
        assert top.value >= 2.0 and top.details["size"] >= 30
        assert all(s.labels["feature"] == "x" for s in signals)
        assert total(h, names.LABELS, **{names.ATTR_OUTCOME: names.OUTCOME_JOINED}) == n
        assert total(h, names.LABELS, **{names.ATTR_OUTCOME: names.OUTCOME_UNKNOWN_PREDICTION}) == 1
        assert total(h, names.LABELS, **{names.ATTR_OUTCOME: names.OUTCOME_INVALID}) == 1
        [summary] = h.events(names.EVENT_EDGE_CASES)
        assert summary[names.ATTR_LABELLED] == n and summary[names.ATTR_OVERALL_ERROR] < 0.2
        assert len(h.events(names.EVENT_EDGE_CASE)) == len(signals)
        # no new labels: no repeated report at the next window
        assert edge_signals(h) == []
        assert h.plugin_errors == 0


def test_outlier_rows_where_a_regressor_fails_form_an_edge_case() -> None:
    with run({"edge_cases": {"min_size": 20}}, "reg", "regression") as h:
        rng = np.random.default_rng(3)
        h.set_reference("reg", {"x": rng.normal(size=5000)})
        h.flush()
        x = rng.normal(size=1000)
        x[:50] = rng.uniform(8, 12, size=50)  # far outside the reference: outliers
        truth = 2 * x
        pred = truth + rng.normal(0, 0.1, size=1000)
        pred[:50] += 5.0  # and the model is badly off on them
        ids = [f"r{i}" for i in range(1000)]
        h.process("reg", batch({"x": x}, outputs=pred, ids=ids))
        h.process_feedback("reg", [FeedbackEvent(f"e{i}", ids[i], "label", float(truth[i])) for i in range(1000)])
        [out] = [s for s in edge_signals(h) if s.labels["slice"] == "outliers"]
        # the 50 planted rows plus the few ordinary rows beyond the reference's 0.1%/99.9% quantiles
        assert out.labels["feature"] == "*" and 50 <= out.details["size"] <= 60
        assert out.details["error"] > 4.0 > out.details["overall_error"]
        assert out.value >= 2.0


@pytest.mark.parametrize("window", [{"type": "time", "seconds": 60}, {"type": "count", "size": 1000, "seconds": 60}])
def test_labels_arriving_after_traffic_stopped_are_still_reported(window: dict[str, Any]) -> None:
    with run({"window": window, "edge_cases": {"min_size": 5}}, "late", "classification") as h:
        h.set_reference("late", {"x": np.arange(100, dtype=float)})
        h.flush()
        x = np.arange(100, dtype=float)
        ids = [f"q{i}" for i in range(100)]
        h.process("late", batch({"x": x}, outputs=(x >= 90).astype(float), ids=ids))
        assert edge_signals(h) == []  # the rows' window closes (time) or stays open (count), before any label
        h.process_feedback("late", [FeedbackEvent(f"e{i}", ids[i], "label", 0.0) for i in range(100)])
        assert edge_signals(h, advance=30) == []  # reported once window.seconds have passed
        signals = edge_signals(h, advance=30)
        assert [s.labels["slice"] for s in signals] == ["[89.1, inf)"]
        assert signals[0].details == {"size": 10, "error": 1.0, "overall_error": 0.1}
