"""One careful HTTP POST for plugins that deliver (notifiers, feedback annotations).

TLS verified by default, a timeout, credentials in the URL sent as Basic auth rather than
dropped, and errors that never quote a secret: a ``DeliveryError`` names the URL with
credentials and tokens masked and the error's type, never its text.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from agent._errors import DeliveryError
from agent._redact import redact_url

USER_AGENT = "infersight/0.1"


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


def post_json(url: str, body: Any, *, headers: Mapping[str, str], timeout: float, verify_tls: bool = True,
              retry_statuses: Collection[int] = (408, 429)) -> int:
    """POST ``body`` as JSON (or ``bytes`` already encoded); return the status, raise ``DeliveryError`` on failure.

    An HTTP error status is ``http_<code>``, retryable when 5xx or in ``retry_statuses``;
    no answer is ``timeout`` or ``connection``; a TLS failure ``tls``; a request that cannot
    be built ``invalid_request`` (not retryable). Messages name the URL with credentials
    and tokens masked and the error's type, never its text: urllib and http.client quote
    the URL, a header value or a port in theirs.
    """
    shown = redact_url(url)
    context = tls_context(verify_tls) if url.startswith("https:") else None
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
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
        retryable = code >= 500 or code in retry_statuses
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
