"""The ``notifiers`` entry point: one instance of every built-in notifier."""

from __future__ import annotations

from plugins.notifiers.alertmanager import AlertmanagerNotifier
from plugins.notifiers.email import EmailNotifier
from plugins.notifiers.log import LogNotifier
from plugins.notifiers.otlp import OtlpNotifier
from plugins.notifiers.webhook import WebhookNotifier


def make_plugins() -> list[object]:
    """One instance of every built-in notifier, each registered as its own plugin."""
    return [LogNotifier(), WebhookNotifier(), AlertmanagerNotifier(), OtlpNotifier(), EmailNotifier()]
