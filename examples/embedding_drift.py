"""Drift of an embedding feature: one vector per request, tested as one feature.

Run: python examples/embedding_drift.py   (telemetry goes to ./infersight-data/)

The model takes a 64-d vector (scikit-learn's digits images, standing in for a sentence or
image embedding) and a scalar. Its reference is the training data, given as a dict of
columns where the embedding is a 2-D array (one vector per row). Three windows of 200
requests follow: a fresh sample of the same digits (no drift), a sample of digits 0-4 only
(a class-mix change: every pixel's marginal moves a little, the vectors move a lot), and
the same digits with noise added. Each window's vector test (MMD after a projection fitted
on the reference, and a domain classifier's held-out AUC) is printed with its effect.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

import agent
from agent.plugin import running_plugin

WINDOW = 200


def main() -> None:
    """Set the reference, serve three windows, print the vector feature's verdict for each."""
    digits = load_digits()
    X, y = digits.data, digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, live = order[:1000], order[1000:]
    agent.init(models={"digits": {"capture": True}}, agent={"stderr_level": "error"},
               drift={"window": {"type": "count", "size": WINDOW}})
    agent.set_reference("digits", {"pixels": X[train], "brightness": X[train].mean(axis=1)})

    @agent.monitor(model="digits", task="classification")
    def classify(request: dict[str, object]) -> int:
        return int(np.asarray(request["pixels"]).sum()) % 10  # stands in for the real model

    windows = {
        "same digits": X[live[:WINDOW]],
        "digits 0-4 only": X[live[y[live] <= 4][:WINDOW]],
        "noise added (sd 4)": X[live[WINDOW:2 * WINDOW]] + rng.normal(0, 4, size=(WINDOW, X.shape[1])),
    }
    drift = running_plugin("drift")
    for name, vectors in windows.items():
        for v in vectors:
            classify({"pixels": v.tolist(), "brightness": float(v.mean())})
        agent.flush(60)
        results = {r.feature: r for r in drift.latest("digits")} if drift is not None else {}
        pixels = results.get("pixels")
        if pixels is None:
            print(f"{name:20} no result (is the drift plugin enabled?)")
            continue
        verdict = "DRIFT" if pixels.drifted else "no drift"
        print(f"{name:20} {verdict:8}  p = {pixels.p_value:.3f}  held-out AUC = {pixels.effects['auc']:.2f}  "
              f"AUC above chance, noise-corrected = {pixels.corrected_effect:.2f} (threshold {pixels.threshold:g})")
    agent.shutdown()


if __name__ == "__main__":
    main()
