"""The recommender part of ``infersight demo``: runs through a real agent and prints the same lines for a seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import agent
from plugins.recsys.demo import demo_config, run_recommender_demo

# What the scenario prints for np.random.default_rng(7): it depends on the seeded lists only
# (count windows scored as they close), never on how fast the worker ran.
EXPECTED = [
    "  recommender          (no exploration): Gini 0.60 → 0.73, coverage 0.86 → 0.73, long-tail share "
    "0.65 → 0.51 over 15 windows — FEEDBACK LOOP flagged from window 5",
    "  recommender-explore  (10% exploration): Gini 0.53 → 0.57, coverage 0.93 → 0.88, long-tail share "
    "0.75 → 0.72 over 15 windows — no loop flagged",
]


def test_recommender_demo_prints_the_same_lines_for_a_seed(tmp_path: Path) -> None:
    config = demo_config()
    for table in ("drift", "validation"):  # those plugins are not part of this test
        config.pop(table)
    agent.init(config, agent={"data_dir": str(tmp_path), "stderr_level": "off"}, exporter={"type": "none"},
               plugins={"enabled": ["recsys", "feedback"], "entry_points": False})
    try:
        lines = run_recommender_demo(np.random.default_rng(7), [])
    finally:
        agent.shutdown()
    assert lines[-2:] == EXPECTED
