"""Current alert state on disk (``alerts/state.json`` in the data dir), read by ``infersight alerts``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from plugins.alerts.engine import AlertRow
from plugins.alerts.files import DIR_MODE, FILE_MODE, private_dir, write_private
from plugins.alerts.timefmt import human_duration, rfc3339

STATE_FILE = Path("alerts") / "state.json"
OUTBOX_FILE = Path("alerts") / "outbox.sqlite3"


def state_path(data_dir: Path) -> Path:
    """Where the alert state of the agent using ``data_dir`` is written."""
    return Path(data_dir) / STATE_FILE


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_state(
    data_dir: Path, rows: list[AlertRow], now: float, extra: dict[str, Any] | None = None, *,
    file_mode: int = FILE_MODE, dir_mode: int = DIR_MODE,
) -> None:
    """Atomically replace the state file (owner-only by default) with ``rows``: a temp file, then a rename."""
    path = state_path(data_dir)
    private_dir(path.parent, dir_mode)
    doc = {
        "written_at": now,
        "alerts": [{k: _clean(v) for k, v in asdict(r).items()} for r in rows],
        **(extra or {}),
    }
    write_private(path, json.dumps(doc, indent=1, sort_keys=True), file_mode)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The state document, or None when the file is absent or unreadable."""
    try:
        doc = json.loads(state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _scope(labels: dict[str, str]) -> str:
    hidden = {"alertname", "rule", "severity"}
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in hidden) or "-"


def format_alert_state(data_dir: Path) -> str:
    """Human-readable current alert state from the data directory (the output of ``infersight alerts``)."""
    doc = read_state(Path(data_dir))
    if doc is None:
        return (f"No alert state in {state_path(Path(data_dir))}: the alerts plugin has not run with this"
                " data directory (or no rules are configured).")
    written = float(doc.get("written_at", 0.0))
    alerts = doc.get("alerts", [])
    lines = [f"Alert state as of {rfc3339(written)}"]
    if doc.get("undelivered"):
        lines.append(f"Notifications awaiting delivery when written: {doc['undelivered']}")
    counts: dict[str, int] = {}
    for a in alerts:
        counts[a["state"]] = counts.get(a["state"], 0) + 1
    order = ("firing", "no_data", "pending", "resolved")
    lines.append(", ".join(f"{counts.get(s, 0)} {s}" for s in order))
    if not alerts:
        lines.append("No alerts are firing or pending.")
        return "\n".join(lines)
    lines.append("")
    header = ("STATE", "SEVERITY", "RULE", "VALUE", "CONDITION", "SINCE", "LABELS")
    table = [header]
    for a in alerts:
        value = "-" if a.get("value") is None else f"{a['value']:.4g}"
        cond = f"{a['op']} {a['threshold']:.4g}" if a.get("threshold") is not None else "-"
        since = a.get("since") or 0.0
        ago = human_duration(written - since) + " ago" if since else "-"
        if a["state"] == "resolved" and a.get("resolved_at"):
            ago = f"resolved {human_duration(written - a['resolved_at'])} ago"
        table.append((a["state"], a["severity"], a["rule"], value, cond, ago, _scope(a["labels"])))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    summaries = [(a["rule"], a["summary"]) for a in alerts if a.get("summary") and a["state"] != "pending"]
    if summaries:
        lines.append("")
        lines.extend(f"- {summary}" for _rule, summary in summaries)
    return "\n".join(lines)
