"""Write ml.drift.profile records as OTLP/JSON lines, the way the agent's file exporter does (test helper)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from plugins.fleet import ProfileBuilder, names
from plugins.fleet.codec import to_base64
from plugins.fleet.sample import offset_priorities


def profile_line(instance: str, kind: str, start: float, columns: dict[str, np.ndarray], *,
                 model: str = "m", version: str = "1", seconds: float = 60.0) -> str:
    """One OTLP/JSON export request holding one profile record from ``instance``."""
    n = len(next(iter(columns.values())))
    b = ProfileBuilder(model=model, version=version, kind=kind)
    b.add_columns(columns, offset_priorities(f"{instance}:{kind}:{start}", 0, n), start=start, end=start + seconds)
    attrs: dict[str, object] = {
        names.ATTR_MODEL: model, names.ATTR_VERSION: version, names.ATTR_PROFILE_KIND: kind,
        names.ATTR_WINDOW_START: start, names.ATTR_WINDOW_END: start + seconds, names.ATTR_PROFILE_ROWS: n,
        names.ATTR_PROFILE_DATA: to_base64(b.build()),
    }

    def value(v: object) -> dict[str, object]:
        if isinstance(v, float):
            return {"doubleValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        return {"stringValue": str(v)}

    record = {"timeUnixNano": "1", "body": {"stringValue": names.PROFILE_EVENT},
              "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()]}
    request = {"resourceLogs": [{
        "resource": {"attributes": [{"key": names.RESOURCE_INSTANCE, "value": {"stringValue": instance}}]},
        "scopeLogs": [{"scope": {"name": "infersight"}, "logRecords": [record]}],
    }]}
    return json.dumps(request, separators=(",", ":"))


def append(path: Path, *lines: str) -> None:
    """Append lines to an OTLP/JSON file (creating it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
