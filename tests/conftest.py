"""Shared fixtures: every test starts without a running agent and without OTEL_*/INFERSIGHT_* variables."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import agent


@pytest.fixture(autouse=True)
def _clean_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "INFERSIGHT_")):
            monkeypatch.delenv(name, raising=False)
    agent.shutdown()
    yield
    agent.shutdown()
