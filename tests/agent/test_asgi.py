"""``agent.asgi.InferSightMiddleware`` in a real uvicorn server on 127.0.0.1, called over HTTP.

The server listens on a socket bound before its thread starts, so a request made at once
waits in the socket's backlog: no sleep, no polling. Spans are read from the agent's
in-memory exporter, feedback from the feedback plugin's SQLite store.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import agent
from agent.asgi import InferSightMiddleware
from agent.testing import CapturedTelemetry, capture_telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Server:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread; the socket listens before the thread starts."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        self.client = httpx.Client(base_url=self.url, timeout=20)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@agent.monitor(model="churn", version="2", task="classification", capture=True)
def score(features: dict[str, float]) -> float:
    return 0.5 * features["tenure"] + 0.1


def fastapi_app() -> Any:
    app = FastAPI()

    @app.post("/predict")
    async def predict(features: dict[str, float]) -> dict[str, float]:
        return {"score": score(features)}

    @app.post("/predict-sync")
    def predict_sync(features: dict[str, float]) -> dict[str, float]:  # FastAPI runs it in a worker thread
        return {"score": score(features)}

    @app.post("/twice")
    async def twice(features: dict[str, float]) -> dict[str, float]:
        return {"a": score(features), "b": score(features)}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(InferSightMiddleware)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with Server(fastapi_app()) as c:
        yield c


@pytest.fixture
def tel() -> Iterator[CapturedTelemetry]:
    with capture_telemetry(plugins={"enabled": ["feedback"], "entry_points": False}) as t:
        yield t


def _predict_span(tel: CapturedTelemetry) -> Any:
    assert tel.flush()
    (span,) = [s for s in tel.spans() if s.name == "predict churn"]
    return span


@pytest.mark.parametrize("path", ["/predict", "/predict-sync"])
def test_the_response_names_the_prediction_and_the_span_joins_the_callers_trace(
        client: httpx.Client, tel: CapturedTelemetry, path: str) -> None:
    resp = client.post(path, json={"tenure": 2.0}, headers={"traceparent": TRACEPARENT})
    assert resp.status_code == 200 and resp.json() == {"score": 1.1}
    span = _predict_span(tel)
    assert resp.headers["x-prediction-id"] == span.attributes["ml.prediction.id"]
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID and span.parent.is_remote


def test_without_traceparent_the_span_starts_a_trace_and_the_id_is_still_returned(
        client: httpx.Client, tel: CapturedTelemetry) -> None:
    resp = client.post("/predict", json={"tenure": 1.0})
    span = _predict_span(tel)
    assert span.parent is None
    assert resp.headers["x-prediction-id"] == span.attributes["ml.prediction.id"]


def test_every_call_of_a_request_is_listed_in_order_and_none_without_a_call(
        client: httpx.Client, tel: CapturedTelemetry) -> None:
    resp = client.post("/twice", json={"tenure": 1.0})
    assert tel.flush()
    ids = [s.attributes["ml.prediction.id"] for s in tel.spans() if s.name == "predict churn"]
    assert resp.headers["x-prediction-id"].split(",") == ids and len(ids) == 2
    assert "x-prediction-id" not in client.get("/health").headers


def test_feedback_posted_for_a_returned_id_is_stored_and_reaches_the_plugins(
        client: httpx.Client, tel: CapturedTelemetry) -> None:
    pid = client.post("/predict", json={"tenure": 1.0}).headers["x-prediction-id"]
    resp = client.post("/feedback", json={"prediction_id": pid, "kind": "label", "value": 1,
                                          "attributes": {"source": "crm"}})
    assert resp.status_code == 201
    body = resp.json()
    assert body["prediction_id"] == pid and body["kind"] == "label" and body["event_id"]
    assert tel.flush()
    store = tel.plugin("feedback").store
    stored = [(e.event.prediction_id, e.event.kind, e.event.value, dict(e.event.attributes)) for e in store.after(0)]
    assert stored == [(pid, "label", 1, {"source": "crm"})]
    assert [e.prediction_id for e in tel.feedback] == [pid]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "label", "value": 1}, "prediction_id"),
    ({"prediction_id": "", "kind": "label", "value": 1}, "prediction_id"),
    ({"prediction_id": "p1", "kind": 3}, "kind"),
    ({"prediction_id": "p1", "kind": "clik"}, "kind"),  # an unknown kind: the feedback plugin refuses it
    ({"prediction_id": "p1", "kind": "label"}, "value"),  # a label needs a value
    ({"prediction_id": "p1", "kind": "click", "position": -1}, "position"),
    ({"prediction_id": "p1", "kind": "click", "position": True}, "position"),
    ({"prediction_id": "p1", "kind": "click", "timestamp": "yesterday"}, "timestamp"),
    ({"prediction_id": "p1", "kind": "click", "attributes": [1]}, "attributes"),
    ({"prediction_id": "p1", "kind": "click", "item_id": 1.5}, "item_id"),
    ({"predictionId": "p1", "kind": "click"}, "predictionId"),
    ([{"prediction_id": "p1"}], "body"),
])
def test_bad_feedback_is_a_400_naming_the_field(
        client: httpx.Client, tel: CapturedTelemetry, body: Any, field: str) -> None:
    resp = client.post("/feedback", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["field"] == field and resp.json()["error"]


def test_feedback_that_is_not_json_too_large_or_not_posted_is_refused(
        client: httpx.Client, tel: CapturedTelemetry) -> None:
    resp = client.post("/feedback", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["field"] == "body"
    big = json.dumps({"prediction_id": "p", "kind": "click", "attributes": {"x": "y" * 70_000}})
    assert client.post("/feedback", content=big).status_code == 413
    resp = client.get("/feedback")
    assert resp.status_code == 405 and resp.headers["allow"] == "POST"


def test_without_an_agent_feedback_is_a_503_and_predictions_still_work(client: httpx.Client) -> None:
    resp = client.post("/feedback", json={"prediction_id": "p1", "kind": "click"})
    assert resp.status_code == 503 and "not running" in resp.json()["error"]
    resp = client.post("/predict", json={"tenure": 1.0})
    assert resp.status_code == 200 and "x-prediction-id" not in resp.headers


def test_a_plain_asgi_app_with_its_own_header_name_and_its_own_feedback_route(tel: CapturedTelemetry) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = json.dumps({"path": scope["path"], "score": score({"tenure": 3.0})}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    wrapped = InferSightMiddleware(app, header="Prediction-Id", feedback_path=None)
    with Server(wrapped) as c:
        resp = c.post("/feedback", json={})  # no feedback route: the app answers
    assert resp.json()["path"] == "/feedback"
    span = _predict_span(tel)
    assert resp.headers["prediction-id"] == span.attributes["ml.prediction.id"]


def test_bad_middleware_options_are_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="feedback_path"):
        InferSightMiddleware(app, feedback_path="feedback")
    with pytest.raises(ValueError, match="header"):
        InferSightMiddleware(app, header="")
    with pytest.raises(ValueError, match="max_body"):
        InferSightMiddleware(app, max_body=0)
