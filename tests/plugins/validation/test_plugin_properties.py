"""Property tests: arbitrary column contents through the plugin's hooks never raise, and every row is
either validated (ml.validation.rows) or counted unprocessable (ml.validation.unprocessable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent._types import FeedbackEvent, ModelInfo, RecordBatch
from plugins.validation import names
from tests.plugins.validation.harness import Harness

MODEL = ModelInfo(name="p", task="classification")
SECTION: dict[str, Any] = {
    "window_seconds": 0,
    "models": {
        "p": {
            "features": {
                "f": {"type": "float", "min": -10, "max": 10},
                "i": {"type": "int", "nullable": True, "max_missing_rate": 0.1},
                "b": {"type": "bool"},
                "c": {"type": "categorical", "allowed": ["a", "b", 1]},
                "s": {"type": "string", "regex": "[a-z]*", "sensitive": True},
            }
        }
    },
}
NAMES = ["f", "i", "b", "c", "s", "extra"]


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


class EvilStr(str):
    """A str subclass that cannot be hashed."""

    __hash__ = None  # type: ignore[assignment]


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
    st.sampled_from([np.float32(1.5), np.int64(7), np.bool_(True), np.str_("a"), np.datetime64(1, "s")]),
    st.tuples(st.integers()),
)


def column(draw: Any, n: int) -> np.ndarray:
    shape = draw(st.sampled_from(["object", "float", "mismatch", "2d", "string"]))
    if shape == "float":
        return np.asarray(draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype=np.float64)
    if shape == "mismatch":
        return np.zeros(n + draw(st.integers(1, 3)))
    if shape == "2d":
        return np.zeros((n, 2))
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
    return RecordBatch(
        prediction_ids=ids,
        row_index=np.arange(n),
        timestamps=np.zeros(n),
        columns=cols,
        outputs=outputs,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(batches(), min_size=1, max_size=4), st.lists(values, max_size=4))
def test_arbitrary_batches_never_raise_and_every_row_is_accounted_for(
    tmp_path: Path, records: list[RecordBatch], labels: list[Any]
) -> None:
    h = Harness(SECTION, tmp_path)
    rng = np.random.default_rng(0)
    h.reference(MODEL, {"f": rng.normal(size=200), "i": rng.integers(0, 5, size=200).astype(float)})
    for r in records:
        h.process(MODEL, r)
        h.feedback(MODEL, [FeedbackEvent(f"e{k}", "a", "label", v) for k, v in enumerate(labels)])
        h.tick(MODEL, advance=1.0)
    h.plugin.infersight_shutdown(agent=h.agent)

    expected = sum(len(r) for r in records)
    assert h.total(names.ROWS) + h.total(names.UNPROCESSABLE) == expected
    # unreadable batches are counted with their reason, never as an internal failure
    assert h.events(names.EVENT_ERROR) == []
    assert h.total(names.UNPROCESSABLE, **{names.ATTR_REASON: names.REASON_INTERNAL_ERROR}) == 0
    for e in h.events(names.EVENT_VIOLATION):
        if e["feature"] == "s":
            assert set(e["examples"]) <= {"<redacted>"}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches())
def test_unconfigured_plugin_hooks_never_raise(tmp_path: Path, records: RecordBatch) -> None:
    from plugins.validation import make_plugin

    plugin = make_plugin()  # configure never ran: hooks must still be harmless
    plugin.infersight_process_records(model=MODEL, records=records)
    plugin.infersight_set_reference(model=MODEL, records=records)
    plugin.infersight_process_records(model=MODEL, records=records)
    plugin.infersight_process_feedback(model=MODEL, events=[FeedbackEvent("e", "a", "label", 1)])
    assert plugin.infersight_collect_signals(model=MODEL, now=1e12) in (None, [])
