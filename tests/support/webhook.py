"""Loopback webhook receiver that records requests and answers from a status script.

It doubles as a fake Prometheus Alertmanager v2 API: ``POST /api/v2/alerts`` with a
JSON list is recorded like any other request, and :meth:`WebhookReceiver.alerts`
returns the alerts posted there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support._base import LoopbackServer

ALERTMANAGER_ALERTS_PATH = "/api/v2/alerts"


@dataclass(frozen=True)
class WebhookRequest:
    """One request as received, and the status it was answered with."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    json: Any  # parsed body when it is JSON, else None
    status: int

    def header(self, name: str) -> str | None:
        """Header value by case-insensitive name."""
        return self.headers.get(name.lower())


class _Handler(BaseHTTPRequestHandler):
    """Records every request, then answers with the next scripted status after its delay."""

    server: _WebhookServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging."""

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, delay = self.server.receiver._next_answer(
            lambda status: WebhookRequest(self.command, path, query, headers, body, parsed, status)
        )
        # Event wait, not sleep: stop() sets the event so a slow answer never blocks shutdown.
        if delay > 0 and self.server.receiver._stopping.wait(delay):
            return  # stopping: close the connection unanswered
        payload = b'{"status":"success"}' if 200 <= status < 300 else b'{"status":"error"}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client timed out first

    def do_POST(self) -> None:
        """Record and answer a POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Record and answer a PUT."""
        self._handle()

    def do_GET(self) -> None:
        """Record and answer a GET (health probes consume the script too)."""
        self._handle()


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _Handler)


class WebhookReceiver(LoopbackServer):
    """HTTP server on 127.0.0.1 recording each request; answers follow ``statuses``, then the default."""

    def __init__(
        self,
        statuses: Sequence[int] = (),
        default_status: int = 200,
        delay: float | Sequence[float] = 0.0,
        port: int = 0,
    ) -> None:
        self._cond = threading.Condition()
        self._requests: list[WebhookRequest] = []
        super().__init__(port)
        self._server: _WebhookServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.script(statuses, default_status, delay)

    def script(
        self, statuses: Sequence[int] = (), default_status: int = 200, delay: float | Sequence[float] = 0.0
    ) -> None:
        """Replace the answers: each request takes the next status (and delay) from the script, then defaults.

        A float ``delay`` applies to every answer; a sequence is scripted like the statuses, then 0.
        """
        with self._cond:
            self._statuses = list(statuses)
            self._default_status = default_status
            scalar = isinstance(delay, int | float)
            self._delays = [] if scalar else [float(d) for d in delay]  # type: ignore[union-attr]
            self._default_delay = float(delay) if scalar else 0.0  # type: ignore[arg-type]

    def _next_answer(self, make: Callable[[int], WebhookRequest]) -> tuple[int, float]:
        """Take the next scripted status and delay, record the request built with that status."""
        with self._cond:
            status = self._statuses.pop(0) if self._statuses else self._default_status
            delay = self._delays.pop(0) if self._delays else self._default_delay
            self._requests.append(make(status))
            self._cond.notify_all()
            return status, delay

    # lifecycle -------------------------------------------------------
    def start(self) -> None:
        """Start serving; on restart, binds the port used before."""
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = _WebhookServer(self._port, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; delayed answers are abandoned so this returns promptly."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``; append any path."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def alertmanager_url(self) -> str:
        """Base URL to configure as an Alertmanager (the client appends ``/api/v2/alerts``)."""
        return self.url

    # queries -------------------------------------------------------------
    @property
    def requests(self) -> list[WebhookRequest]:
        """Every request received, in arrival order."""
        with self._cond:
            return list(self._requests)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert posted to ``/api/v2/alerts`` (the JSON lists concatenated), in arrival order."""
        alerts: list[dict[str, Any]] = []
        for request in self.requests:
            posted = request.method == "POST" and request.path == ALERTMANAGER_ALERTS_PATH
            if posted and isinstance(request.json, list):
                alerts.extend(request.json)
        return alerts

    def clear(self) -> None:
        """Forget every request received so far (the script is kept)."""
        with self._cond:
            self._requests.clear()

    def wait_for(self, n: int = 1, timeout: float = 10.0, path: str | None = None) -> list[WebhookRequest]:
        """Block until at least ``n`` requests (to ``path`` when given) arrived; return those requests.

        Raises AssertionError listing what did arrive when ``timeout`` passes first.
        """

        def matching() -> list[WebhookRequest]:
            return [r for r in self._requests if path is None or r.path == path]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n, timeout):
                seen = [(r.method, r.path, r.status) for r in self._requests]
                where = path or "any path"
                raise AssertionError(f"expected {n} requests to {where} within {timeout} s; got {seen}")
            return matching()
