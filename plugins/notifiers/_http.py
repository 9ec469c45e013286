"""One careful HTTP POST for notifiers: TLS verified by default, timeout, errors without secrets."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from agent.plugin import DeliveryError, redact_url

USER_AGENT = "infersight-alerts/0.1"


def tls_context(verify: bool) -> ssl.SSLContext:
    """The default verifying context, or (explicitly configured) one that skips verification."""
    if verify:
        return ssl.create_default_context()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without ``user:pass@`` and the matching Basic ``Authorization`` value (urllib sends neither)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    creds = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
    return urlunsplit(parts._replace(netloc=netloc)), "Basic " + base64.b64encode(creds).decode()


def post_json(url: str, body: Any, *, headers: Mapping[str, str], timeout: float, verify_tls: bool = True) -> int:
    """POST ``body`` as JSON; return the status, raise ``DeliveryError`` (secret-free) on failure.

    Messages name the URL with credentials and tokens masked and the error's type, never
    its text: urllib and http.client quote the URL, a header value or a port in theirs.
    """
    shown = redact_url(url)
    context = tls_context(verify_tls) if url.startswith("https:") else None
    try:
        data = json.dumps(body).encode()
        target, basic = split_userinfo(url)
        req = urllib.request.Request(target, data=data, method="POST")
        if basic is not None:
            req.add_header("Authorization", basic)
        req.add_header("Content-Type", "application/json")
        req.add_header("User-Agent", USER_AGENT)
        for name, value in headers.items():
            req.add_header(name, value)
    except ValueError as exc:  # a malformed URL or port
        raise DeliveryError("invalid_request", f"cannot build a request to {shown}: {type(exc).__name__}",
                            retryable=False) from None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
        retryable = code >= 500 or code in (408, 429)
        raise DeliveryError(f"http_{code}", f"HTTP {code} from {shown}", retryable=retryable) from None
    except TimeoutError:
        raise DeliveryError("timeout", f"no response from {shown} within {timeout:g}s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            raise DeliveryError("timeout", f"no response from {shown} within {timeout:g}s") from None
        if isinstance(exc.reason, ssl.SSLError):
            raise DeliveryError("tls", f"TLS error talking to {shown}: {type(exc.reason).__name__}",
                                retryable=False) from None
        kind = type(exc.reason).__name__ if isinstance(exc.reason, BaseException) else "error"
        raise DeliveryError("connection", f"cannot reach {shown}: {kind}") from None
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        raise DeliveryError("connection", f"cannot reach {shown}: {type(exc).__name__}") from None
    except ValueError as exc:  # http.client: a header value with a line break, a bad port (text quotes them)
        raise DeliveryError("invalid_request", f"cannot send to {shown}: {type(exc).__name__}",
                            retryable=False) from None
