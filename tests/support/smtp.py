"""Loopback SMTP receiver (aiosmtpd) that records every message delivered to it.

Plain SMTP only: STARTTLS would need a certificate generated at test time, and the
``cryptography`` package is not in the venv. AUTH PLAIN/LOGIN is offered without TLS
when credentials are given (offered, not required: check ``SMTPMessage.login``), so
notifiers' login code paths can still be exercised.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support._base import LoopbackServer
from tests.support.otlp import closed_port


@dataclass(frozen=True)
class SMTPMessage:
    """One delivered message: envelope, parsed message, raw bytes and the login used (if any)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None


class _Handler:
    """aiosmtpd handler storing each DATA payload on the receiver."""

    def __init__(self, receiver: SMTPReceiver) -> None:
        self._receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Parse and record the message, then accept it."""
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        # auth_data is what _authenticate returned: the login bytes, or None without AUTH.
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        self._receiver._record(SMTPMessage(envelope.mail_from, tuple(envelope.rcpt_tos), message, bytes(raw), login))
        return "250 Message accepted for delivery"


class SMTPReceiver(LoopbackServer):
    """SMTP server on 127.0.0.1; with ``credentials`` it offers AUTH PLAIN/LOGIN (no TLS) for that login."""

    def __init__(self, port: int = 0, credentials: tuple[str, str] | None = None) -> None:
        self._cond = threading.Condition()
        self._messages: list[SMTPMessage] = []
        super().__init__(port)
        self._credentials = credentials
        self._controller: Controller | None = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        """Accept only the configured login and password."""
        if self._credentials is not None and isinstance(auth_data, LoginPassword):
            user, password = self._credentials
            if auth_data.login == user.encode() and auth_data.password == password.encode():
                return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

    def _record(self, message: SMTPMessage) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def start(self) -> None:
        """Start serving; on restart, binds the port used before."""
        if self._controller is not None:
            return
        # aiosmtpd cannot listen on port 0 (it probes its own port to check readiness).
        if self._port == 0:
            self._port = closed_port()
        auth: dict[str, Any] = {}
        if self._credentials is not None:
            # AUTH offered, not required: requiring it without TLS makes aiosmtpd warn on every
            # connection. Tests check SMTPMessage.login to see that the sender logged in.
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = Controller(_Handler(self), hostname="127.0.0.1", port=self._port, ready_timeout=5.0, **auth)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop serving."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    @property
    def host(self) -> str:
        """Always ``127.0.0.1``."""
        return "127.0.0.1"

    @property
    def messages(self) -> list[SMTPMessage]:
        """Every message delivered, in arrival order."""
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        """Forget every message received so far."""
        with self._cond:
            self._messages.clear()

    def wait_for(self, n: int = 1, timeout: float = 10.0) -> list[SMTPMessage]:
        """Block until at least ``n`` messages arrived; return them all.

        Raises AssertionError with the subjects that did arrive when ``timeout`` passes first.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= n, timeout):
                subjects = [m.message["Subject"] for m in self._messages]
                raise AssertionError(f"expected {n} messages within {timeout} s; got {subjects}")
            return list(self._messages)
