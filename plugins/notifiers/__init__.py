"""Built-in notifier plugins, one per channel type: log, webhook, alertmanager, otlp, email.

Each implements ``infersight_notify`` and returns None for channel types it does not own,
so a third-party plugin adds a channel type the same way. Failures are ``DeliveryError``
(``agent.plugin``) with a secret-free message. Every name they emit is in
``plugins.notifiers.names``.
"""

from __future__ import annotations

from plugins.notifiers import names
from plugins.notifiers.alertmanager import AlertmanagerNotifier
from plugins.notifiers.email import EmailNotifier
from plugins.notifiers.log import LogNotifier
from plugins.notifiers.otlp import OtlpNotifier
from plugins.notifiers.plugin import make_plugins
from plugins.notifiers.webhook import WebhookNotifier

__all__ = [
    "AlertmanagerNotifier",
    "EmailNotifier",
    "LogNotifier",
    "OtlpNotifier",
    "WebhookNotifier",
    "make_plugins",
    "names",
]
