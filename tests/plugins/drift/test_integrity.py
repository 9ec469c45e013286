"""Bad input on the real host: embeddings, single bad rows, and every row received tested or counted."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.plugin import FeedbackEvent, RecordBatch
from agent.testing import ManualClock, run_plugin
from plugins.drift import names
from tests.plugins.drift.data import batch, by, columns, objects, rows

SMALL = {"window": {"size": 100}, "min_window": 50, "permutations": 30}


def embeddings(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[list[float]]:
    return [list(map(float, v)) for v in rng.normal(shift, 1.0, (n, 8))]


def test_an_embedding_feature_is_tested_on_its_own_and_the_other_features_are_tested() -> None:
    rng = np.random.default_rng(0)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        ref = rows(columns(rng, 400))
        for r, e in zip(ref, embeddings(rng, 400), strict=True):
            r["embedding"] = e
        h.set_reference("fraud", ref)
        cur = rows(columns(rng, 100, shift=1.5))
        for r, e in zip(cur, embeddings(rng, 100, shift=3.0), strict=True):
            r["embedding"] = e
        h.feed("fraud", cur, [0.5] * 100)  # through the hot path, as an application passes them
        h.tick()
        assert h.plugin_errors == 0
        latest = {r.feature: r for r in h.plugin("drift").latest("fraud")}
        assert latest["amount"].drifted and latest["country"].skipped is None
        assert latest["embedding"].test == names.TEST_VECTOR and latest["embedding"].drifted
        assert by(h, names.SKIPPED, names.ATTR_FEATURE, names.ATTR_REASON) == {}
        ref_event = h.events(names.EVENT_REFERENCE)[0]
        assert ref_event[names.ATTR_VECTOR_FEATURES] == ("embedding",)
        assert "embedding" not in ref_event[names.ATTR_FEATURES]
        assert h.events(names.EVENT_SCHEMA) == []  # a known vector feature is not a schema change


def test_a_list_in_a_categorical_feature_is_tested_as_missing_and_counted() -> None:
    rng = np.random.default_rng(1)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 400))
        cur = columns(rng, 100)
        cur["country"] = objects([["fr", "de"] if i < 3 else c for i, c in enumerate(cur["country"].tolist())])
        h.process("fraud", batch(cur))
        h.tick()
        assert h.plugin_errors == 0
        assert by(h, names.BAD_VALUES, names.ATTR_FEATURE, names.ATTR_REASON) == {("country", names.BAD_UNHASHABLE): 3}
        country = next(r for r in h.plugin("drift").latest("fraud") if r.feature == "country")
        assert country.skipped is None and country.n_window == 100


def test_a_bad_row_is_dropped_alone_and_counted_never_its_batch() -> None:
    rng = np.random.default_rng(2)

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        __hash__ = object.__hash__

    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", columns(rng, 400))
        cur = columns(rng, 103)
        amount: list[Any] = cur["amount"].tolist()
        amount[10] = 10**400  # beyond float range
        cur["amount"] = objects(amount)
        country: list[Any] = cur["country"].tolist()
        country[20] = {"a": 1}  # unhashable, not a vector
        country[30] = Unprintable()
        cur["country"] = objects(country)
        h.process("fraud", batch(cur))
        h.tick()
        assert h.plugin_errors == 0
        dropped = by(h, names.ROWS_DROPPED, names.ATTR_REASON)
        assert dropped == {(names.DROP_UNCONVERTIBLE,): 2, (names.DROP_UNHASHABLE,): 1}
        bad = by(h, names.BAD_VALUES, names.ATTR_FEATURE, names.ATTR_REASON)
        assert bad == {("amount", names.DROP_UNCONVERTIBLE): 1, ("country", names.DROP_UNCONVERTIBLE): 1,
                       ("country", names.DROP_UNHASHABLE): 1}
        latest = h.plugin("drift").latest("fraud")
        assert latest and {r.n_window for r in latest} == {100}  # the other 100 rows were tested
        assert by(h, names.ROWS_TESTED, names.ATTR_STREAM) == {(names.STREAM_INPUTS,): 100}


def test_rows_received_equal_rows_tested_plus_rows_dropped_by_reason() -> None:
    rng = np.random.default_rng(3)
    cfg = {**SMALL, "window": {"type": "time", "seconds": 60, "size": 100}, "reference_from_live": 150}
    # The model is configured: the worker's tick (which closes time windows) asks the known models.
    with run_plugin("drift", config={"drift": cfg, "models": {"fraud": {}}}, clock=ManualClock()) as h:
        sent = 0
        # 150 warm-up rows become the reference; the 158 kept rows after them fill the first time window
        for n in (120, 90, 40):
            h.process("fraud", batch(columns(rng, n)))
            sent += n
        # a batch with one int beyond float range and one dict: two rows dropped, 58 kept
        cur = columns(rng, 60)
        cur["amount"] = objects([10**400 if i == 5 else v for i, v in enumerate(cur["amount"].tolist())])
        cur["country"] = objects([{"x"} if i == 7 else v for i, v in enumerate(cur["country"].tolist())])
        h.process("fraud", batch(cur))
        sent += 60
        # a malformed batch (columns longer than the batch): dropped as a whole
        h.process("fraud", RecordBatch(prediction_ids=("a", "b", "c"), row_index=np.zeros(3), timestamps=np.zeros(3),
                                       columns={"amount": np.zeros(4)}))
        sent += 3
        # a second time window of 250 rows keeps a sample of 100
        h.tick()
        h.tick(advance=61)
        h.process("fraud", batch(columns(rng, 250)))
        sent += 250
        h.tick()
        h.tick(advance=61)
        labels = [FeedbackEvent(event_id=f"e{i}", prediction_id=f"p{i}", kind="label", value=i % 2) for i in range(300)]
        labels[3] = FeedbackEvent(event_id="bad", prediction_id="p", kind="label", value=-(10**400))
        h.process_feedback("fraud", labels)
        h.tick()
        h.tick(advance=61)
        assert h.plugin_errors == 0

        received = by(h, names.ROWS_RECEIVED, names.ATTR_STREAM)
        tested = by(h, names.ROWS_TESTED, names.ATTR_STREAM)
        dropped = by(h, names.ROWS_DROPPED, names.ATTR_STREAM, names.ATTR_REASON)
        assert received[(names.STREAM_INPUTS,)] == sent
        assert dropped == {
            (names.STREAM_INPUTS, names.DROP_REFERENCE): 150,
            (names.STREAM_INPUTS, names.DROP_UNCONVERTIBLE): 1,
            (names.STREAM_INPUTS, names.DROP_UNHASHABLE): 1,
            (names.STREAM_INPUTS, names.DROP_MALFORMED): 3,
            (names.STREAM_INPUTS, names.DROP_SAMPLED_OUT): 58 + 150,
            (names.STREAM_LABELS, names.DROP_UNCONVERTIBLE): 1,
            (names.STREAM_LABELS, names.DROP_REFERENCE): 150,
            (names.STREAM_LABELS, names.DROP_SAMPLED_OUT): 49,
        }
        for stream in (names.STREAM_INPUTS, names.STREAM_LABELS):
            lost = sum(v for (s, _), v in dropped.items() if s == stream)
            assert received[(stream,)] == tested[(stream,)] + lost, stream
        assert tested == {(names.STREAM_INPUTS,): 100 + 100, (names.STREAM_LABELS,): 100}
        windows = [(e[names.ATTR_STREAM], e[names.ATTR_WINDOW_ROWS], e[names.ATTR_WINDOW_ROWS_SEEN])
                   for e in h.events(names.EVENT_WINDOW)]
        assert windows == [(names.STREAM_INPUTS, 100, 158), (names.STREAM_INPUTS, 100, 250),
                           (names.STREAM_LABELS, 100, 149)]
