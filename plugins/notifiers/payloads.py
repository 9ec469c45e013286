"""Pure payload builders: Alertmanager webhook v4, Alertmanager API v2 alerts, Slack text, email text.

Label values, summaries and descriptions come from request data (a feature name, a model
name) through templates, so text for a markup is escaped for that markup: Slack's
``&``, ``<`` and ``>`` (a value cannot post ``<!channel>`` or a disguised link) and the
plain-text mentions that Slack-compatible chats expand (``@channel``, ``@here``). Mail
subjects lose line breaks. JSON payloads carry data, not markup, and are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.plugin import Alert, Notification
from plugins.notifiers.timefmt import rfc3339

_MENTION = re.compile(r"@(channel|here|everyone|all)\b", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_alert(a: Alert) -> dict[str, Any]:
    """One entry of ``alerts[]`` in the Alertmanager webhook payload."""
    return {
        "status": a.status,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(a.ends_at),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
    }


def alertmanager_webhook_payload(n: Notification, *, external_url: str = "", max_alerts: int = 0) -> dict[str, Any]:
    """The Alertmanager webhook body (version "4"), so receivers written for Alertmanager work unchanged."""
    alerts = list(n.alerts)
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common([a.labels for a in n.alerts]),
        "commonAnnotations": _common([a.annotations for a in n.alerts]),
        "externalURL": external_url,
        "alerts": [webhook_alert(a) for a in alerts],
    }


def alertmanager_api_alerts(n: Notification) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts``: one postable alert per alert (endsAt omitted when unset)."""
    out = []
    for a in n.alerts:
        item: dict[str, Any] = {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "startsAt": rfc3339(a.starts_at),
            "generatorURL": a.generator_url,
        }
        if a.ends_at is not None:
            item["endsAt"] = rfc3339(a.ends_at)
        out.append(item)
    return out


def headline(n: Notification) -> str:
    """One line naming the status, the group and how many alerts: "[FIRING:2] drift-high model=fraud"."""
    firing = sum(1 for a in n.alerts if a.status == "firing")
    count = firing if n.status == "firing" else len(n.alerts)
    group = " ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items()))
    return f"[{n.status.upper()}:{count}] {group}".rstrip()


def text_body(n: Notification) -> str:
    """Plain-text rendering of a notification: one block per alert with summary and description."""
    lines = [headline(n), ""]
    for a in n.alerts:
        lines.append(f"* {a.status.upper()} [{a.severity}] {a.annotations.get('summary', a.rule)}")
        if a.annotations.get("description"):
            lines.append(f"  {a.annotations['description']}")
        lines.append(f"  started {rfc3339(a.starts_at)}"
                     + (f", ended {rfc3339(a.ends_at)}" if a.status == "resolved" and a.ends_at else ""))
        lines.append(f"  labels: {', '.join(f'{k}={v}' for k, v in sorted(a.labels.items()))}")
    return "\n".join(lines)


def slack_escape(text: str) -> str:
    """``text`` safe inside Slack mrkdwn: ``&<>`` as entities (no links, ``<!channel>`` or ``<@user>``),
    and ``@channel``/``@here``/``@everyone``/``@all`` broken so no chat expands them into a mention."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(lambda m: "@" + _ZERO_WIDTH_SPACE + m.group(1), escaped)


def slack_payload(n: Notification) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body (``text`` in mrkdwn); every piece of data escaped."""
    parts = [f"*{slack_escape(headline(n))}*"]
    for a in n.alerts:
        icon = ":red_circle:" if a.status == "firing" else ":large_green_circle:"
        parts.append(f"{icon} *{slack_escape(a.annotations.get('summary', a.rule))}*")
        if a.annotations.get("description"):
            # One quote marker per line: a line break in the data cannot step out of the quote.
            quoted = "\n".join(f"> {line}" for line in slack_escape(a.annotations["description"]).splitlines())
            parts.append(quoted)
    return {"text": "\n".join(parts)}


def mail_subject(n: Notification) -> str:
    """The mail subject: the headline on one line (a label value cannot add a header)."""
    return " ".join(f"InferSight {headline(n)}".split())

