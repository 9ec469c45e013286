"""The recommender part of ``infersight demo``: a feedback loop that develops, and one that exploration prevents.

Two recommenders retrain on their own clicks (``simulate.py``); both are served through
``@agent.monitor`` with their ranked lists captured as outputs, and every click goes
through ``agent.log_feedback`` with its position and propensity. The recsys plugin
measures each window; without exploration Gini rises while coverage falls and the loop
is flagged, with 10% epsilon-greedy exploration it is not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import agent
from agent.plugin import running_plugin
from plugins.recsys.exploration import ExploredList
from plugins.recsys.simulate import SimulationConfig, rounds, setup

SCENARIOS = (("recommender", 0.0, "no exploration"), ("recommender-explore", 0.1, "10% exploration"))
N_ITEMS = 500
LISTS_PER_ROUND = 300


def demo_config() -> dict[str, Any]:
    """The config tables the recommender scenario needs (merged into the demo's config)."""
    names = [name for name, _, _ in SCENARIOS]
    return {
        "models": {name: {"version": "1.0", "task": "recommendation", "capture": True} for name in names},
        # Count windows of one round each, scored as they close (no grace period): what is
        # printed depends only on the seeded lists, never on when the worker ran.
        "recsys": {"window": {"type": "count", "size": LISTS_PER_ROUND}, "catalog_size": N_ITEMS,
                   "click_grace_s": 0},
        "feedback": {"click_grace_s": 0},
        # The reference set for these models is the training interaction log (item popularity for
        # the recsys plugin), not the request features: drift and schema inference stay off them.
        "drift": {"models": {name: {"enabled": False} for name in names}},
        "validation": {"models": {name: {"infer_from_reference": False} for name in names}},
    }


def run_recommender_demo(rng: np.random.Generator, events: list[dict[str, Any]]) -> list[str]:
    """Serve both scenarios through the agent; return the lines the demo prints."""
    lines = ["", f"[2/2] Recommenders retraining on their own clicks ({N_ITEMS} items, {LISTS_PER_ROUND} lists "
             "per window): one without exploration, one with 10% epsilon-greedy exploration."]
    seed = int(rng.integers(0, 2**16))
    for model, exploration, label in SCENARIOS:
        complete = _serve(model, SimulationConfig(n_items=N_ITEMS, lists_per_round=LISTS_PER_ROUND,
                                                  exploration=exploration, seed=seed))
        lines.append(_describe(model, label, complete))
    return lines


def _serve(model: str, cfg: SimulationConfig) -> bool:
    """Serve every round through ``@agent.monitor`` and ``agent.log_feedback``; False if the worker fell behind."""
    world = setup(cfg)
    # The training interactions define item popularity (head vs long tail) for ARP and APLT.
    training = [{"item_id": item} for item, n in world.training_popularity.items() for _ in range(n)]
    agent.set_reference(model, training or [{"item_id": world.catalog[0]}])
    served: dict[str, ExploredList] = {}

    @agent.monitor(model=model, version="1.0", task="recommendation",
                   prediction_id=lambda request: request["request_id"])
    def recommend(request: dict[str, Any]) -> dict[str, Any]:
        return served[request["request_id"]].as_output()

    for rd in rounds(cfg):
        clicks: dict[int, list[int]] = {}
        for list_no, position in rd.clicks:
            clicks.setdefault(list_no, []).append(position)
        for list_no, shown in enumerate(rd.lists):
            request_id = f"{model}-{rd.index}-{list_no}"
            served[request_id] = shown
            recommend({"request_id": request_id, "user": list_no})
        # The round's clicks follow its lists: logged per list, each click (a control operation
        # ordered with the calls around it) would cut the captures into one batch per row.
        for list_no, shown in enumerate(rd.lists):
            request_id = f"{model}-{rd.index}-{list_no}"
            for position in clicks.get(list_no, []):
                agent.log_feedback(request_id, "click", model=model, item_id=str(shown.items[position]),
                                   position=position, attributes=shown.feedback_attributes(position))
        served.clear()
        # Each round's window is scored before the next round starts, whatever the load:
        # what is printed never depends on how fast the worker ran.
        if not _settle():
            return False
    return True


def _settle(attempts: int = 6, timeout: float = 10.0) -> bool:
    """Wait until the worker has processed everything queued (a busy machine may need several flushes)."""
    return any(agent.flush(timeout, exporters=False).worker for _ in range(attempts))


def _describe(model: str, label: str, complete: bool = True) -> str:
    plugin = running_plugin("recsys")
    reports = [r for r in getattr(plugin, "reports", []) if r.model == model]
    if not complete:
        return f"  {model:20} ({label}): incomplete — the agent's worker did not keep up (see its warnings)"
    if not reports:
        return f"  {model:20} ({label}): no windows scored"
    first, last = reports[0].traffic["all"], reports[-1].traffic["all"]
    flagged = [r.index for r in reports if r.verdict.flagged]
    trend = (f"Gini {first.gini:.2f} → {last.gini:.2f}, coverage {first.coverage:.2f} → {last.coverage:.2f}, "
             f"long-tail share {first.long_tail_share:.2f} → {last.long_tail_share:.2f} over {len(reports)} windows")
    verdict = f"FEEDBACK LOOP flagged from window {flagged[0]}" if flagged else "no loop flagged"
    return f"  {model:20} ({label}): {trend} — {verdict}"
