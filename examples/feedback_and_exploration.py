"""Log feedback against predictions, and serve a recommender with epsilon-greedy exploration.

Run: python examples/feedback_and_exploration.py
Labels and clicks are durable in ./infersight-data/feedback.sqlite when log_feedback returns;
the feedback and recsys plugins turn them into ml.performance.* and ml.recsys.* metrics.
"""

from __future__ import annotations

import numpy as np

import agent
from plugins.recsys.exploration import epsilon_greedy

CATALOG = [f"item-{i}" for i in range(200)]


@agent.monitor(model="churn", version="2.0", task="classification", capture=True)
def predict_churn(features: dict[str, float]) -> float:
    """Probability of churn; the caller keeps agent.current_prediction_id() for the label."""
    return float(1 / (1 + np.exp(-(features["complaints"] - 1.0))))


@agent.monitor(model="shelf", version="1.0", task="recommendation", capture=True)
def recommend(user: dict[str, int], *, rng: np.random.Generator) -> dict[str, object]:
    """Top-10 by popularity, with 10% of slots explored at random (propensities recorded)."""
    ranked = CATALOG[: 50]  # the "model": the 50 most popular items, best first
    shown = epsilon_greedy(ranked, CATALOG, epsilon=0.1, k=10, rng=rng)
    return {**shown.as_output(), "prediction_id": agent.current_prediction_id()}


def main() -> None:
    """Serve, then log labels and clicks as they would arrive."""
    agent.init(
        models={"shelf": {"task": "recommendation"}},
        recsys={"window": {"size": 50}, "catalog_size": len(CATALOG), "click_grace_s": 0},
        feedback={"window": {"size": 50}, "click_grace_s": 0},
    )
    rng = np.random.default_rng(1)
    for _ in range(200):
        features = {"complaints": float(rng.poisson(1))}
        score = predict_churn(features)
        pid = agent.current_prediction_id()  # None outside the call: return it from your endpoint instead
        assert pid is None and 0 <= score <= 1
    with agent.observe(model="churn", inputs={"complaints": 3.0}) as call:
        call.set_output(predict_churn.__wrapped__({"complaints": 3.0}))  # type: ignore[attr-defined]
    agent.log_feedback(call.prediction_id or "", "label", 1)  # ground truth, days later
    for _ in range(200):
        served = recommend({"user": int(rng.integers(1000))}, rng=rng)
        items = served["items"]
        assert isinstance(items, list)
        position = int(rng.integers(10))
        if rng.random() < 0.3:  # the user clicks one slot
            agent.log_feedback(
                str(served["prediction_id"]), "click", item_id=items[position], position=position,
                attributes={"exploration": served["exploration"][position],  # type: ignore[index]
                            "pscore": served["pscore"][position]},  # type: ignore[index]
            )
    agent.shutdown()
    print("feedback stored in ./infersight-data/feedback.sqlite; metrics in ./infersight-data/telemetry/")


if __name__ == "__main__":
    main()
