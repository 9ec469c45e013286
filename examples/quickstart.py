"""Monitor a scikit-learn-style model with one decorator; telemetry goes to ./infersight-data/.

Run: python examples/quickstart.py   (then look at infersight-data/telemetry/*.jsonl)
Export to a collector instead: OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

import numpy as np

import agent


class Model:
    """A stand-in classifier: logistic regression with fixed weights."""

    weights = np.array([0.8, -0.5, 0.3])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class per row."""
        return 1.0 / (1.0 + np.exp(-(np.atleast_2d(x) @ self.weights)))


MODEL = Model()


@agent.monitor(model="churn", version="1.4", task="classification", capture=True)
def predict_one(features: dict[str, float]) -> float:
    """Single prediction from a mapping of named features."""
    x = np.array([features["tenure"], features["complaints"], features["usage"]])
    return float(MODEL.predict_proba(x)[0])


@agent.monitor(model="churn-batch", version="1.4", task="classification")
def predict_batch(rows: np.ndarray) -> np.ndarray:
    """Batch prediction: one span, N rows."""
    return MODEL.predict_proba(rows)


@agent.monitor(model="churn-async", version="1.4", task="classification")
async def predict_async(features: dict[str, float]) -> float:
    """An async endpoint: awaited inside the span."""
    await asyncio.sleep(0)
    return predict_one(features)


def main() -> None:
    """Serve a few predictions of each kind and shut down (which flushes)."""
    agent.init(models={"churn": {"feature_names": ["tenure", "complaints", "usage"]}})
    rng = np.random.default_rng(0)
    for _ in range(100):
        p = predict_one({"tenure": rng.normal(), "complaints": rng.poisson(1), "usage": rng.normal()})
        pid = agent.current_prediction_id()  # None here: only set inside the monitored call
        assert pid is None and 0.0 <= p <= 1.0
    predict_batch(rng.normal(size=(256, 3)))
    asyncio.run(predict_async({"tenure": 1.0, "complaints": 0.0, "usage": 2.0}))
    agent.shutdown()
    print("telemetry written under ./infersight-data/telemetry/")


if __name__ == "__main__":
    main()
