"""Feedback delivered as Arize Phoenix span annotations ([feedback.phoenix]): to a real loopback HTTP
server through the real host, durably from the store; and, when PHOENIX_PYTHON names a Python with
arize-phoenix installed, to a real Phoenix read back through its REST API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

import agent
from agent.plugin import ConfigError
from agent.testing import CapturedTelemetry, ManualClock, run_plugin
from plugins.feedback import names as n
from plugins.feedback.phoenix import annotation_result
from tests.support.phoenix import needs_phoenix, phoenix_server
from tests.support.webhook import WebhookReceiver

PATH = "/v1/span_annotations"


def run(endpoint: str, **phoenix: Any) -> Any:
    cfg = {"feedback": {"pending_timeout_s": 5, "phoenix": {"endpoint": endpoint, **phoenix}},
           "models": {"m": {"capture": True}}}
    return run_plugin("feedback", config=cfg, clock=ManualClock())


def serve(h: CapturedTelemetry, count: int) -> dict[str, str]:
    """``count`` monitored calls with capture; returns prediction id -> the call's span id (16 hex)."""
    pids = [h.feed("m", {"x": float(i)}, 0.5) for i in range(count)]
    h.tick()
    spans = {s.attributes["ml.prediction.id"]: format(s.context.span_id, "016x") for s in h.spans()
             if s.attributes and "ml.prediction.id" in s.attributes}
    return {pid: spans[pid] for pid in pids if pid}


def deliver(h: CapturedTelemetry) -> None:
    """Join what was logged (a tick), then run an annotation pass now and wait for it."""
    h.tick()
    assert h.plugin("feedback").annotation_thread.flush(timeout=10)


def received(rx: WebhookReceiver, *, accepted_only: bool = True) -> list[dict[str, Any]]:
    return [a for r in rx.requests if r.path == PATH and (r.status == 200 or not accepted_only)
            for a in r.json["data"]]


def total(h: CapturedTelemetry, name: str, **attrs: str) -> float:
    return sum(p.value or 0 for p in h.metric_points(name) if all(p.attributes.get(k) == v for k, v in attrs.items()))


def test_each_feedback_event_becomes_an_annotation_of_its_prediction_span() -> None:
    with WebhookReceiver() as rx, run(rx.url, annotator_kind="CODE") as h:
        spans = serve(h, 4)
        values = [1, "fraud", 0.25, True]
        for (pid, _), value in zip(spans.items(), values, strict=True):
            agent.log_feedback(pid, "label", value, attributes={"reviewer": "ann"})
        deliver(h)
        got = received(rx)
        assert {a["span_id"] for a in got} == set(spans.values())
        for a in got:
            pid = a["metadata"]["prediction_id"]
            assert a["span_id"] == spans[pid] and a["name"] == "label" and a["annotator_kind"] == "CODE"
            assert a["identifier"] == a["metadata"]["event_id"] and a["metadata"]["reviewer"] == "ann"
        results = sorted(json.dumps(a["result"], sort_keys=True) for a in got)
        assert results == sorted(json.dumps(annotation_result(v), sort_keys=True) for v in values)
        assert rx.requests[0].header("content-type") == "application/json"
        assert total(h, n.ANNOTATIONS_DELIVERED) == 4
        assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [0]
        assert h.plugin_errors == 0


def test_server_down_then_up_loses_nothing_and_counts_the_outage() -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()  # the port is known, nothing listens on it
    try:
        with run(rx.url, min_backoff_s=1, max_backoff_s=4) as h:
            spans = serve(h, 3)
            for pid in spans:
                agent.log_feedback(pid, "upvote", 1)
            deliver(h)
            assert total(h, n.ANNOTATIONS_FAILURES, **{n.ATTR_REASON: "connection"}) >= 1
            assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [3]
            [down] = h.events(n.EVENT_ANNOTATIONS_FAILED)
            assert down[n.ATTR_ENDPOINT] == rx.url + PATH and down[n.ATTR_REASON] == "connection"
            rx.script([503])  # back, but not ready at first
            rx.start()
            deliver(h)
            assert total(h, n.ANNOTATIONS_FAILURES, **{n.ATTR_REASON: "http_503"}) == 1
            h.tick(advance=10)  # past the backoff: the tick's pass delivers
            deliver(h)
            assert sorted(a["span_id"] for a in received(rx)) == sorted(spans.values())
            assert total(h, n.ANNOTATIONS_DELIVERED) == 3
            assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [0]
            assert len(h.events(n.EVENT_ANNOTATIONS_FAILED)) == 1 and h.events(n.EVENT_ANNOTATIONS_RESUMED)
    finally:
        rx.stop()


def test_undelivered_annotations_survive_a_restart(tmp_path: Path) -> None:
    rx = WebhookReceiver()
    rx.start()
    rx.stop()
    data = {"agent": {"data_dir": str(tmp_path)}}  # both processes share the data directory (the store)
    try:
        cfg = {"feedback": {"phoenix": {"endpoint": rx.url, "min_backoff_s": 60, "max_backoff_s": 60}},
               "models": {"m": {"capture": True}}}
        with run_plugin("feedback", config=cfg, clock=ManualClock(), **data) as h:
            spans = serve(h, 2)
            for pid in spans:
                agent.log_feedback(pid, "label", 0)
            deliver(h)
            assert total(h, n.ANNOTATIONS_DELIVERED) == 0
        rx.start()  # the next process delivers what the first one could not
        with run_plugin("feedback", config=cfg, clock=ManualClock(), **data) as h:
            assert h.plugin("feedback").annotation_thread.flush(timeout=10)
            assert sorted(a["span_id"] for a in received(rx)) == sorted(spans.values())
    finally:
        rx.stop()


def test_an_event_waiting_for_its_prediction_holds_back_nothing_and_is_skipped_once_orphaned() -> None:
    with WebhookReceiver() as rx, run(rx.url) as h:
        agent.log_feedback("never-served", "label", 1, model="m")  # no prediction will ever match
        spans = serve(h, 1)
        [(pid, span_id)] = spans.items()
        agent.log_feedback(pid, "label", 0)
        deliver(h)
        assert [a["span_id"] for a in received(rx)] == [span_id]  # the later event does not wait
        assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [1]
        h.tick(advance=10)  # past pending_timeout_s: the first event is an orphan
        deliver(h)
        assert [a["span_id"] for a in received(rx)] == [span_id]  # nothing sent twice
        assert total(h, n.ANNOTATIONS_SKIPPED, **{n.ATTR_REASON: n.SKIP_NO_SPAN}) == 1
        assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [0]


def test_a_batch_refused_for_its_content_is_sent_one_by_one_and_only_the_refused_one_is_skipped() -> None:
    with WebhookReceiver(statuses=[422, 200, 422, 200]) as rx, run(rx.url) as h:
        spans = serve(h, 3)
        for pid in spans:
            agent.log_feedback(pid, "label", 1)
        deliver(h)
        sizes = [len(r.json["data"]) for r in rx.requests]
        assert sizes == [3, 1, 1, 1]
        assert total(h, n.ANNOTATIONS_DELIVERED) == 2
        assert total(h, n.ANNOTATIONS_SKIPPED, **{n.ATTR_REASON: n.SKIP_REJECTED}) == 1
        assert [p.value for p in h.metric_points(n.ANNOTATIONS_PENDING)] == [0]


def test_kinds_filter_and_api_key_header_which_is_never_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PHOENIX_KEY", "tok-5ecret")
    with WebhookReceiver() as rx, run(rx.url, kinds=["upvote"], api_key_env="TEST_PHOENIX_KEY",
                                      headers={"x-tenant": "ml"}) as h:
        spans = serve(h, 2)
        pid = next(iter(spans))
        agent.log_feedback(pid, "upvote", -1)
        agent.log_feedback(pid, "label", 1)
        deliver(h)
        [a] = received(rx)
        assert a["name"] == "upvote" and a["result"]["score"] == -1.0
        req = rx.requests[0]
        assert req.header("authorization") == "Bearer tok-5ecret" and req.header("x-tenant") == "ml"
        assert total(h, n.ANNOTATIONS_SKIPPED, **{n.ATTR_REASON: n.SKIP_KIND}) == 1
        assert "tok-5ecret" not in repr(h.plugin("feedback").cfg)
        assert "tok-5ecret" not in json.dumps(h.events(), default=str)


@pytest.mark.parametrize(("phoenix", "key"), [
    ({"endpoint": "ftp://127.0.0.1:6006"}, "feedback.phoenix.endpoint"),
    ({"annotator_kind": "HUMAN"}, "feedback.phoenix.endpoint"),
    ({"endpoint": "http://127.0.0.1:6006", "annotator_kind": "ROBOT"}, "feedback.phoenix.annotator_kind"),
    ({"endpoint": "http://127.0.0.1:6006", "api_key_env": "INFERSIGHT_TEST_UNSET_VAR"},
     "feedback.phoenix.api_key_env"),
    ({"endpoint": "http://127.0.0.1:6006", "batch": 0}, "feedback.phoenix.batch"),
    ({"endpoint": "http://127.0.0.1:6006", "kinds": ["thumbs"]}, "feedback.phoenix.kinds"),
    ({"endpoint": "http://127.0.0.1:6006", "timeout": 3}, "feedback.phoenix.timeout"),
    ({"endpoint": "http://127.0.0.1:6006", "headers": {"authorization": "Bearer s3cr3t\n"}},
     "feedback.phoenix.headers.authorization"),
])
def test_bad_phoenix_config_fails_at_init_naming_the_key(phoenix: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err, run_plugin("feedback", config={"feedback": {"phoenix": phoenix}}):
        pass
    assert err.value.key == key
    assert "s3cr3t" not in str(err.value)


def test_annotation_results_from_feedback_values() -> None:
    assert annotation_result(None) == {"label": None, "score": 1.0, "explanation": None}
    assert annotation_result(True) == {"label": "true", "score": 1.0, "explanation": None}
    assert annotation_result(3) == {"label": "3", "score": 3.0, "explanation": None}
    assert annotation_result(0.5) == {"label": None, "score": 0.5, "explanation": None}
    assert annotation_result(float("nan"))["score"] is None
    assert annotation_result("spam") == {"label": "spam", "score": None, "explanation": None}
    assert annotation_result({"a": [1, 2]}) == {"label": None, "score": None, "explanation": '{"a": [1, 2]}'}


# -- a real Phoenix (optional) ------------------------------------------------------------------

@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    """A Phoenix server on 127.0.0.1 (its own working directory); yields its base URL."""
    with phoenix_server(tmp_path / "phoenix") as base:
        yield base


@needs_phoenix
def test_phoenix_shows_the_feedback_as_an_annotation_of_the_prediction_span(phoenix: str, tmp_path: Path) -> None:
    agent.init(
        exporter={"type": "otlp", "endpoint": phoenix, "protocol": "http/protobuf",  # Phoenix takes traces only
                  "signals": {"metrics": {"type": "none"}, "logs": {"type": "none"}}},
        agent={"data_dir": str(tmp_path / "data"), "stderr_level": "off"},
        plugins={"enabled": ["feedback"], "entry_points": False},
        models={"kyc": {"capture": True}},
        service={"name": "infersight-phoenix-feedback-test"},
        feedback={"export": False, "kinds": ["correctness"],
                  "phoenix": {"endpoint": phoenix, "annotator_kind": "HUMAN"}},
    )
    seen: list[tuple[str, str]] = []

    @agent.monitor(model="kyc", task="classification")
    def predict(x: dict[str, Any]) -> float:
        seen.append((agent.current_prediction_id() or "", format(trace.get_current_span().get_span_context().span_id,
                                                                  "016x")))
        return 0.75

    predict({"age": 41})
    [(pid, span_id)] = seen
    agent.log_feedback(pid, "correctness", "correct")
    assert agent.flush(30)
    agent.shutdown()  # flushes the spans and the annotation delivery
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not found:  # Phoenix inserts both asynchronously
        url = f"{phoenix}/v1/projects/default/span_annotations?span_ids={span_id}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                found = json.load(resp).get("data", [])
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # the project appears with its first span
                raise
        if not found:
            assert time.monotonic() < deadline, "phoenix never showed the annotation"
            time.sleep(0.5)
    [a] = found
    assert a["span_id"] == span_id and a["name"] == "correctness" and a["annotator_kind"] == "HUMAN"
    assert a["result"]["label"] == "correct" and a["metadata"]["prediction_id"] == pid
