"""One replica for the multi-process test: the agent with the file exporter and the fleet plugin, serving traffic.

Run as ``python replica.py DATA_DIR INDEX SHIFT SEED``: sets the shared (seeded) reference,
serves its fifth of the traffic (seeded by SEED + INDEX) through ``@agent.monitor`` in batch
calls, and shuts down, which exports the open window. Windows are a week long (aligned), so
every replica's rows share one. Prediction ids are deterministic (``INDEX-CALL``) so the row
samples, and with them every test, are the same on every run.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pandas as pd

import agent
from agent.testing import run_plugin
from plugins.fleet import make_plugin

FEATURES = 6
REFERENCE_ROWS = 2000  # the reference sketch and the pooled window (5 x 400) stay exact: no KLL randomness
ROWS = 400


def main() -> None:
    data_dir, index, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    ref = np.random.default_rng(0).normal(size=(REFERENCE_ROWS, FEATURES))
    rows = np.random.default_rng(seed + index).normal(size=(ROWS, FEATURES))
    rows[:, :2] += shift
    cols = [f"f{j}" for j in range(FEATURES)]
    config = {"fleet": {"window": {"type": "time", "seconds": 7 * 86400}}}
    with run_plugin(make_plugin, config=config, exporter={"type": "file"},
                    agent={"data_dir": data_dir, "stderr_level": "off"}):
        agent.set_reference("m", pd.DataFrame(ref, columns=cols))

        calls = itertools.count()

        @agent.monitor(model="m", version="1", capture=True, prediction_id=lambda *_: f"{index}-{next(calls)}")
        def predict(batch: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(batch))

        for chunk in np.array_split(rows, 8):
            predict(pd.DataFrame(chunk, columns=cols))


if __name__ == "__main__":
    main()
