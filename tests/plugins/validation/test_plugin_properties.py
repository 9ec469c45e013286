"""Property tests on the real host: arbitrary batches and inputs never make a validation hook fail, and
every row received is either validated (ml.validation.rows) or counted with its reason
(ml.validation.unprocessable)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent
from agent.plugin import FeedbackEvent, RecordBatch
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.validation import names

SECTION: dict[str, Any] = {
    "window": {"type": "time", "seconds": 1},
    "models": {
        "p": {
            "features": {
                "f": {"type": "float", "min": -10, "max": 10},
                "i": {"type": "int", "nullable": True, "max_missing_rate": 0.1},
                "b": {"type": "bool"},
                "c": {"type": "categorical", "allowed": ["a", "b", 1]},
                "s": {"type": "string", "regex": "[a-z]*", "sensitive": True},
                "v": {"type": "list", "dim": 2, "nullable": True},
            }
        }
    },
}
NAMES = ["f", "i", "b", "c", "s", "v", "extra"]


class Evil:
    """A value whose every dunder raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")

    def __float__(self) -> float:
        raise RuntimeError("float")

    def __len__(self) -> int:
        raise RuntimeError("len")


class EvilStr(str):
    """A str subclass that cannot be hashed (TypeError)."""

    __hash__ = None  # type: ignore[assignment]


class BadHashStr(str):
    """A str whose hash raises what no checker expects."""

    def __hash__(self) -> int:
        raise RuntimeError("hash")


class BadInt(int):
    """An int whose comparison and hash raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")


class BadList(list[Any]):
    """A list whose length cannot be taken."""

    def __len__(self) -> int:
        raise RuntimeError("len")


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.just("z" * 200_000),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.none(), max_size=2),
    st.builds(Evil),
    st.builds(EvilStr, st.text(max_size=3)),
    st.builds(BadHashStr, st.sampled_from(["a", "b", "zz"])),
    st.builds(BadInt, st.integers(0, 2)),
    st.builds(BadList, st.lists(st.integers(), max_size=2)),
    st.sampled_from([np.float32(1.5), np.int64(7), np.bool_(True), np.str_("a"), np.datetime64(1, "s")]),
    st.tuples(st.integers()),
    st.builds(np.zeros, st.integers(0, 3)),
)


def column(draw: Any, n: int) -> np.ndarray:
    shape = draw(st.sampled_from(["object", "float", "mismatch", "2d", "string"]))
    if shape == "float":
        return np.asarray(draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype=np.float64)
    if shape == "mismatch":
        return np.zeros(n + draw(st.integers(1, 3)))
    if shape == "2d":
        return np.zeros((n, draw(st.integers(1, 3))))
    if shape == "string":
        return np.asarray(draw(st.lists(st.text(max_size=5), min_size=n, max_size=n)), dtype=str)
    out = np.empty(n, dtype=object)
    out[:] = draw(st.lists(values, min_size=n, max_size=n)) if n else []
    return out


@st.composite
def batches(draw: Any) -> RecordBatch:
    n = draw(st.integers(0, 12))
    names_ = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    cols = {name: column(draw, n) for name in names_}
    ids = tuple(draw(st.sampled_from(["a", "b", "c"])) for _ in range(n))
    outputs = draw(
        st.sampled_from([None, np.zeros(n), np.zeros((n, 3)), np.asarray([[1]] * n, dtype=object), np.zeros(n + 1)])
    )
    return RecordBatch(prediction_ids=ids, row_index=np.arange(n), timestamps=np.zeros(n), columns=cols,
                       outputs=outputs)  # fmt: skip


def accounted(h: CapturedTelemetry) -> float:
    """Rows validated plus rows counted unprocessable, so far."""
    return sum(p.value or 0 for m in (names.ROWS, names.UNPROCESSABLE) for p in h.metric_points(m))


def test_arbitrary_batches_never_fail_a_hook_and_every_row_is_accounted_for() -> None:
    rng = np.random.default_rng(0)
    with run_plugin("validation", config={"validation": SECTION, "models": {"p": {}}}, clock=ManualClock()) as h:
        h.set_reference("p", {"f": rng.normal(size=200), "i": rng.integers(0, 5, size=200).astype(float)})
        h.flush()

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(batches(), min_size=1, max_size=4), st.lists(values, max_size=4))
        def check(records: list[RecordBatch], labels: list[Any]) -> None:
            before = accounted(h)
            for r in records:
                h.process("p", r)
                h.process_feedback("p", [FeedbackEvent(f"e{k}", "a", "label", v) for k, v in enumerate(labels)])
                h.tick(advance=1.0)
            assert accounted(h) - before == sum(len(r) for r in records)
            assert h.plugin_errors == 0

        check()
        for e in h.events(names.EVENT_VIOLATION):
            if e[names.ATTR_FEATURE] == "s":
                assert set(e[names.ATTR_EXAMPLES]) <= {"<redacted>"}
    assert h.plugin_errors == 0  # shutdown too


inputs = st.one_of(
    st.dictionaries(st.sampled_from([*NAMES[:-1], "extra"]), values, max_size=5),
    st.lists(values, max_size=3),
    values,
)


def test_arbitrary_inputs_through_the_decorator_return_unchanged_and_are_accounted_for() -> None:
    with run_plugin("validation", config={"validation": SECTION, "models": {"p": {}}}, clock=ManualClock()) as h:

        @agent.monitor(model="p", task="classification", capture=True)
        def predict(row: Any) -> Any:
            return ("result", id(row))

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(inputs, min_size=1, max_size=4))
        def check(rows: list[Any]) -> None:
            seen = sum(len(b) for model, b in h.records if model.name == "p")
            before = accounted(h)
            assert all(predict(r) == ("result", id(r)) for r in rows)
            h.tick(advance=1.0)
            delivered = sum(len(b) for model, b in h.records if model.name == "p") - seen
            assert accounted(h) - before == delivered
            assert h.plugin_errors == 0

        check()
