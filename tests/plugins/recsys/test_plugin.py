"""The recsys plugin through its hooks: loop detection on the seeded simulation, traffic split, robustness."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent._errors import ConfigError
from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from plugins.recsys.plugin import RecsysPlugin
from plugins.recsys.simulate import SimulationConfig, rounds, setup

REC = ModelInfo("rec", "1", task="recommendation")


class Harness:
    """A configured RecsysPlugin with a settable clock and an in-memory metric reader."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.now = 1_000_000.0
        self.seed = 0
        self.reader = InMemoryMetricReader()
        self.ctx = PluginContext(
            config={"recsys": config}, data_dir=Path("."),
            meter=MeterProvider(metric_readers=[self.reader]).get_meter("t"), log=structlog.get_logger(),
            models={REC.name: REC}, clock=lambda: self.now,
        )
        self.plugin = RecsysPlugin()
        self.plugin.infersight_configure(config={"recsys": config}, agent=self.ctx)

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        return [(dict(p.attributes or {}), p) for rm in (data.resource_metrics if data else [])
                for sm in rm.scope_metrics for m in sm.metrics if m.name == name for p in m.data.data_points]

    def tick(self) -> list[Signal]:
        self.now += 1
        return self.plugin.infersight_collect_signals(model=REC, now=self.now) or []


def _outputs(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def run_simulation(exploration: float, seed: int) -> tuple[Harness, list[Signal]]:
    cfg = SimulationConfig(exploration=exploration, seed=seed)
    s = setup(cfg)
    h = Harness({"window_size": cfg.lists_per_round, "catalog_size": cfg.n_items, "click_grace_s": 0})
    h.seed = seed
    ref = RecordBatch(("reference",) * cfg.n_items, np.zeros(cfg.n_items), np.zeros(cfg.n_items),
                      {"item_id": np.array([c for c in s.catalog for _ in range(s.training_popularity[c])] or ["x"])})
    h.plugin.infersight_set_reference(model=REC, records=ref)
    signals: list[Signal] = []
    for rd in rounds(cfg):
        ids = tuple(f"r{rd.index}-{i}" for i in range(len(rd.lists)))
        # clicks of the round's first half arrive before the window closes, like in production
        half = len(ids) // 2
        for part in (slice(0, half), slice(half, None)):
            part_ids = ids[part]
            batch = RecordBatch(part_ids, np.zeros(len(part_ids), dtype=np.int64), np.full(len(part_ids), h.now),
                                {}, outputs=_outputs([lst.as_output() for lst in rd.lists[part]]))
            if part.start == 0:
                h.plugin.infersight_process_records(model=REC, records=batch)
                events = [FeedbackEvent(uuid.uuid4().hex, ids[li], "click", position=pos,
                                        attributes=rd.lists[li].feedback_attributes(pos))
                          for li, pos in rd.clicks]
                h.plugin.infersight_process_feedback(model=REC, events=[e for e in events
                                                                        if int(e.prediction_id.split("-")[1]) < half])
            else:
                late = [e for e in events if int(e.prediction_id.split("-")[1]) >= half]
                h.plugin.infersight_process_feedback(model=REC, events=late)  # before their lists: pending
                h.plugin.infersight_process_records(model=REC, records=batch)
        signals.extend(h.tick())
    return h, signals


@pytest.fixture(scope="module", params=[0, 1])
def no_exploration(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, list[Signal]]]:
    yield run_simulation(0.0, request.param)


@pytest.fixture(scope="module", params=[0, 1])
def with_exploration(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, list[Signal]]]:
    yield run_simulation(0.1, request.param)


def test_loop_is_flagged_as_gini_rises_and_coverage_falls(no_exploration: tuple[Harness, list[Signal]]) -> None:
    h, signals = no_exploration
    reports = h.plugin.reports
    assert len(reports) == 15
    gini = [r.traffic["all"].gini for r in reports]
    cov = [r.traffic["all"].coverage for r in reports]
    assert gini[-1] - gini[0] > 0.08 and cov[0] - cov[-1] > 0.05
    loop = [s for s in signals if s.name == "ml.recsys.feedback_loop"]
    assert len(loop) == 15 and any(s.value == 1.0 for s in loop)
    flagged = next(s for s in loop if s.value == 1.0)
    assert flagged.labels == {"model": "rec", "version": "1"} and "Gini rose" in flagged.details["reason"]


def test_ten_percent_exploration_stays_below_the_loop_thresholds(
    with_exploration: tuple[Harness, list[Signal]],
) -> None:
    _, signals = with_exploration
    loop = [s.value for s in signals if s.name == "ml.recsys.feedback_loop"]
    assert len(loop) == 15 and set(loop) == {0.0}


def test_metrics_are_reported_per_traffic_class(with_exploration: tuple[Harness, list[Signal]]) -> None:
    h, _ = with_exploration
    for name in ("ml.recsys.coverage", "ml.recsys.gini", "ml.recsys.arp", "ml.recsys.long_tail_share"):
        traffic = {a["ml.traffic"] for a, _ in h.points(name)}
        assert traffic == {"all", "exploration", "exploitation"}, name
    last = h.plugin.reports[-1].traffic
    assert last["exploration"].impressions < last["exploitation"].impressions
    # random slots reach further into the tail than the model's own choices
    assert last["exploration"].long_tail_share > last["exploitation"].long_tail_share


def test_ctr_by_position_shows_the_position_bias(no_exploration: tuple[Harness, list[Signal]]) -> None:
    h, _ = no_exploration
    ctr = {a["position"]: p.value for a, p in h.points("ml.recsys.ctr_by_position") if a["ml.traffic"] == "all"}
    assert sorted(ctr) == list(range(10))
    assert ctr[0] > ctr[9] * 1.5
    assert h.plugin.stats["unmatched_clicks"] == 0 and h.plugin.stats["late_clicks"] == 0


def test_ips_item_quality_from_exploration_tracks_true_quality(
    with_exploration: tuple[Harness, list[Signal]],
) -> None:
    h, _ = with_exploration
    s = setup(SimulationConfig(exploration=0.1, seed=h.seed))
    est = h.plugin.item_quality("rec", "1")
    q = dict(zip(s.catalog, s.quality, strict=True))
    common = [i for i in est if est[i].shown >= 5]
    assert len(common) > 100
    corr = np.corrcoef([est[i].estimate for i in common], [q[i] for i in common])[0, 1]
    assert corr > 0.25


def test_clicks_after_the_window_closed_count_until_the_grace_period_ends() -> None:
    h = Harness({"window_size": 10, "min_window_lists": 1, "click_grace_s": 30, "catalog_size": 20})
    ids = tuple(f"q{i}" for i in range(10))
    lists = _outputs([[f"i{(i + j) % 20}" for j in range(4)] for i in range(10)])
    h.plugin.infersight_process_records(model=REC, records=RecordBatch(
        ids, np.zeros(10, dtype=np.int64), np.zeros(10), {}, outputs=lists))  # fills and closes window 0
    h.plugin.infersight_process_feedback(model=REC, events=[FeedbackEvent("e1", "q1", "click", position=0)])
    assert h.plugin.reports == []
    h.now += 40
    h.tick()
    (report,) = h.plugin.reports
    assert report.traffic["all"].clicks == 1 and report.traffic["all"].coverage == pytest.approx(13 / 20)
    h.plugin.infersight_process_feedback(model=REC, events=[FeedbackEvent("e2", "q2", "click", position=0)])
    assert h.plugin.stats["late_clicks"] == 1


def test_hooks_never_raise_on_bad_input() -> None:
    h = Harness({"window_size": 2, "min_window_lists": 1})
    bad = RecordBatch(("a", "b"), np.zeros(2, dtype=np.int64), np.zeros(2), {},
                      outputs=_outputs([None, {"items": ["x"], "exploration": "yes", "pscore": ["?"]}]))
    h.plugin.infersight_process_records(model=REC, records=bad)
    broken = RecordBatch(("a",), np.zeros(3), np.zeros(1), {}, outputs=_outputs([["x"], ["y"]]))
    h.plugin.infersight_process_records(model=REC, records=broken)
    h.plugin.infersight_process_feedback(model=REC, events=[None, FeedbackEvent("e", "b", "click", position=7)])  # type: ignore[list-item]
    h.plugin.infersight_set_reference(model=REC, records=None)  # type: ignore[arg-type]
    h.tick()
    assert h.plugin.stats["errors.process_records"] == 1
    assert h.plugin.stats["unmatched_clicks"] == 1


def test_bad_config_raises_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"recsys\.head_share"):
        Harness({"head_share": 1.5})
    with pytest.raises(ConfigError, match=r"recsys\.catalog_size"):
        Harness({"catalog_size": 0})
