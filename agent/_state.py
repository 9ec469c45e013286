"""The agent's global state, in one labelled place.

``AGENT`` is the running agent (None before ``init`` and after ``shutdown``). The hot
path reads it once per call; ``GENERATION`` changes whenever the agent is (re)built —
init, shutdown, fork — so decorated functions know to re-bind their cached runtime. ``ARTIFACTS`` holds what
``agent.record_artifact`` identified, which may happen before ``init``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent._agent import Agent
    from agent._types import ArtifactIdentity

AGENT: Agent | None = None
HOOKS_REGISTERED = False  # atexit and at-fork hooks, registered once per process
ARTIFACTS: dict[str, ArtifactIdentity] = {}  # agent.record_artifact, by model; kept across init/shutdown
LOCK = threading.RLock()  # serialises init/shutdown/fork re-init; never taken on the hot path
