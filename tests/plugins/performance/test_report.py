"""The report's data, read back from the plugin's own log events: estimates with bands, realized, q(y), decay."""

from __future__ import annotations

import numpy as np

from agent.plugin import FeedbackEvent, ModelInfo, RecordBatch
from agent.testing import ManualClock, run_plugin
from plugins.performance import make_plugin, performance_report, record_training
from plugins.performance.retrain import DAY

from .simulate import logistic

T0 = 1_700_000_000.0


def _batch(tag: str, p: np.ndarray, t: float) -> RecordBatch:
    return RecordBatch(prediction_ids=tuple(f"{tag}-{i}" for i in range(len(p))),
                       row_index=np.zeros(len(p), dtype=np.int64), timestamps=np.full(len(p), t), columns={},
                       outputs=p)


def test_report_data_from_the_exported_events() -> None:
    rng = np.random.default_rng(30)
    config = {"performance": {"window": {"size": 500}, "models": {"m": {"retrain_floor": 0.7}}},
              "models": {"m": {"task": "classification"}}}
    with run_plugin(make_plugin, config=config, clock=ManualClock(T0 + 5 * DAY)) as h:
        record_training("m", "1", T0)
        _, p, y = logistic(rng, 4000)
        h.set_reference("m", {"proba_0": 1 - p, "proba_1": p, "label": y})
        truth = []
        for day in range(5):
            _, pw, yw = logistic(rng, 500, shift=0.3 * day)
            h.process(ModelInfo("m", version="1", task="classification"), _batch(f"d{day}", pw, T0 + day * DAY))
            truth.append(yw)
        h.tick()
        h.process_feedback("m", [FeedbackEvent(event_id=f"e{i}", prediction_id=f"d0-{i}", kind="label", value=int(v))
                                 for i, v in enumerate(truth[0])])
        h.tick()
        events = h.events()
    section = performance_report(events)["m"]
    assert section.task == "classification" and section.classes == ["0", "1"]
    assert section.calibration is not None and {"ece_raw", "brier_calibrated"} <= set(section.calibration)
    acc = section.series("accuracy", "cbpe")
    assert len(acc["end"]) == 5 and acc["end"] == sorted(acc["end"])
    assert all(lo < v < hi for lo, v, hi in zip(acc["lower"], acc["estimate"], acc["upper"], strict=True))
    assert acc["realized"][0] is not None and acc["realized"][1:] == [None] * 4
    dist = section.label_distribution()
    assert len(dist["q"]) == 5 and len(dist["q"][0]) == 2 and dist["reference"] is not None
    assert section.decay is not None and section.decay["versions"] == 1
    assert section.recommendation is not None and section.recommendation["floor"] == 0.7
    assert section.to_json()["windows"][0]["errors"]["cbpe"]["accuracy"]["within_band"] in (True, False)
    points = section.decay_points("accuracy")
    assert [round(p["age_days"]) for p in points] == [0, 1, 2, 3, 4]
    assert points[0]["realized"] is not None and points[1]["realized"] is None
    (line,) = section.decay_lines().values()
    assert line[1] == section.decay["slope_per_day"]
