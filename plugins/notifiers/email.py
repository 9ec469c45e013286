"""The ``email`` channel: plain-text mail over SMTP (stdlib ``smtplib``), STARTTLS on by default."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from agent.plugin import Channel, DeliveryError, Notification, hookimpl, tls_context
from plugins.notifiers.payloads import mail_subject, text_body


def build_message(n: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    """The mail for a notification: the headline as subject, every alert in the body."""
    msg = EmailMessage()
    msg["Subject"] = mail_subject(n)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg.set_content(text_body(n))
    return msg


class EmailNotifier:
    """Sends notifications by SMTP; credentials are used for ``login`` only, never logged."""

    @hookimpl
    def infersight_notify(self, notification: Notification, channel: Channel) -> bool | None:
        """Send when ``channel.type == "email"``; None for other types; raise DeliveryError on failure."""
        if channel.type != "email":
            return None
        o = channel.options
        host, port, timeout = str(o["host"]), int(o.get("port", 587)), float(o.get("timeout", 10.0))
        recipients = list(o["to"])
        where = f"{host}:{port}"
        try:
            msg = build_message(notification, str(o["from"]), recipients)
        except ValueError as exc:  # an address with a line break: the header cannot be written
            raise DeliveryError("invalid_message", f"cannot build the mail for {where}: {type(exc).__name__}",
                                retryable=False) from None
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as smtp:
                if o.get("starttls", True):
                    smtp.starttls(context=tls_context(bool(o.get("verify_tls", True))))
                if o.get("username"):
                    smtp.login(str(o["username"]), str(o.get("password", "")))
                smtp.send_message(msg, from_addr=str(o["from"]), to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError("smtp_auth", f"SMTP login refused by {where} ({exc.smtp_code})",
                                retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            retry = exc.smtp_code >= 400 and exc.smtp_code < 500
            raise DeliveryError(f"smtp_{exc.smtp_code}", f"SMTP {exc.smtp_code} from {where}",
                                retryable=retry) from None
        except TimeoutError:
            raise DeliveryError("timeout", f"no SMTP response from {where} within {timeout:g}s") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError("connection", f"SMTP to {where} failed: {type(exc).__name__}") from None
        except (UnicodeError, ValueError) as exc:  # e.g. a non-ASCII password for AUTH (its text quotes it)
            raise DeliveryError("invalid_message", f"SMTP to {where} failed: {type(exc).__name__}",
                                retryable=False) from None
        return True
