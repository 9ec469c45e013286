"""Write ``nannyml_cbpe.json``: NannyML's own CBPE estimates on ``simulate.nannyml_data()``.

Not a test. NannyML is not a dependency of the project (0.13.1 pulls ~95 packages,
xgboost, lightgbm and cloud SDKs among them, and does not import without an undeclared
statsmodels), so it ran once in a throwaway venv:

    python3 -m venv /tmp/nml && /tmp/nml/bin/pip install nannyml statsmodels
    /tmp/nml/bin/python tests/plugins/performance/make_nannyml_fixture.py

The file records the NannyML version and a checksum of the data, so a change in the data
generator is detected by the test instead of silently comparing different data.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nannyml as nml  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from simulate import nannyml_data  # noqa: E402

METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1"]


def checksum(data: dict[str, np.ndarray]) -> str:
    """SHA-256 over the arrays in key order (float64 / int64 bytes)."""
    h = hashlib.sha256()
    for k in sorted(data):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k], dtype=np.float64).tobytes())
    return h.hexdigest()


def run_binary(d: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """NannyML's binary CBPE per chunk of 1000."""
    ref = pd.DataFrame({"p": d["bin_ref_p"], "y_pred": (d["bin_ref_p"] >= 0.5).astype(int), "y": d["bin_ref_y"]})
    ana = pd.DataFrame({"p": d["bin_ana_p"], "y_pred": (d["bin_ana_p"] >= 0.5).astype(int)})
    est = nml.CBPE(y_pred_proba="p", y_pred="y_pred", y_true="y", problem_type="classification_binary",
                   metrics=METRICS, chunk_size=1000)
    est.fit(ref)
    res = est.estimate(ana).filter(period="analysis").to_df()
    return {m: [float(v) for v in res[(m, "value")]] for m in METRICS}


def run_multiclass(d: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """NannyML's multiclass CBPE per chunk of 1000 (macro averages)."""
    k = d["mc_ref_p"].shape[1]
    cols = {c: f"p{c}" for c in range(k)}

    def frame(p: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
        f = pd.DataFrame({f"p{c}": p[:, c] for c in range(k)})
        f["y_pred"] = p.argmax(axis=1)
        if y is not None:
            f["y"] = y
        return f

    est = nml.CBPE(y_pred_proba=cols, y_pred="y_pred", y_true="y", problem_type="classification_multiclass",
                   metrics=METRICS, chunk_size=1000)
    est.fit(frame(d["mc_ref_p"], d["mc_ref_y"]))
    res = est.estimate(frame(d["mc_ana_p"], None)).filter(period="analysis").to_df()
    return {m: [float(v) for v in res[(m, "value")]] for m in METRICS}


def main() -> None:
    """Run NannyML and write the fixture next to this file."""
    warnings.simplefilter("ignore")
    d = nannyml_data()
    out = {"nannyml": nml.__version__, "numpy": np.__version__, "checksum": checksum(d),
           "binary": run_binary(d), "multiclass": run_multiclass(d)}
    (HERE / "nannyml_cbpe.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
