"""Retraining from evidence: decay over 5 retrains, the recommended interval, the Signal, the history file, the CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.plugin import ConfigError, ModelInfo, RecordBatch
from agent.testing import ManualClock, run_plugin
from plugins.performance import make_plugin, record_training
from plugins.performance import names as n
from plugins.performance.retrain import DAY, History, ModelHistory, Point, fit_decay, iso, recommend, training_record
from tests.support.cli import run_cli

T0 = 1_700_000_000.0
RELEASE = [0.93, 0.925, 0.935, 0.93, 0.928]  # accuracy at release of v1..v5
DECAY = 0.005  # 0.5 points per day
FLOOR = 0.89
ROWS = 500


def test_fit_recovers_a_pooled_slope_and_per_version_intercepts() -> None:
    mh = ModelHistory(metric="accuracy")
    for i, a0 in enumerate(RELEASE):
        mh.trainings[f"v{i}"] = training_record("m", f"v{i}", T0 + 10 * i * DAY)
        mh.points[f"v{i}"] = [Point(f"w{i}{d}", T0 + (10 * i + d) * DAY, a0 - DECAY * d) for d in range(6)]
    fit = fit_decay(mh)
    assert fit is not None and fit.versions == 5 and fit.points == 30
    assert fit.slope_per_day == pytest.approx(-DECAY)
    assert [fit.intercepts[f"v{i}"] for i in range(5)] == pytest.approx(RELEASE)
    rec = recommend(mh, fit, FLOOR, now=T0 + 42 * DAY, lead_s=7 * DAY, version="v4", model="m")
    assert rec.interval_days == pytest.approx(8.0)
    assert rec.crossing_days["v2"] == pytest.approx(9.0)
    assert rec.days_left == pytest.approx(7.6 - 2.0)
    assert rec.recommended and iso(T0 + 47.6 * DAY) in rec.description


def test_no_decay_no_crossing() -> None:
    mh = ModelHistory(metric="mae")  # lower is better: the floor is a ceiling
    mh.trainings["a"] = training_record("m", "a", T0)
    mh.points["a"] = [Point(str(d), T0 + d * DAY, 1.0 - 0.01 * d) for d in range(5)]  # getting better
    fit = fit_decay(mh)
    assert fit is not None and fit.lower_is_better
    rec = recommend(mh, fit, 1.2, now=T0 + 4 * DAY, lead_s=DAY, version="a")
    assert rec.interval_days is None and not rec.recommended


def _window(rng: np.random.Generator, accuracy: float, t: float, tag: str) -> RecordBatch:
    """Rows of a calibrated model whose expected accuracy is ``accuracy``: easy rows (0.97) and hard ones (0.55)."""
    hard = round(ROWS * (0.97 - accuracy) / 0.42)
    conf = np.r_[np.full(ROWS - hard, 0.97), np.full(hard, 0.55)]
    p1 = np.where(rng.random(ROWS) < 0.5, conf, 1 - conf)
    return RecordBatch(prediction_ids=tuple(f"{tag}-{i}" for i in range(ROWS)),
                       row_index=np.zeros(ROWS, dtype=np.int64), timestamps=np.full(ROWS, t), columns={}, outputs=p1)


def _reference(rng: np.random.Generator) -> dict[str, np.ndarray]:
    conf = np.where(rng.random(8000) < 0.7, 0.97, 0.55)
    p1 = np.where(rng.random(8000) < 0.5, conf, 1 - conf)
    return {"proba_0": 1 - p1, "proba_1": p1, "label": (rng.random(8000) < p1).astype(int)}


def _run_retrain(*argv: str) -> int:
    """``infersight retrain ARGV`` in-process through the real dispatcher; its output goes where capsys reads."""
    done = run_cli("retrain", *argv)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def test_the_installed_command_names_a_missing_history_and_exits_2(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("infersight")
    proc = subprocess.run([str(script), "retrain", "churn", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infersight retrain: error: no performance history at")


def test_five_retrains_decaying_half_a_point_a_day_give_the_floor_crossing_within_a_day(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(14)
    trained = [T0 + 10 * i * DAY for i in range(5)]
    now = trained[4] + 5 * DAY
    config = {
        "performance": {"window": {"size": ROWS}, "calibration": "none", "models": {"churn": {
            "retrain_floor": FLOOR, "retrain_lead": "7d",
            "trainings": [{"version": f"v{i + 1}", "trained_at": iso(trained[i]), "metrics": {"accuracy": RELEASE[i]}}
                          for i in range(3)],
        }}},
        "models": {"churn": {"task": "classification"}},
    }
    with run_plugin(make_plugin, config=config, clock=ManualClock(now), agent={"data_dir": str(tmp_path)}) as h:
        record_training("churn", "v4", trained[3], data_until=trained[3] - DAY, metrics={"accuracy": RELEASE[3]})
        record_training("churn", "v5", iso(trained[4]))
        h.set_reference("churn", _reference(rng))
        for i, a0 in enumerate(RELEASE):
            for day in range(10 if i < 4 else 5):
                t = trained[i] + (day + 0.5) * DAY
                h.process(ModelInfo("churn", version=f"v{i + 1}", task="classification"),
                          _window(rng, a0 - DECAY * (day + 0.5), t, f"v{i}d{day}"))
        signals = h.tick()
        # the latest evaluation (the worker's own ticks may have evaluated part of the evidence before)
        sig = [s for s in signals if s.name == n.SIGNAL_RETRAIN][-1]
        age = {p.attributes[n.ATTR_VERSION]: p.value for p in h.metric_points(n.MODEL_AGE)}
        recommended_events = h.events(n.EVENT_RETRAIN)
        assert h.plugin_errors == 0

    truth = float(np.median([(a0 - FLOOR) / DECAY for a0 in RELEASE]))  # 8.0 days
    v5_crossing = trained[4] + (RELEASE[4] - FLOOR) / DECAY * DAY
    with capsys.disabled():
        print(f"\nrecommended interval {sig.details['interval_days']:.2f} d (truth {truth:.2f} d); "
              f"v5 projected {sig.details['projected_at']} (truth {iso(v5_crossing)})")
    assert sig.value == 1.0 and sig.labels == {"model": "churn", "version": "v5", "metric": "accuracy"}
    assert abs(sig.details["interval_days"] - truth) <= 1.0
    assert abs(sig.details["slope_per_day"] + DECAY) < 0.0005
    projected = sig.details["projected_at"]
    assert projected in sig.details["description"]
    assert abs((np.datetime64(projected.rstrip("Z")) - np.datetime64(iso(v5_crossing).rstrip("Z")))
               / np.timedelta64(1, "s")) <= DAY
    assert age == {"v5": pytest.approx(5 * DAY)}
    assert len(recommended_events) == 1

    path = tmp_path / "performance" / "history.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    saved = json.loads(path.read_text())["models"]["churn"]
    assert sorted(saved["trainings"]) == ["v1", "v2", "v3", "v4", "v5"]
    assert sum(len(p) for p in saved["points"].values()) == 45

    assert _run_retrain("churn", str(tmp_path), "--now", iso(now)) == 0
    out = capsys.readouterr().out
    assert "recommended retraining interval: 8." in out or "recommended retraining interval: 7." in out
    assert "v5" in out and "(-0.50 points/day)" in out and "nothing is retrained" in out


def test_retrain_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_retrain("churn", str(tmp_path / "missing")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _run_retrain("churn", str(tmp_path)) == 2
    assert "no performance history" in capsys.readouterr().err
    (tmp_path / "performance").mkdir()
    (tmp_path / "performance" / "history.json").write_text("{not json")
    assert _run_retrain("churn", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "cannot read" in err
    History(tmp_path / "performance" / "history.json").save(0o600, 0o700)
    assert _run_retrain("other", str(tmp_path)) == 2
    assert "has no history" in capsys.readouterr().err
    assert _run_retrain("churn", str(tmp_path), "--record", "v1") == 2
    assert "--trained-at" in capsys.readouterr().err


def test_retrain_cli_records_a_training_and_prints_without_enough_evidence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_retrain("churn", str(tmp_path), "--record", "v9", "--trained-at", "2024-05-01T00:00:00Z",
                        "--metric", "accuracy=0.91") == 0
    assert _run_retrain("churn", str(tmp_path), "--floor", "nope") == 2
    capsys.readouterr()
    assert _run_retrain("churn", str(tmp_path), "--floor", "0.9") == 0
    out = capsys.readouterr().out
    assert "v9" in out and "2024-05-01T00:00:00Z" in out and "not enough evidence" in out


def test_trainings_in_config_are_checked_and_only_per_model() -> None:
    bad = [
        ({"trainings": [{"version": "1", "trained_at": "2024-01-01"}]}, "performance.trainings"),
        ({"models": {"m": {"trainings": [{"version": "1", "trained_at": "yesterday"}]}}},
         "performance.models.m.trainings[0].trained_at"),
        ({"models": {"m": {"trainings": [{"version": "1", "trained_at": 1.0, "when": 2}]}}},
         "performance.models.m.trainings[0].when"),
        ({"models": {"m": {"retrain_floor": -1}}}, "performance.models.m.retrain_floor"),
    ]
    for section, key in bad:
        with pytest.raises(ConfigError) as info, run_plugin(make_plugin, config={"performance": section}):
            pass
        assert info.value.key == key


def test_record_training_reaches_the_running_plugin_through_the_core(tmp_path: Path) -> None:
    from agent.testing import capture_telemetry

    plugin = make_plugin()
    with capture_telemetry({"models": {"churn": {"task": "classification"}}}, register=[("performance", plugin)],
                           clock=ManualClock(T0 + DAY), agent={"data_dir": str(tmp_path)}) as tel:
        record_training("churn", 12, T0, metrics={"accuracy": 0.9})  # agent.record_training, in order
        tel.flush()
        (event,) = tel.events(n.EVENT_TRAINING)
        (age,) = tel.metric_points(n.MODEL_AGE)
    assert event[n.ATTR_VERSION] == "12" and event[n.ATTR_TRAINED_AT] == iso(T0)
    assert age.value == DAY and age.attributes[n.ATTR_VERSION] == "12"
    saved = json.loads((tmp_path / "performance" / "history.json").read_text())  # written at the latest at shutdown
    assert saved["models"]["churn"]["trainings"]["12"]["metrics"] == {"accuracy": 0.9}
