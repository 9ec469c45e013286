"""The recsys plugin on the real host: loop detection on the seeded simulation, traffic split, accounting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import agent
from agent.plugin import FeedbackEvent, RecordBatch, Signal
from agent.testing import ManualClock, MetricPoint, run_plugin
from plugins.recsys import names as n
from plugins.recsys.metrics import ItemQuality
from plugins.recsys.plugin import WindowReport
from plugins.recsys.simulate import SimulationConfig, rounds, setup

MODEL = {"rec": {"version": "1", "task": "recommendation"}}
WATCHED = (n.COVERAGE, n.GINI, n.ARP, n.LONG_TAIL_SHARE, n.CTR_BY_POSITION, n.LISTS, n.LISTS_SCORED,
           n.LISTS_DROPPED, n.CLICKS, n.CLICKS_ATTRIBUTED, n.LATE_CLICKS, n.UNMATCHED_CLICKS)


def outputs(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def lists_batch(ids: tuple[str, ...], values: list[Any]) -> RecordBatch:
    return RecordBatch(ids, np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids)), {}, outputs=outputs(values))


def total(points: list[MetricPoint], **attrs: Any) -> float:
    return sum(p.value or 0.0 for p in points if all(p.attributes.get(k) == v for k, v in attrs.items()))


def by_reason(points: list[MetricPoint]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in points:
        reason = str(p.attributes[n.ATTR_REASON])
        out[reason] = out.get(reason, 0.0) + (p.value or 0.0)
    return out


@dataclass
class Run:
    """What one simulated run left: the plugin's window reports, the Signals and the metric points."""

    reports: list[WindowReport]
    signals: list[Signal]
    points: dict[str, list[MetricPoint]]
    item_quality: dict[str, ItemQuality]
    plugin_errors: int
    seed: int


def run_simulation(exploration: float, seed: int) -> Run:
    """The seeded feedback-loop simulation served to the plugin on the real host, round by round."""
    cfg = SimulationConfig(exploration=exploration, seed=seed)
    s = setup(cfg)
    config = {"recsys": {"window": {"size": cfg.lists_per_round}, "catalog_size": cfg.n_items, "click_grace_s": 0},
              "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        training = np.array([c for c in s.catalog for _ in range(s.training_popularity[c])] or ["x"], dtype=object)
        h.set_reference("rec", {"item_id": training})
        signals: list[Signal] = []
        for rd in rounds(cfg):
            ids = tuple(f"r{rd.index}-{i}" for i in range(len(rd.lists)))
            events = [FeedbackEvent(uuid.uuid4().hex, ids[li], "click", position=pos,
                                    attributes=rd.lists[li].feedback_attributes(pos)) for li, pos in rd.clicks]
            half = len(ids) // 2
            # clicks of the round's first half arrive after their lists, like in production ...
            h.process("rec", lists_batch(ids[:half], [lst.as_output() for lst in rd.lists[:half]]))
            h.process_feedback("rec", [e for e in events if int(e.prediction_id.split("-")[1]) < half])
            # ... those of the second half before them (capture is asynchronous): they wait
            h.process_feedback("rec", [e for e in events if int(e.prediction_id.split("-")[1]) >= half])
            h.process("rec", lists_batch(ids[half:], [lst.as_output() for lst in rd.lists[half:]]))
            signals.extend(h.tick(advance=1))
        plugin = h.plugin("recsys")
        return Run(list(plugin.reports), signals, {name: h.metric_points(name) for name in WATCHED},
                   plugin.item_quality("rec", "1"), h.plugin_errors, seed)


@pytest.fixture(scope="module", params=[0, 1])
def no_exploration(request: pytest.FixtureRequest) -> Run:
    return run_simulation(0.0, request.param)


@pytest.fixture(scope="module", params=[0, 1])
def with_exploration(request: pytest.FixtureRequest) -> Run:
    return run_simulation(0.1, request.param)


def test_loop_is_flagged_as_gini_rises_and_coverage_falls(no_exploration: Run) -> None:
    reports = no_exploration.reports
    assert len(reports) == 15
    gini = [r.traffic["all"].gini for r in reports]
    cov = [r.traffic["all"].coverage for r in reports]
    assert gini[-1] - gini[0] > 0.08 and cov[0] - cov[-1] > 0.05
    loop = [s for s in no_exploration.signals if s.name == n.SIGNAL_FEEDBACK_LOOP]
    assert len(loop) == 15 and any(s.value == 1.0 for s in loop)
    flagged = next(s for s in loop if s.value == 1.0)
    assert flagged.labels == {"model": "rec", "version": "1"} and "Gini rose" in flagged.details["reason"]


def test_ten_percent_exploration_stays_below_the_loop_thresholds(with_exploration: Run) -> None:
    loop = [s.value for s in with_exploration.signals if s.name == n.SIGNAL_FEEDBACK_LOOP]
    assert len(loop) == 15 and set(loop) == {0.0}


def test_metrics_are_reported_per_traffic_class(with_exploration: Run) -> None:
    for name in (n.COVERAGE, n.GINI, n.ARP, n.LONG_TAIL_SHARE):
        traffic = {p.attributes[n.ATTR_TRAFFIC] for p in with_exploration.points[name]}
        assert traffic == {n.TRAFFIC_ALL, n.TRAFFIC_EXPLORATION, n.TRAFFIC_EXPLOITATION}, name
    last = with_exploration.reports[-1].traffic
    assert last["exploration"].impressions < last["exploitation"].impressions
    # random slots reach further into the tail than the model's own choices
    assert last["exploration"].long_tail_share > last["exploitation"].long_tail_share


def test_ctr_by_position_shows_the_position_bias(no_exploration: Run) -> None:
    ctr = {p.attributes[n.ATTR_POSITION]: p.value for p in no_exploration.points[n.CTR_BY_POSITION]
           if p.attributes[n.ATTR_TRAFFIC] == n.TRAFFIC_ALL}
    assert sorted(ctr) == list(range(10))
    assert (ctr[0] or 0.0) > (ctr[9] or 0.0) * 1.5


def test_every_list_is_scored_and_every_click_attributed(no_exploration: Run) -> None:
    p = no_exploration.points
    lists = total(p[n.LISTS], **{n.ATTR_MODEL: "rec", n.ATTR_VERSION: "1"})
    assert lists == 15 * 300 == total(p[n.LISTS_SCORED])
    assert not p[n.LISTS_DROPPED]
    assert total(p[n.CLICKS]) == total(p[n.CLICKS_ATTRIBUTED]) > 0
    assert not p[n.LATE_CLICKS] and not p[n.UNMATCHED_CLICKS]
    assert no_exploration.plugin_errors == 0


def test_ips_item_quality_from_exploration_tracks_true_quality(with_exploration: Run) -> None:
    s = setup(SimulationConfig(exploration=0.1, seed=with_exploration.seed))
    est = with_exploration.item_quality
    q = dict(zip(s.catalog, s.quality, strict=True))
    common = [i for i in est if est[i].shown >= 5]
    assert len(common) > 100
    corr = np.corrcoef([est[i].estimate for i in common], [q[i] for i in common])[0, 1]
    assert corr > 0.25


def test_clicks_after_the_window_closed_count_until_the_grace_period_ends() -> None:
    config = {"recsys": {"window": {"size": 10}, "min_window_lists": 1, "click_grace_s": "30s", "catalog_size": 20},
              "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        ids = tuple(f"q{i}" for i in range(10))
        h.process("rec", lists_batch(ids, [[f"i{(i + j) % 20}" for j in range(4)] for i in range(10)]))
        h.process_feedback("rec", [FeedbackEvent("e1", "q1", "click", position=0)])  # window 0 is closed
        h.tick()
        plugin = h.plugin("recsys")
        assert plugin.reports == []
        h.tick(advance=40)
        (report,) = plugin.reports
        assert report.traffic["all"].clicks == 1 and report.traffic["all"].coverage == pytest.approx(13 / 20)
        h.process_feedback("rec", [FeedbackEvent("e2", "q2", "click", position=0)])
        h.tick()
        assert total(h.metric_points(n.LATE_CLICKS)) == 1


def test_monitored_calls_and_log_feedback_reach_the_plugin() -> None:
    config = {"recsys": {"window": {"size": 4}, "min_window_lists": 1, "click_grace_s": 30, "catalog_size": 20},
              "models": {"shelf": {"version": "2", "task": "ranking", "capture": True}}}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        served = [{"items": [f"i{i}", f"i{i + 1}"], "exploration": [False, True], "pscore": [0.9, 0.1]}
                  for i in range(4)]
        pids = [h.feed("shelf", {"user": i}, out) for i, out in enumerate(served)]
        agent.log_feedback(str(pids[3]), "click", item_id="i4")  # after the window closed, within the grace
        h.tick()
        h.tick(advance=31)
        (report,) = h.plugin("recsys").reports
        assert report.traffic["all"].lists == 4 and report.traffic["exploration"].clicks == 1
        assert total(h.metric_points(n.CLICKS_ATTRIBUTED), **{n.ATTR_MODEL: "shelf"}) == 1


def test_a_malformed_row_or_event_is_skipped_alone_and_counted() -> None:
    class Exploding:
        def __iter__(self) -> Any:
            raise ValueError("unreadable")

    config = {"recsys": {"window": {"size": 3}, "min_window_lists": 1, "click_grace_s": 0},
              "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        values = [["a", "b"], None, {"items": 7}, {"items": Exploding()}, ["c"], ["d", "e"],
                  {"items": ["f"], "exploration": "yes", "pscore": ["?"]}, ["g"]]
        h.process("rec", lists_batch(tuple(f"p{i}" for i in range(len(values))), values))
        h.process_feedback("rec", [None, FeedbackEvent("e1", "p0", "click", position=7),  # type: ignore[list-item]
                                   FeedbackEvent("e2", "p0", "click", position="1"),  # type: ignore[arg-type]
                                   FeedbackEvent("e3", "p6", "click", item_id="f")])
        h.tick()
        points = {name: h.metric_points(name) for name in WATCHED}
        assert h.plugin_errors == 0
    # after shutdown: the open window's lists are counted too
    received = total(points[n.LISTS])
    assert received == 8 and total(points[n.LISTS_SCORED]) == 3
    assert by_reason(points[n.LISTS_DROPPED]) == {n.LIST_NOT_A_LIST: 2, n.LIST_MALFORMED: 1}
    assert by_reason(h.metric_points(n.LISTS_DROPPED)) == {n.LIST_NOT_A_LIST: 2, n.LIST_MALFORMED: 1,
                                                           n.LIST_SHUTDOWN: 2}
    assert total(h.metric_points(n.LISTS)) == total(h.metric_points(n.LISTS_SCORED)) + sum(
        by_reason(h.metric_points(n.LISTS_DROPPED)).values())
    assert total(points[n.CLICKS]) == 4
    assert by_reason(points[n.UNMATCHED_CLICKS]) == {n.CLICK_MALFORMED: 1, n.CLICK_ITEM_NOT_IN_LIST: 2}
    assert total(points[n.CLICKS_ATTRIBUTED]) == 1


def test_clicks_whose_list_never_arrives_are_counted_by_reason() -> None:
    config = {"recsys": {"pending_timeout_s": 60, "max_tracked": 2}, "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        h.process_feedback("rec", [FeedbackEvent(f"e{i}", f"never-{i}", "click", position=0) for i in range(3)])
        h.tick()
        assert by_reason(h.metric_points(n.UNMATCHED_CLICKS)) == {n.CLICK_OVERFLOW: 1}
        h.tick(advance=61)
        assert by_reason(h.metric_points(n.UNMATCHED_CLICKS)) == {n.CLICK_OVERFLOW: 1, n.CLICK_NO_IMPRESSION: 2}


def test_a_broken_batch_reaches_the_host_guard_and_the_plugin_goes_on() -> None:
    config = {"recsys": {"window": {"size": 1}, "min_window_lists": 1, "click_grace_s": 0}, "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        h.process("rec", RecordBatch(("a",), np.zeros(3), np.zeros(1), {}, outputs=outputs([["x"], ["y"]])))
        h.tick()
        assert h.plugin_errors == 1
        h.process("rec", lists_batch(("b",), [["x", "y"]]))
        h.tick()
        assert len(h.plugin("recsys").reports) == 1


def test_a_flagged_loop_is_an_info_event_not_a_warning() -> None:
    config = {"recsys": {"window": {"size": 20}, "min_window_lists": 1, "click_grace_s": 0, "catalog_size": 100,
                         "trend_windows": 3},
              "models": MODEL}
    with run_plugin("recsys", config=config, clock=ManualClock()) as h:
        for w, width in enumerate((60, 30, 10)):  # exposure narrows window after window
            ids = tuple(f"w{w}-{i}" for i in range(20))
            h.process("rec", lists_batch(ids, [[f"i{(i * 3 + j) % width}" for j in range(3)] for i in range(20)]))
            h.tick(advance=1)
        events = h.events(n.EVENT_FEEDBACK_LOOP)
        assert len(events) == 1 and events[0][n.ATTR_WINDOW] == 2 and events[0][n.ATTR_MODEL] == "rec"
        levels = {str(r.log_record.severity_text).lower() for r in h.log_records()
                  if r.log_record.body == n.EVENT_FEEDBACK_LOOP}
        assert levels == {"info"}
