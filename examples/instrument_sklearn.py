"""Monitor a scikit-learn model without touching its code, and watch which features drive it.

Run: python examples/instrument_sklearn.py   (telemetry goes to ./infersight-data/)

``agent.instrument`` wraps the fitted estimator's ``predict``/``predict_proba`` on this
instance: every call is a span with latency and row counts, and (``capture = true``) its
rows reach the plugins under the estimator's own feature names, ``predict_proba`` as one
probability vector per row. The attribution plugin explains the captured rows with a
registered explainer (exact for a linear model) and compares each window's mean
|attribution| with the reference's: halfway through, the served coefficients are swapped
for ones that lean on other features, with the same inputs, and the window after that is
flagged.
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import agent
from agent.plugin import listen_events, running_plugin
from plugins import attribution


def main() -> None:
    """Train, instrument, serve batches, swap the model's reliance, report what the windows showed."""
    data = load_iris(as_frame=True)
    X, y = data.data, data.target
    model = LogisticRegression(max_iter=500).fit(X, y)

    agent.init(models={"iris": {"capture": True}}, agent={"stderr_level": "error"})
    if running_plugin("attribution") is None:  # not enabled as an entry point in this install
        agent.register_plugin(attribution.make_plugin(), name="attribution")
    windows: list[dict[str, object]] = []
    stop = listen_events(lambda e: windows.append(e) if e["event"] == "ml.attribution.window" else None)

    means = X.mean().to_numpy()

    def explain(rows: np.ndarray) -> np.ndarray:
        """Exact attributions of the *served* coefficients' log-odds, against the training means."""
        return attribution.linear_explainer(model.coef_, means)(rows)

    attribution.set_explainer("iris", explain, features=list(X.columns))
    agent.set_reference("iris", X)
    agent.instrument(model, name="iris", version="1")

    rng = np.random.default_rng(0)
    for step in range(4):
        if step == 2:  # a different artefact under the same name: it leans on the sepal features instead
            model.coef_ = model.coef_[:, ::-1].copy()
        batch = X.iloc[rng.integers(0, len(X), size=500)]
        proba = model.predict_proba(batch)  # monitored: one span, 500 rows, probability vectors captured
        assert proba.shape == (500, 3)
        agent.flush()

    agent.uninstrument(model)
    stop()
    agent.shutdown()
    for i, event in enumerate(windows, 1):
        top = [t["feature"] for t in json.loads(str(event["ml.attribution.top"]))][:2]
        distance = event.get("ml.attribution.l1_distance")
        shown = "reference" if distance is None else f"distance {float(str(distance)):.3f}"
        print(f"window {i}: relies most on {top}, {shown}, drifted={event.get('ml.attribution.drifted', False)}")
    assert any(e.get("ml.attribution.drifted") for e in windows), "the swap must be flagged"
    print("telemetry written under ./infersight-data/telemetry/")


if __name__ == "__main__":
    main()
