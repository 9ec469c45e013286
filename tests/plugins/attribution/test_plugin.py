"""The attribution plugin on the real host: rows captured through the hot path (or handed over as a
RecordBatch), labels as feedback, and what comes out (Signals, metrics, events)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp

import agent
from agent.plugin import ConfigError, FeedbackEvent, RecordBatch
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.attribution import (
    clear,
    make_plugin,
    names,
    set_explainer,
    set_predictor,
    set_reference_attributions,
)

FEATURES = ["a", "b", "c"]
BEFORE = np.array([2.0, 0.5, 0.0])  # the model relies on a
AFTER = np.array([0.5, 2.0, 0.0])  # ... then on b: same output distribution, same inputs


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    clear()
    yield
    clear()


class Model:
    """A linear scorer whose coefficients can be swapped under the application's feet."""

    def __init__(self) -> None:
        self.coef = BEFORE.copy()

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X) @ self.coef

    def explain(self, X: np.ndarray) -> np.ndarray:
        """Exact attributions of the served coefficients (training means are 0)."""
        return np.asarray(X) * self.coef


def run(section: dict[str, Any] | None = None, *, task: str = "regression", **overrides: Any) -> Any:
    cfg = {"attribution": {"window": {"type": "count", "size": 500}, **(section or {})},
           "models": {"credit": {"feature_names": FEATURES, "task": task}}}
    return run_plugin(make_plugin, config=cfg, clock=ManualClock(), **overrides)


def by_name(signals: list[Any], name: str) -> list[Any]:
    return [s for s in signals if s.name == name]


def total(h: CapturedTelemetry, metric: str, **attrs: Any) -> float:
    return sum(p.value or 0 for p in h.metric_points(metric) if all(p.attributes.get(k) == v for k, v in attrs.items()))


def test_reliance_moving_between_features_is_flagged_though_no_marginal_moves() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(size=(2000, 3))
    model = Model()
    set_explainer("credit", model.explain)
    with run() as h:
        h.set_reference("credit", {f: reference[:, j] for j, f in enumerate(FEATURES)})
        same = rng.normal(size=(500, 3))
        h.feed("credit", same, model.score(same))
        first = h.tick()
        model.coef = AFTER.copy()  # a silent swap: a retrained artefact deployed under the same name
        moved = rng.normal(size=(500, 3))
        h.feed("credit", moved, model.score(moved))
        second = h.tick()

        [ref_event] = h.events(names.EVENT_REFERENCE)
        assert ref_event[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_EXPLAINER
        assert ref_event[names.ATTR_REFERENCE_ROWS] == 2000
        [d1] = by_name(first, names.SIGNAL_DETECTED)
        [d2] = by_name(second, names.SIGNAL_DETECTED)
        assert d1.value == 0.0 and d2.value == 1.0
        assert dict(d2.labels) == {"model": "credit", "version": "", "method": "attribution"}
        [dist1] = by_name(first, names.SIGNAL_DISTANCE)
        [dist2] = by_name(second, names.SIGNAL_DISTANCE)
        assert dist1.value < 0.05 and dist2.value > 0.5  # shares go (0.8, 0.2, 0) -> (0.2, 0.8, 0)
        [rho2] = by_name(second, names.SIGNAL_RANK_CORRELATION)
        assert rho2.value == pytest.approx(0.5)  # a and b swap places, c stays last
        assert [t["feature"] for t in d2.details["top"]][:2] == ["b", "a"]
        [drift] = h.events(names.EVENT_DRIFT)
        assert drift[names.ATTR_DRIFTED] is True and drift[names.ATTR_WINDOW_ROWS] == 500
        gauge = {p.attributes[names.ATTR_METHOD]: p.value for p in h.metric_points(names.DETECTED)}
        assert gauge == {"attribution": 1.0}
        assert total(h, names.ROWS, **{names.ATTR_SOURCE: names.SOURCE_EXPLAINER}) == 1000
        assert h.plugin_errors == 0

    # ... while a two-sample KS test on each input marginal, and on the output, sees nothing.
    for j in range(3):
        assert ks_2samp(reference[:, j], moved[:, j]).pvalue > 0.05
        assert ks_2samp(same[:, j], moved[:, j]).pvalue > 0.05
    assert ks_2samp(reference @ BEFORE, moved @ AFTER).pvalue > 0.05


def test_an_explainer_registered_after_the_reference_explains_the_kept_reference_rows() -> None:
    rng = np.random.default_rng(4)
    model = Model()
    with run() as h:
        h.set_reference("credit", {f: rng.normal(size=3000) for f in FEATURES})
        h.flush()
        set_explainer("credit", model.explain)  # after the reference: it is explained on the next batch
        X = rng.normal(size=500)[:, None] * np.ones(3)
        h.feed("credit", X, model.score(X))
        [detected] = by_name(h.tick(), names.SIGNAL_DETECTED)
        [ref] = h.events(names.EVENT_REFERENCE)
        assert ref[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_EXPLAINER
        assert ref[names.ATTR_REFERENCE_ROWS] == 2000  # reference_max_rows of the 3000
        assert detected.value == 0.0


def test_attributions_carried_by_the_output_with_the_first_window_as_reference() -> None:
    rng = np.random.default_rng(5)

    def call(h: CapturedTelemetry, coef: np.ndarray) -> None:
        X = rng.normal(size=(500, 3))
        rows = [dict(zip(FEATURES, r, strict=True)) for r in X.tolist()]
        outputs = [{"score": float(r @ coef), "attributions": dict(zip(FEATURES, (r * coef).tolist(), strict=True))}
                   for r in X]
        h.feed("credit", rows, outputs)

    with run() as h:
        call(h, BEFORE)
        assert by_name(h.tick(), names.SIGNAL_DETECTED) == []  # the first window becomes the reference
        [ref] = h.events(names.EVENT_REFERENCE)
        assert ref[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_FIRST_WINDOW
        call(h, BEFORE)
        [same] = by_name(h.tick(), names.SIGNAL_DETECTED)
        call(h, AFTER)
        [moved] = by_name(h.tick(), names.SIGNAL_DETECTED)
        assert (same.value, moved.value) == (0.0, 1.0)
        assert total(h, names.ROWS, **{names.ATTR_SOURCE: names.SOURCE_OUTPUT}) == 1500


def test_explicit_reference_attributions_win_and_can_flag_a_rank_change() -> None:
    set_reference_attributions("credit", {"a": 1.6, "b": 0.4, "c": 0.0})
    model = Model()
    set_explainer("credit", model.explain)
    rng = np.random.default_rng(2)
    with run({"max_distance": 0.9, "min_rank_correlation": 0.6}) as h:
        h.set_reference("credit", {f: rng.normal(size=300) for f in FEATURES})  # explicit values still win
        model.coef = AFTER.copy()
        X = rng.normal(size=(500, 3))
        h.feed("credit", X, model.score(X))
        [detected] = by_name(h.tick(), names.SIGNAL_DETECTED)
        [ref] = h.events(names.EVENT_REFERENCE)
        assert ref[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_EXPLICIT
        assert detected.value == 1.0 and detected.details["max_distance"] == 0.9  # by rank: ρ = 0.5 <= 0.6


def test_permutation_importance_on_labelled_windows_flags_the_same_move() -> None:
    rng = np.random.default_rng(3)
    model = Model()
    set_predictor("credit", model.score)
    section = {"label_column": "label", "permutation": {"rows": 400, "repeats": 2}}

    def labelled(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, 3))
        return X, X @ model.coef + rng.normal(0, 0.1, size=n)

    def serve(h: CapturedTelemetry) -> list[Any]:
        X, y = labelled(400)
        pid = h.feed("credit", X, model.score(X))
        assert pid is not None
        h.process_feedback("credit", [FeedbackEvent(f"{pid}-{i}", pid, "label", float(v), model="credit",
                                                     attributes={"row_index": i}) for i, v in enumerate(y)])
        return by_name(h.tick(), names.SIGNAL_DETECTED)

    with run(section) as h:
        X, y = labelled(1000)
        h.set_reference("credit", {**{f: X[:, j] for j, f in enumerate(FEATURES)}, "label": y})
        [same] = serve(h)
        model.coef = AFTER.copy()  # the model now relies on b, and its labels agree with it
        [moved] = serve(h)
        [ref] = h.events(names.EVENT_REFERENCE)
        assert ref[names.ATTR_REFERENCE_SOURCE] == names.SOURCE_LABELS and ref[names.ATTR_METHOD] == "permutation"
        assert same.value == 0.0 and moved.value == 1.0
        assert moved.labels["method"] == "permutation"
        assert moved.details["top"][0]["feature"] == "b"
        assert h.plugin_errors == 0


def test_an_edge_case_slice_flagged_by_validation_gets_its_top_attributions() -> None:
    """The real validation plugin flags the band where the model fails; there the model leans on z."""
    rng = np.random.default_rng(7)

    def explain(X: np.ndarray) -> np.ndarray:
        in_band = (X[:, 0] >= 6) & (X[:, 0] < 7)
        return np.column_stack([np.where(in_band, 0.1, 1.0) * X[:, 0] / 10, np.where(in_band, 3.0, 0.2) * X[:, 1]])

    set_explainer("clf", explain, features=["x", "z"])
    cfg = {"attribution": {"window": {"type": "count", "size": 10_000}, "edge_cases": {"min_rows": 30}},
           "validation": {"edge_cases": {"bins": 10, "min_size": 30, "factor": 2.0}},
           "models": {"clf": {"task": "classification"}}}
    with run_plugin(make_plugin, config=cfg, clock=ManualClock(),
                    plugins={"enabled": ["validation"], "entry_points": False}) as h:
        h.set_reference("clf", {"x": rng.uniform(0, 10, size=5000), "z": rng.normal(size=5000)})
        n = 3000
        x, z = rng.uniform(0, 10, size=n), rng.normal(size=n)
        truth = rng.integers(0, 2, size=n)
        wrong = np.where((x >= 6) & (x < 7), rng.random(n) < 0.7, rng.random(n) < 0.05)
        ids = [f"id{i}" for i in range(n)]
        h.process("clf", RecordBatch(prediction_ids=tuple(ids), row_index=np.zeros(n, dtype=np.int64),
                                     timestamps=np.zeros(n), columns={"x": x, "z": z},
                                     outputs=np.where(wrong, 1 - truth, truth).astype(np.float64)))
        h.process_feedback("clf", [FeedbackEvent(f"e{i}", ids[i], "label", int(truth[i])) for i in range(n)])
        h.flush()
        h.tick(advance=3600)
        events = h.events(names.EVENT_EDGE_CASE)
        assert events, "the validation plugin's slice must be explained"
        band = next(e for e in events if e[names.ATTR_SLICE].startswith(("[5.9", "[6")))
        top = json.loads(band[names.ATTR_SLICE_TOP])
        assert band[names.ATTR_FEATURE] == "x" and band[names.ATTR_SLICE_ROWS] >= 30
        assert top[0]["feature"] == "z" and top[0]["lift"] > 2.0  # the model leans on z where it fails
        assert h.plugin_errors == 0


def test_an_explainer_that_raises_is_counted_and_logged_once_not_raised() -> None:
    def broken(X: np.ndarray) -> np.ndarray:
        raise RuntimeError("no GPU here")

    set_explainer("credit", broken)
    with run() as h:
        for _ in range(3):
            h.feed("credit", np.ones((10, 3)), np.ones(10))
        h.tick()
        [event] = h.events(names.EVENT_FAILED)
        assert event[names.ATTR_REASON] == names.REASON_EXPLAINER and "no GPU" in event[names.ATTR_MESSAGE]
        assert total(h, names.FAILURES, **{names.ATTR_REASON: names.REASON_EXPLAINER}) == 30
        assert total(h, names.ROWS, **{names.ATTR_SOURCE: names.SOURCE_NONE}) == 30
        assert h.plugin_errors == 0


def test_the_explainer_runs_on_at_most_explain_max_rows_per_window() -> None:
    calls: list[int] = []

    def explain(X: np.ndarray) -> np.ndarray:
        calls.append(len(X))
        return X * BEFORE

    set_explainer("credit", explain)
    with run({"explain_max_rows": 120, "window": {"type": "time", "seconds": 60}}) as h:
        for _ in range(3):
            h.feed("credit", np.ones((100, 3)), np.ones(100))
        h.tick(advance=61)
        h.feed("credit", np.ones((100, 3)), np.ones(100))
        h.tick()
        assert sum(calls[:-1]) == 120 and calls[-1] == 100  # the budget opens again with the next window
        assert total(h, names.FAILURES, **{names.ATTR_REASON: names.REASON_OVER_BUDGET}) == 180
        assert total(h, names.WINDOWS) == 1


@pytest.mark.parametrize(("section", "key"), [
    ({"max_distance": 0}, "attribution.max_distance"),
    ({"max_distance": 1.5}, "attribution.max_distance"),
    ({"min_rank_correlation": 2}, "attribution.min_rank_correlation"),
    ({"window": {"type": "sliding"}}, "attribution.window.type"),
    ({"permutation": {"rows": 5}}, "attribution.permutation.rows"),
    ({"edge_cases": {"min_rows": 0}}, "attribution.edge_cases.min_rows"),
    ({"models": {"credit": {"top_k": 0}}}, "attribution.models.credit.top_k"),
    ({"explainer": "shap"}, "attribution.explainer"),
])
def test_bad_config_names_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err, run_plugin(make_plugin, config={"attribution": section}):
        pass
    assert err.value.key == key


def test_registrations_are_checked_where_they_are_made() -> None:
    with pytest.raises(ValueError, match="model"):
        set_explainer("", lambda X: X)
    with pytest.raises(ValueError, match="callable"):
        set_predictor("m", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeat"):
        set_explainer("m", lambda X: X, features=["a", "a"])
    with pytest.raises(ValueError, match="numbers >= 0"):
        set_reference_attributions("m", {"a": -1.0})
    with pytest.raises(ValueError, match="method"):
        set_reference_attributions("m", {"a": 1.0}, method="shap")


def test_a_slow_explainer_runs_off_the_worker_which_keeps_ticking() -> None:
    release, started = threading.Event(), threading.Event()
    model = Model()

    def slow(X: np.ndarray) -> np.ndarray:
        started.set()
        release.wait(30)
        return model.explain(X)

    class Ticks:
        def __init__(self) -> None:
            self.seen = threading.Event()

        def infersight_handle_signals(self, signals: list[Any], now: float) -> None:
            self.seen.set()

    ticks = Ticks()
    set_explainer("credit", slow)
    cfg = {"attribution": {"window": {"type": "count", "size": 200}},
           "models": {"credit": {"feature_names": FEATURES, "task": "regression"}}}
    with run_plugin(make_plugin, config=cfg, agent={"tick_interval": 0.05}) as h:
        agent.register_plugin(ticks, name="ticks")
        h.feed("credit", np.random.default_rng(0).normal(size=(200, 3)), np.zeros(200))
        assert started.wait(10)  # the explainer is running, and blocked...
        ticks.seen.clear()
        assert ticks.seen.wait(10)  # ...while the worker goes on ticking
        assert not h.flush(0.2)  # a flush says the plugin's work is not done
        release.set()
        assert h.flush(30)
        windows = h.events(names.EVENT_WINDOW)
        assert len(windows) == 1 and total(h, names.ROWS, **{names.ATTR_SOURCE: names.SOURCE_EXPLAINER}) == 200
        assert h.plugin_errors == 0
