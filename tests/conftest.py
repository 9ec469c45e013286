"""Shared fixtures: every test starts without a running agent and without OTEL_*/INFERSIGHT_* variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent
from tests.support.cpu import cpu_lock


@pytest.fixture(scope="session")
def cpu_lock_file(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """This run's CPU lock file (tests/support/cpu.py) under pytest-xdist; None when one process runs all."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return tmp_path_factory.getbasetemp().parent / "cpu.lock"  # the run's directory, shared by its workers


@pytest.fixture(autouse=True)
def _timing_apart_from_burners(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("timing") is None:
        yield
        return
    with cpu_lock(request.getfixturevalue("cpu_lock_file"), shared=True):
        yield


@pytest.fixture(autouse=True)
def _clean_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "INFERSIGHT_")):
            monkeypatch.delenv(name, raising=False)
    agent.shutdown()
    yield
    agent.shutdown()


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """Small matrices, many of them: one BLAS thread is several times faster than two contended ones.

    Statistical studies use it (``pytestmark = pytest.mark.usefixtures("one_blas_thread")``).
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - installed with scikit-learn (a test dependency)
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
