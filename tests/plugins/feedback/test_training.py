"""Impressions with their position, click, exploration flag and propensity, read back from a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import agent
from plugins.feedback.training import impressions
from plugins.recsys.exploration import epsilon_greedy

CATALOG = [f"item-{i}" for i in range(50)]


def test_impressions_join_served_lists_and_clicks_with_positions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    agent.init(agent={"data_dir": str(tmp_path), "stderr_level": "off"}, exporter={"type": "none"},
               plugins={"enabled": ["feedback"], "entry_points": False},
               models={"shelf": {"task": "recommendation", "capture": True}})

    @agent.monitor(model="shelf", version="1")
    def recommend(user: dict[str, int]) -> dict[str, Any]:
        return {**epsilon_greedy(CATALOG[:20], CATALOG, epsilon=0.2, k=5, rng=rng).as_output(),
                "prediction_id": agent.current_prediction_id()}

    served = [recommend({"user": i}) for i in range(10)]
    agent.flush()  # the worker stores the served lists
    for out in served[:4]:
        agent.log_feedback(str(out["prediction_id"]), "click", item_id=out["items"][2], position=2,
                           attributes={"exploration": out["exploration"][2], "pscore": out["pscore"][2]})
    agent.flush()
    agent.shutdown()

    rows = list(impressions(tmp_path / "feedback.sqlite", model="shelf"))
    assert len(rows) == 10 * 5
    assert {r.position for r in rows} == set(range(5))
    clicked = [r for r in rows if r.clicked]
    assert [(r.prediction_id, r.position) for r in clicked] == [(str(o["prediction_id"]), 2) for o in served[:4]]
    first = served[0]
    row = next(r for r in rows if r.prediction_id == first["prediction_id"] and r.position == 1)
    assert (row.item_id, row.exploration, row.pscore) == (first["items"][1], first["exploration"][1],
                                                          first["pscore"][1])
