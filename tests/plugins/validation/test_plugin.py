"""The validation plugin on the real host: rows captured through the hot path (or handed over as a
RecordBatch) reach its hooks, and its metrics, log events and Signals come out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.plugin import RecordBatch
from agent.semconv import INFERENCE_ROWS
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.validation import names

WINDOW = 60.0
FEATURES: dict[str, Any] = {
    "amount": {"type": "float", "min": 0, "max": 100},
    "age": {"type": "int", "min": 0, "max": 120},
    "flag": {"type": "bool"},
    "country": {"type": "categorical", "allowed": ["FR", "DE"]},
    "email": {"type": "string", "regex": "[^@]+@[^@]+", "sensitive": True, "nullable": True,
              "max_missing_rate": 0.2},
    "needed": {"type": "float"},
}  # fmt: skip
GOOD: dict[str, Any] = {"amount": 10.0, "age": 30, "flag": True, "country": "FR", "email": "a@b", "needed": 1.0}


def config(validation: dict[str, Any] | None = None, **models: dict[str, Any]) -> dict[str, Any]:
    """An agent config running the validation plugin with a time window of WINDOW seconds."""
    section: dict[str, Any] = {"window": {"type": "time", "seconds": WINDOW}, "violation_rate_threshold": 0.0}
    section.update(validation or {})
    return {"validation": section, "models": {name: dict(table) for name, table in models.items()}}


def shop(validation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Model ``shop`` with the FEATURES schema declared in config."""
    cfg = config(validation, shop={})
    cfg["validation"]["models"] = {"shop": {"features": FEATURES}}
    return cfg


def run(cfg: dict[str, Any]) -> Any:
    return run_plugin("validation", config=cfg, clock=ManualClock())


def close_window(h: CapturedTelemetry) -> list[Any]:
    """Process everything queued, then let the window's time pass; the validation Signals of that tick."""
    h.flush()
    return [s for s in h.tick(advance=WINDOW) if s.name.startswith("ml.validation.")]


def total(h: CapturedTelemetry, metric: str, **attrs: Any) -> float:
    """Sum of ``metric`` over points whose attributes include ``attrs``."""
    return sum(p.value or 0 for p in h.metric_points(metric) if all(p.attributes.get(k) == v for k, v in attrs.items()))


def kinds(h: CapturedTelemetry) -> dict[tuple[str, str], float]:
    """Schema violations counted, by (feature, kind) (outliers, which are no schema violation, left out)."""
    out: dict[tuple[str, str], float] = {}
    for p in h.metric_points(names.VIOLATIONS):
        if p.attributes[names.ATTR_KIND] == "outlier":
            continue
        key = (p.attributes[names.ATTR_FEATURE], p.attributes[names.ATTR_KIND])
        out[key] = out.get(key, 0) + (p.value or 0)
    return out


def batch(columns: dict[str, Any], *, outputs: Any = None, ids: Sequence[str] | None = None) -> RecordBatch:
    """A RecordBatch as the core builds one: float columns when every value is a number, else object."""
    cols: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            cols[name] = values
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            cols[name] = np.asarray(values, dtype=np.float64)
        else:
            cols[name] = np.empty(len(values), dtype=object)
            cols[name][:] = list(values)
    n = len(next(iter(cols.values())))
    pids = tuple(ids) if ids is not None else tuple(f"p{i}" for i in range(n))
    return RecordBatch(
        prediction_ids=pids, row_index=np.zeros(n, dtype=np.int64), timestamps=np.zeros(n), columns=cols,
        outputs=None if outputs is None else np.asarray(outputs),
    )  # fmt: skip


CASES = [
    ({k: v for k, v in GOOD.items() if k != "needed"}, "needed", "missing_feature", None),
    ({**GOOD, "extra": "x"}, "extra", "unknown_feature", "x"),
    ({**GOOD, "amount": "ten"}, "amount", "type_mismatch", "ten"),
    ({**GOOD, "amount": None}, "amount", "null", None),
    ({**GOOD, "age": float("nan")}, "age", "null", "nan"),
    ({**GOOD, "amount": -1.0}, "amount", "below_min", -1.0),
    ({**GOOD, "age": 500}, "age", "above_max", 500.0),
    ({**GOOD, "country": "IT"}, "country", "not_allowed", "IT"),
    ({**GOOD, "email": "nope"}, "email", "regex_mismatch", "<redacted>"),
    ({**GOOD, "amount": float("inf")}, "amount", "non_finite", "inf"),
    ({**GOOD, "flag": "yes"}, "flag", "type_mismatch", "yes"),
    ({**GOOD, "age": 30.5}, "age", "type_mismatch", 30.5),
]


@pytest.mark.parametrize(("row", "feature", "kind", "example"), CASES)
def test_each_violation_kind_is_counted_logged_and_signalled(
    row: dict[str, Any], feature: str, kind: str, example: Any
) -> None:
    with run(shop()) as h:
        h.feed("shop", row, outputs=1)
        signals = close_window(h)
        assert kinds(h) == {(feature, kind): 1}
        assert total(h, names.ROWS, **{names.ATTR_MODEL: "shop"}) == 1
        [event] = h.events(names.EVENT_VIOLATION)
        assert (event[names.ATTR_MODEL], event[names.ATTR_FEATURE], event[names.ATTR_KIND]) == ("shop", feature, kind)
        assert event[names.ATTR_COUNT] == 1 and event[names.ATTR_WINDOW_ROWS] == 1
        if example is not None:
            assert list(event[names.ATTR_EXAMPLES]) == [str(example)]
        [signal] = signals
        assert signal.name == names.SIGNAL_VIOLATION_RATE and signal.value == 1.0
        assert dict(signal.labels) == {"model": "shop", "version": "", "feature": feature, "kind": kind}
        assert h.plugin_errors == 0


def test_findings_are_info_events_not_warnings() -> None:
    with run(shop()) as h:
        h.feed("shop", {**GOOD, "amount": -1.0}, outputs=1)
        close_window(h)
        records = [r for r in h.log_records() if str(r.log_record.body).startswith("ml.validation.")]
    assert records and {r.log_record.severity_text for r in records} == {"INFO"}


def test_missing_rate_over_a_window_is_one_violation_with_the_rate() -> None:
    with run(shop()) as h:
        for email in (None, "c@d", "e@f", "g@h", None, None, "e@f", "g@h"):
            h.feed("shop", {**GOOD, "email": email}, outputs=1)
        [signal] = close_window(h)
        assert kinds(h) == {("email", "missing_rate"): 1}
        assert signal.labels["kind"] == "missing_rate" and signal.value == pytest.approx(3 / 8)
        [event] = h.events(names.EVENT_VIOLATION)
        assert event[names.ATTR_RATE] == pytest.approx(3 / 8)


def test_clean_rows_produce_no_violation_and_no_signal() -> None:
    with run(shop()) as h:
        h.feed("shop", [GOOD] * 4, outputs=[1, 1, 1, 1])
        assert close_window(h) == []
        assert h.metric_points(names.VIOLATIONS) == [] and h.events(names.EVENT_VIOLATION) == []
        assert total(h, names.ROWS) == 4


def test_rate_below_its_threshold_logs_but_does_not_signal() -> None:
    with run(shop({"violation_rate_threshold": 0.5, "thresholds": {"above_max": 0.0}})) as h:
        h.feed("shop", [{**GOOD, "amount": -1.0}, {**GOOD, "age": 121}, GOOD, GOOD], outputs=[1] * 4)
        signals = close_window(h)
        assert len(h.events(names.EVENT_VIOLATION)) == 2
        assert [s.labels["kind"] for s in signals] == ["above_max"]  # its own threshold


def test_time_window_stays_open_until_its_seconds_have_passed() -> None:
    with run(shop()) as h:
        h.feed("shop", {**GOOD, "amount": -1.0}, outputs=1)
        h.flush()
        assert [s for s in h.tick(advance=WINDOW / 2) if s.name.startswith("ml.validation.")] == []
        assert h.events(names.EVENT_VIOLATION) == []
        assert len([s for s in h.tick(advance=WINDOW / 2) if s.name == names.SIGNAL_VIOLATION_RATE]) == 1


def test_count_window_closes_at_exactly_its_size_inside_a_batch() -> None:
    cfg = shop({"window": {"type": "count", "size": 3}})
    with run(cfg) as h:
        rows = [GOOD, GOOD, {**GOOD, "amount": -1.0}, {**GOOD, "amount": -2.0}, GOOD]
        h.feed("shop", rows, outputs=[1] * 5)
        signals = [s for s in h.tick() if s.name == names.SIGNAL_VIOLATION_RATE]
        [event] = h.events(names.EVENT_VIOLATION)  # the first window: rows 1-3
        assert event[names.ATTR_WINDOW_ROWS] == 3 and event[names.ATTR_COUNT] == 1
        assert [s.value for s in signals] == [pytest.approx(1 / 3)]
        h.feed("shop", GOOD, outputs=1)  # the 6th row closes the second window
        h.tick()
        second = h.events(names.EVENT_VIOLATION)[1]
        assert second[names.ATTR_WINDOW_ROWS] == 3 and list(second[names.ATTR_EXAMPLES]) == ["-2.0"]


def test_per_model_settings_are_laid_over_the_defaults() -> None:
    cfg = config({"models": {"strict": {"window": {"seconds": 1}}}}, strict={}, lax={})
    with run(cfg) as h:
        h.set_reference("strict", {"x": np.arange(100.0)})
        h.set_reference("lax", {"x": np.arange(100.0)})
        h.flush()
        h.feed("strict", {"x": -500.0}, outputs=1)
        h.feed("lax", {"x": -500.0}, outputs=1)
        h.flush()
        signals = [s for s in h.tick(advance=1) if s.name == names.SIGNAL_VIOLATION_RATE]
        assert {s.labels["model"] for s in signals} == {"strict"}  # lax keeps the 60 s default window


def test_outliers_against_the_reference_are_counted_with_rate_gauge_and_signal() -> None:
    rng = np.random.default_rng(1)
    with run(config({"outlier_rate_threshold": 0.05}, ref={"version": "2"})) as h:
        h.set_reference("ref", {"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], size=5000)})
        h.flush()
        x = rng.normal(size=100)
        x[:10] = 50.0
        h.process("ref", batch({"x": x, "c": ["a"] * 100}))
        signals = close_window(h)
        assert total(h, names.VIOLATIONS, **{names.ATTR_KIND: "outlier", names.ATTR_FEATURE: "x"}) >= 10
        [rate] = h.metric_points(names.OUTLIER_RATE)
        assert rate.attributes == {names.ATTR_MODEL: "ref", names.ATTR_VERSION: "2", names.ATTR_FEATURE: "x"}
        assert rate.value is not None and 0.1 <= rate.value < 0.15
        [sig] = [s for s in signals if s.name == names.SIGNAL_OUTLIER_RATE]
        assert dict(sig.labels) == {"model": "ref", "version": "2", "feature": "x"} and sig.value == rate.value
        # far beyond the widened inferred max too: also a schema violation, reported separately
        assert total(h, names.VIOLATIONS, **{names.ATTR_KIND: "above_max"}) == 10
        [event] = [e for e in h.events(names.EVENT_VIOLATION) if e[names.ATTR_KIND] == "outlier"]
        assert event[names.ATTR_EXAMPLES][0] == "50.0" and event[names.ATTR_RANGE_HIGH] < 50.0


def ages(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.normal(42, 12, size=n)).clip(0)


@pytest.mark.parametrize(("tolerance", "violations"), [(None, False), (0.0, True)])
def test_fresh_rows_from_the_reference_distribution_pass_the_inferred_bounds(
    tolerance: float | None, violations: bool
) -> None:
    """Inferred from 300 ages, checked on 3,000 more of the same: the widened bounds hold, pinned ones do not."""
    rng = np.random.default_rng(11)
    section = {} if tolerance is None else {"range_tolerance": tolerance}
    with run(config(section, people={})) as h:
        h.set_reference("people", {"age": ages(rng, 300)})
        h.flush()
        h.feed("people", [{"age": float(a)} for a in ages(rng, 3000)], outputs=[0] * 3000)
        close_window(h)
        found = {kind for _, kind in kinds(h)} & {"below_min", "above_max"}
        assert bool(found) is violations


def test_zscore_outlier_method_flags_far_values() -> None:
    with run(config({"outliers": {"method": "zscore", "z": 4.0}}, z={})) as h:
        h.set_reference("z", {"x": np.random.default_rng(2).normal(10, 2, size=2000)})
        h.flush()
        h.feed("z", [{"x": 10.0}, {"x": 11.0}, {"x": 9.0}, {"x": 40.0}], outputs=[0] * 4)
        close_window(h)
        assert total(h, names.VIOLATIONS, **{names.ATTR_KIND: "outlier"}) == 1


def test_config_feature_tables_override_the_inferred_schema() -> None:
    cfg = config({"models": {"r": {"features": {"x": {"max": 1000.0}}}}}, r={})
    with run(cfg) as h:
        h.set_reference("r", {"x": np.linspace(0, 10, 100), "y": np.linspace(0, 1, 100)})
        h.flush()
        h.feed("r", [{"x": 500.0, "y": 0.5}, {"x": 5.0, "y": 50.0}], outputs=[0, 0])
        close_window(h)
        assert kinds(h) == {("y", "above_max"): 1}


def test_reference_file_of_the_models_table_is_delivered_by_the_core(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("a,b\n1,x\n2,y\n3,x\n4,y\n", encoding="utf-8")
    with run(config(None, f={"reference": str(tmp_path / "ref.csv")})) as h:
        h.feed("f", [{"a": 2.0, "b": "x"}, {"a": 99.0, "b": "z"}], outputs=[0, 0])
        close_window(h)
        assert set(kinds(h)) == {("a", "above_max"), ("b", "not_allowed")}


def test_reference_set_mid_window_keeps_the_rows_already_validated() -> None:
    cfg = config({"models": {"m": {"features": {"x": {"type": "float", "max": 1.0}}}}}, m={})
    with run(cfg) as h:
        h.feed("m", {"x": 5.0}, outputs=0)
        h.flush()
        h.set_reference("m", {"x": np.linspace(0, 1, 50)})
        h.flush()
        h.feed("m", {"x": 0.5}, outputs=0)
        close_window(h)
        [event] = h.events(names.EVENT_VIOLATION)
        assert event[names.ATTR_KIND] == "above_max" and event[names.ATTR_WINDOW_ROWS] == 2


def test_shutdown_closes_the_open_window_as_log_events() -> None:
    with run(shop()) as h:
        h.feed("shop", {**GOOD, "amount": -1.0}, outputs=1)
        h.flush()
    assert [e[names.ATTR_KIND] for e in h.events(names.EVENT_VIOLATION)] == ["below_min"]


# -- every row accounted for ------------------------------------------------------------


class Unhashable(str):
    """A str whose hash raises what no checker expects: validating its row raises."""

    def __hash__(self) -> int:
        raise RuntimeError("no hash for you")


def rows_captured(h: CapturedTelemetry, model: str) -> int:
    return sum(len(records) for info, records in h.records if info.name == model)


def test_every_row_received_is_validated_or_counted_dropped_by_reason() -> None:
    """Rows before any schema exist, a hostile value, clean traffic: rows + dropped == captured."""
    rng = np.random.default_rng(3)
    with run(config(None, m={})) as h:
        h.feed("m", [{"x": 1.0, "c": "a"}] * 7, outputs=[0] * 7)  # no schema yet: counted no_schema
        h.flush()
        h.set_reference("m", {"x": rng.normal(size=500), "c": rng.choice(["a", "b"], size=500)})
        h.flush()
        for _ in range(30):
            rows = [{"x": float(v), "c": "a"} for v in rng.normal(size=20)]
            h.feed("m", rows, outputs=[0] * 20)
        hostile = [{"x": 0.5, "c": "b"}] * 9 + [{"x": 0.1, "c": Unhashable("a")}]
        h.feed("m", hostile, outputs=[0] * 10)
        close_window(h)
        captured = rows_captured(h, "m")
        validated = total(h, names.ROWS, **{names.ATTR_MODEL: "m"})
        dropped = {
            p.attributes[names.ATTR_REASON]: p.value for p in h.metric_points(names.UNPROCESSABLE)
        }
        assert captured == 7 + 600 + 10
        assert validated + sum(v or 0 for v in dropped.values()) == captured
        assert dropped == {names.REASON_NO_SCHEMA: 7, names.REASON_BAD_VALUE: 1}
        assert validated == 609  # the hostile row's nine batch-mates were validated
        [skipped] = h.events(names.EVENT_ROWS_SKIPPED)
        assert skipped[names.ATTR_COUNT] == 1 and skipped[names.ATTR_ERROR] == "RuntimeError"
        assert h.plugin_errors == 0


def test_rows_validated_equal_rows_captured_when_every_row_is_readable() -> None:
    rng = np.random.default_rng(4)
    with run(shop()) as h:
        for i in range(40):
            n = 1 + i % 7
            rows = [{**GOOD, "amount": float(a)} for a in rng.uniform(-5, 105, size=n)]
            h.feed("shop", rows, outputs=[0] * n)
        close_window(h)
        inference_rows = total(h, INFERENCE_ROWS, **{names.ATTR_MODEL: "shop"})
        assert total(h, names.ROWS) == rows_captured(h, "shop") == inference_rows == sum(1 + i % 7 for i in range(40))
        assert h.metric_points(names.UNPROCESSABLE) == []


def test_model_without_any_schema_counts_its_rows_as_no_schema() -> None:
    with run(config(None, other={})) as h:
        h.feed("other", [{"a": 1.0}, {"a": 2.0}], outputs=[0, 0])
        close_window(h)
        assert total(h, names.UNPROCESSABLE, **{names.ATTR_REASON: names.REASON_NO_SCHEMA}) == 2
        assert h.metric_points(names.ROWS) == []


def test_batch_whose_columns_do_not_line_up_is_counted_with_its_reason() -> None:
    with run(shop()) as h:
        good = batch({k: [v] * 4 for k, v in GOOD.items()})
        cols = dict(good.columns)
        cols["amount"] = np.array([1.0, 2.0])
        h.process("shop", RecordBatch(good.prediction_ids, good.row_index, good.timestamps, cols))
        h.flush()
        assert total(h, names.UNPROCESSABLE, **{names.ATTR_REASON: names.REASON_LENGTH_MISMATCH}) == 4
        assert h.metric_points(names.ROWS) == [] and h.plugin_errors == 0


# -- list-valued features ---------------------------------------------------------------


def test_list_features_are_inferred_and_checked_for_being_lists_of_the_right_length() -> None:
    rng = np.random.default_rng(5)
    reference = [{"x": float(v), "emb": rng.normal(size=4).tolist()} for v in rng.normal(size=200)]
    with run(config(None, e={})) as h:
        h.set_reference("e", reference)
        h.flush()
        rows = [
            {"x": 0.1, "emb": [0.0, 1.0, 2.0, 3.0]},
            {"x": 0.2, "emb": np.zeros(4)},
            {"x": 0.3, "emb": (1, 2, 3)},
            {"x": 0.4, "emb": "not a list"},
            {"x": 0.5, "emb": [1.0, 2.0, 3.0, 4.0]},
        ]
        h.feed("e", rows, outputs=[0] * 5)
        close_window(h)
        assert kinds(h) == {("emb", "dimension_mismatch"): 1, ("emb", "type_mismatch"): 1}
        assert total(h, names.ROWS) == 5 and h.metric_points(names.UNPROCESSABLE) == []


def test_embedding_vectors_are_checked_for_nan_and_for_a_norm_outside_the_inferred_range() -> None:
    rng = np.random.default_rng(6)
    unit = rng.normal(size=(200, 4))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)  # normalised embeddings: every norm is 1
    with run(config(None, e={})) as h:
        h.set_reference("e", [{"emb": v} for v in unit.tolist()])
        h.flush()
        rows = [
            {"emb": unit[0].tolist()},
            {"emb": [float("nan"), 0.0, 0.0, 1.0]},
            {"emb": (unit[1] * 10).tolist()},  # an un-normalised vector
            {"emb": [0.0, 0.0, 0.0, 0.0]},
        ]
        h.feed("e", rows, outputs=[0] * 4)
        close_window(h)
        assert kinds(h) == {("emb", "non_finite"): 1, ("emb", "norm_above_max"): 1, ("emb", "norm_below_min"): 1}


def test_two_dimensional_array_column_is_one_list_feature() -> None:
    with run(config({"models": {"e": {"features": {"emb": {"type": "list", "dim": 3}}}}}, e={})) as h:
        h.process("e", batch({"emb": np.zeros((6, 3))}))
        h.process("e", batch({"emb": np.zeros((2, 5))}))
        close_window(h)
        assert kinds(h) == {("emb", "dimension_mismatch"): 2}
        assert total(h, names.ROWS) == 8


def test_list_feature_without_dim_accepts_any_length() -> None:
    with run(config({"models": {"e": {"features": {"emb": {"type": "list"}}}}}, e={})) as h:
        h.feed("e", [{"emb": list(range(k))} for k in range(1, 4)], outputs=[0, 0, 0])
        close_window(h)
        assert kinds(h) == {} and total(h, names.ROWS) == 3

