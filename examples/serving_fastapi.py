"""Serve a monitored model with FastAPI: prediction ids in a response header, trace context, a feedback route.

Run: python examples/serving_fastapi.py   (needs fastapi and uvicorn: pip install 'infersight[asgi]' fastapi uvicorn)

It starts the service on 127.0.0.1 (a free port), calls it as a client would (with a W3C
``traceparent`` header, as an upstream service instrumented with OpenTelemetry sends),
posts a label for the returned prediction id to ``POST /feedback``, and stops. Telemetry
goes to ./infersight-data/; the label is durable in ./infersight-data/feedback.sqlite.
In production you run the app with ``uvicorn examples.serving_fastapi:app`` instead.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI

import agent
from agent.asgi import InferSightMiddleware

WEIGHTS = {"tenure": -0.8, "complaints": 0.9, "usage": -0.3}


@agent.monitor(model="churn", version="1.4", task="classification", capture=True)
def predict(features: dict[str, float]) -> float:
    """Probability of churn from a mapping of named features."""
    z = sum(WEIGHTS[k] * features[k] for k in WEIGHTS)
    return float(1.0 / (1.0 + np.exp(-z)))


app = FastAPI(title="churn")
app.add_middleware(InferSightMiddleware)  # X-Prediction-Id header, traceparent, POST /feedback


@app.post("/predict")
def predict_route(features: dict[str, float]) -> dict[str, float]:
    """One prediction; the middleware returns its id in the X-Prediction-Id header."""
    return {"churn": predict(features)}


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.headers, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.load(err)


def main() -> None:
    """Start the service, call it, send feedback, stop."""
    agent.init(plugins={"enabled": ["feedback"]})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before the server thread runs: the first request waits in the backlog
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        status, headers, body = _post(f"{base}/predict", {"tenure": 2.0, "complaints": 3.0, "usage": 1.0},
                                      {"traceparent": traceparent})
        pid = headers["X-Prediction-Id"]
        print(f"predict: {status} {body} X-Prediction-Id={pid} (its span is in trace 4bf92f35...)")
        status, _, body = _post(f"{base}/feedback", {"prediction_id": pid, "kind": "label", "value": 1})
        print(f"feedback: {status} {body}")
        status, _, body = _post(f"{base}/feedback", {"prediction_id": pid, "kind": "lable", "value": 1})
        print(f"bad feedback: {status} {body}")
        assert status == 400 and body["field"] == "kind"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    agent.shutdown()
    print("telemetry written under ./infersight-data/telemetry/")


if __name__ == "__main__":
    main()
