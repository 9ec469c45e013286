"""Spans that Arize Phoenix renders: OpenInference kind, input and output, redaction first.

Run: python examples/openinference_spans.py   (telemetry goes to ./infersight-data/)
     PHOENIX_URL=http://127.0.0.1:6006 python examples/openinference_spans.py   (traces to Phoenix)

A support-ticket router is monitored with capture and OpenInference attributes on. Its
requests carry an e-mail address (dropped before anything is recorded) and a customer id
(pseudonymised). The script prints the attributes of the call's span as they were written:
the span kind, the input and output values and their mime types.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import agent

MODEL = {"capture": True, "openinference": True, "redact_drop": ["email"], "redact_hash": ["customer"]}


def main() -> None:
    """Route one ticket, then show its span's OpenInference attributes."""
    phoenix = os.environ.get("PHOENIX_URL")
    exporter: dict[str, Any] = {"type": "file"}
    if phoenix:  # Phoenix takes traces only; keep the local files for the printout below
        exporter = {"type": ["otlp", "file"], "endpoint": phoenix, "protocol": "http/protobuf",
                    "signals": {"metrics": {"type": "file"}, "logs": {"type": "file"}}}
    agent.init(exporter=exporter, models={"router": MODEL}, agent={"stderr_level": "error"})

    @agent.monitor(model="router", version="1", task="classification")
    def route(ticket: dict[str, Any]) -> dict[str, Any]:
        urgent = "refund" in str(ticket["text"]).lower()
        return {"queue": "billing" if urgent else "general", "urgent": urgent}

    route({"text": "I want a refund for order 1234", "email": "ada@example.com", "customer": "c-42"})
    agent.flush(30)
    agent.shutdown()

    traces = Path(os.environ.get("INFERSIGHT_DATA_DIR", "infersight-data")) / "telemetry" / "traces.jsonl"
    for line in traces.read_text(encoding="utf-8").splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}
                    if attrs.get("ml.model.name") != "router":
                        continue
                    for key in ("openinference.span.kind", "input.mime_type", "input.value",
                                "output.mime_type", "output.value"):
                        print(f"{key:24} {attrs.get(key)}")


if __name__ == "__main__":
    main()
