"""State machine and notification policy over scripted signal sequences (injected clock, no sleeps)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agent.plugin import Notification, Signal
from plugins.alerts.config import parse_alerts_config
from plugins.alerts.engine import AlertEngine

PSI = "ml.drift.psi"
Step = tuple[float, Sequence[Signal]]
Seen = tuple[str, str, tuple[tuple[str, str, str], ...]]


def sig(value: float, feature: str = "amount", model: str = "fraud") -> Signal:
    """A drift signal for one feature."""
    return Signal(PSI, value, {"model": model, "version": "3", "feature": feature}, {"test": "psi"})


def engine(rule: dict[str, Any] | None = None, **section: Any) -> AlertEngine:
    """An engine with one rule on PSI > 0.2 (overridable) and no grouping delays unless given."""
    base_rule = {"name": "drift-high", "signal": PSI, "op": ">", "threshold": 0.2, **(rule or {})}
    settings = {"group_interval": 0, "no_data_after": 0, **section}
    return AlertEngine(parse_alerts_config({"rules": [base_rule], **settings}))


def compact(notes: list[Notification]) -> list[Seen]:
    """(receiver, status, ((alertname, feature, alert status), ...)) per notification."""
    return [
        (n.receiver, n.status, tuple((a.labels["alertname"], a.labels.get("feature", ""), a.status) for a in n.alerts))
        for n in notes
    ]


def run(e: AlertEngine, steps: Sequence[Step]) -> dict[float, list[Seen]]:
    """Feed each step at its time; return the notifications produced, by time (only non-empty)."""
    out: dict[float, list[Seen]] = {}
    for t, signals in steps:
        notes = compact(e.evaluate(list(signals), now=t))
        if notes:
            out[t] = notes
    return out


def series(values: Sequence[float | None], dt: float = 10.0) -> list[Step]:
    """Steps every ``dt`` seconds; None means no signal arrived in that tick."""
    return [(i * dt, [] if v is None else [sig(v)]) for i, v in enumerate(values)]


FIRING = ("log", "firing", (("drift-high", "amount", "firing"),))
RESOLVED = ("log", "resolved", (("drift-high", "amount", "resolved"),))

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], list[float | None], dict[float, list[Seen]]]] = {
    "brief crossing shorter than for stays silent": (
        {"for": "30s"}, {}, [0.1, 0.5, 0.1, 0.1], {},
    ),
    "held for the for duration fires once then resolves": (
        {"for": 30}, {}, [0.5, 0.5, 0.5, 0.5, 0.5, 0.1], {30.0: [FIRING], 50.0: [RESOLVED]},
    ),
    "for_windows counts consecutive evaluations": (
        {"for_windows": 3}, {}, [0.5, 0.5, 0.1, 0.5, 0.5, 0.5], {50.0: [FIRING]},
    ),
    "no for fires at once and clears": (
        {}, {}, [0.5, 0.5, 0.1], {0.0: [FIRING], 20.0: [RESOLVED]},
    ),
    "flapping without de-duplication notifies every window": (
        {}, {}, [0.5, 0.1, 0.5, 0.1],
        {0.0: [FIRING], 10.0: [RESOLVED], 20.0: [FIRING], 30.0: [RESOLVED]},
    ),
    "flapping with group_interval announces only real changes": (
        {}, {"group_interval": "60s"}, [0.5, 0.1] * 6,
        {0.0: [FIRING], 70.0: [RESOLVED]},
    ),
    "send_resolved off keeps quiet on clear": (
        {}, {"send_resolved": False}, [0.5, 0.1], {0.0: [FIRING]},
    ),
    "repeat_interval re-announces a steady alert": (
        {}, {"repeat_interval": "1m"}, [0.5] * 13, {0.0: [FIRING], 60.0: [FIRING], 120.0: [FIRING]},
    ),
    "keep_firing_for holds a cleared alert": (
        {"keep_firing_for": 30}, {}, [0.5, 0.1, 0.1, 0.1, 0.1, 0.1], {0.0: [FIRING], 40.0: [RESOLVED]},
    ),
    "keep_firing_for restarts when the condition returns": (
        {"keep_firing_for": 30}, {}, [0.5, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1], {0.0: [FIRING], 70.0: [RESOLVED]},
    ),
    "missing ticks are not a clear": (
        {}, {}, [0.5, None, None, 0.5, 0.1], {0.0: [FIRING], 40.0: [RESOLVED]},
    ),
    "group_wait delays the first notification": (
        {}, {"group_wait": "20s"}, [0.5, 0.5, 0.5, 0.5], {20.0: [FIRING]},
    ),
    "NaN is neither breach nor clear": (
        {}, {}, [0.5, float("nan"), 0.1], {0.0: [FIRING], 20.0: [RESOLVED]},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scripted_sequence_produces_exact_notifications(case: str) -> None:
    rule, section, values, expected = CASES[case]
    assert run(engine(rule, **section), series(values)) == expected


def test_no_data_fires_its_own_alert_and_resolves_when_signal_returns() -> None:
    e = engine({}, no_data_after="60s")
    steps = [(0.0, [sig(0.1)])] + [(t, []) for t in (10.0, 30.0, 59.0, 60.0, 70.0)] + [(80.0, [sig(0.1)])]
    got = run(e, steps)
    assert got == {
        60.0: [("log", "firing", (("NoData", "amount", "firing"),))],
        80.0: [("log", "resolved", (("NoData", "amount", "resolved"),))],
    }


def test_no_data_keeps_a_firing_alert_firing() -> None:
    e = engine({}, no_data_after=30)
    got = run(e, [(0.0, [sig(0.5)]), (40.0, [])])
    # The group is re-sent whole, as Alertmanager does: the threshold alert is still firing beside NoData.
    both = (("drift-high", "amount", "firing"), ("NoData", "amount", "firing"))
    assert got == {0.0: [FIRING], 40.0: [("log", "firing", both)]}
    states = {(r.rule, r.state) for r in e.snapshot(40.0)}
    assert states == {("drift-high", "firing"), ("drift-high", "no_data")}


def test_rule_no_data_after_zero_disables_no_data() -> None:
    e = engine({"no_data_after": 0}, no_data_after=30)
    assert run(e, [(0.0, [sig(0.1)]), (100.0, [])]) == {}


def test_alerts_sharing_group_labels_arrive_in_one_notification() -> None:
    e = engine()
    notes = e.evaluate([sig(0.5, "amount"), sig(0.7, "age"), sig(0.1, "country")], now=0.0)
    assert len(notes) == 1
    assert notes[0].status == "firing"
    assert sorted(a.labels["feature"] for a in notes[0].alerts) == ["age", "amount"]
    assert notes[0].group_labels == {"rule": "drift-high", "model": "fraud"}
    assert notes[0].group_key == 'log:{model="fraud",rule="drift-high"}'


def test_group_by_feature_splits_notifications() -> None:
    e = engine(group_by=["rule", "model", "feature"])
    notes = e.evaluate([sig(0.5, "amount"), sig(0.7, "age")], now=0.0)
    assert sorted(n.group_labels["feature"] for n in notes) == ["age", "amount"]
    assert all(len(n.alerts) == 1 for n in notes)


def test_different_models_are_separate_groups() -> None:
    e = engine()
    notes = e.evaluate([sig(0.5, model="fraud"), sig(0.5, model="churn")], now=0.0)
    assert sorted(n.group_labels["model"] for n in notes) == ["churn", "fraud"]


def test_new_alert_joining_a_group_resends_the_group_with_both() -> None:
    e = engine()
    e.evaluate([sig(0.5, "amount")], now=0.0)
    notes = e.evaluate([sig(0.5, "amount"), sig(0.6, "age")], now=10.0)
    assert [sorted(a.labels["feature"] for a in n.alerts) for n in notes] == [["age", "amount"]]


def test_matchers_select_signals_by_label_equality_and_regex() -> None:
    e = engine({"matchers": ['model="fraud"', 'feature=~"am.*"']})
    notes = e.evaluate([sig(0.5, "amount"), sig(0.5, "age"), sig(0.5, "amount", model="churn")], now=0.0)
    assert compact(notes) == [FIRING]
    assert notes[0].alerts[0].labels["model"] == "fraud"


def test_fingerprint_is_stable_and_identifies_the_label_set() -> None:
    a = engine().evaluate([sig(0.5)], now=0.0)[0].alerts[0]
    b = engine().evaluate([sig(0.9)], now=100.0)[0].alerts[0]
    c = engine().evaluate([sig(0.9, "age")], now=0.0)[0].alerts[0]
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16


def test_alert_carries_labels_value_threshold_and_times() -> None:
    e = engine({"for": 10, "severity": "critical", "labels": {"team": "risk"}})
    e.evaluate([sig(0.5)], now=100.0)
    (note,) = e.evaluate([sig(0.6)], now=110.0)
    (a,) = note.alerts
    assert a.labels == {
        "model": "fraud", "version": "3", "feature": "amount", "team": "risk",
        "alertname": "drift-high", "rule": "drift-high", "severity": "critical",
    }
    assert (a.value, a.threshold, a.starts_at, a.ends_at, a.severity) == (0.6, 0.2, 110.0, None, "critical")
    (resolved,) = e.evaluate([sig(0.1)], now=130.0)
    assert (resolved.alerts[0].status, resolved.alerts[0].ends_at) == ("resolved", 130.0)


def test_default_description_says_what_by_how_much_since_when_and_where_to_look() -> None:
    e = engine()
    (note,) = e.evaluate([sig(0.5)], now=0.0)
    ann = note.alerts[0].annotations
    assert ann["summary"] == "ml.drift.psi is 0.5 (threshold: > 0.2) for model=fraud version=3 feature=amount"
    assert ann["description"] == (
        "ml.drift.psi for model=fraud version=3 feature=amount is 0.5, above the threshold of 0.2 by 0.3"
        " (150% over it); the condition has held since 1970-01-01T00:00:00.000Z (for 0s). Details: test=psi."
        " Severity warning, rule drift-high. Run `infersight drift` to see more and `infersight alerts`"
        " for alert state."
    )


def detected(value: float, op: str, threshold: float) -> dict[str, str]:
    """Annotations of a firing alert on the 0/1 ``ml.drift.detected`` signal under ``op threshold``."""
    e = engine({"signal": "ml.drift.detected", "op": op, "threshold": threshold})
    (note,) = e.evaluate([Signal("ml.drift.detected", value, {"model": "fraud", "feature": "amount"})], now=0.0)
    return dict(note.alerts[0].annotations)


@pytest.mark.parametrize(("op", "threshold", "summary", "said"), [
    (">=", 1, "ml.drift.detected is 1 (threshold: >= 1) for model=fraud feature=amount",
     "is 1, at the threshold (>= 1);"),
    ("==", 1, "ml.drift.detected is 1 (alerts when == 1) for model=fraud feature=amount",
     "is 1, the value the rule alerts on (== 1);"),
    ("!=", 0, "ml.drift.detected is 1 (alerts when != 0) for model=fraud feature=amount",
     "is 1, the value the rule alerts on (!= 0);"),
    (">", 0.5, "ml.drift.detected is 1 (threshold: > 0.5) for model=fraud feature=amount",
     "is 1, above the threshold of 0.5;"),
])
def test_equality_and_flag_rules_read_as_words_without_a_meaningless_margin(
    op: str, threshold: float, summary: str, said: str
) -> None:
    ann = detected(1.0, op, threshold)
    assert ann["summary"] == summary
    assert said in ann["description"]
    assert " by 0" not in ann["description"] and "% of the threshold" not in ann["description"]


def test_below_threshold_rule_says_by_how_much_under() -> None:
    e = engine({"signal": "ml.performance.accuracy", "op": "<", "threshold": 0.8})
    (note,) = e.evaluate([Signal("ml.performance.accuracy", 0.6, {"model": "fraud"})], now=0.0)
    ann = note.alerts[0].annotations
    assert ann["summary"] == "ml.performance.accuracy is 0.6 (threshold: < 0.8) for model=fraud"
    assert "is 0.6, below the threshold of 0.8 by 0.2 (25% under it);" in ann["description"]


def test_zero_threshold_rule_gives_the_margin_without_a_percentage() -> None:
    e = engine({"signal": "ml.agent.dropped", "threshold": 0})
    (note,) = e.evaluate([Signal("ml.agent.dropped", 12.0, {"reason": "queue_full"})], now=0.0)
    ann = note.alerts[0].annotations
    assert ann["summary"] == "ml.agent.dropped is 12 (threshold: > 0) for all models"
    assert "is 12, above the threshold of 0 by 12;" in ann["description"]


def test_templates_render_value_labels_and_details() -> None:
    e = engine({
        "summary": "{model}/{feature} psi {value:.2f} > {threshold}",
        "description": "{labels[version]} {details[test]} {details[missing]} since {since} op {op}",
    })
    (note,) = e.evaluate([sig(0.5)], now=0.0)
    ann = note.alerts[0].annotations
    assert ann["summary"] == "fraud/amount psi 0.50 > 0.2"
    assert ann["description"] == "3 psi n/a since 1970-01-01T00:00:00.000Z op >"


def test_alertmanager_channel_reposts_every_evaluation_with_ends_at_ahead() -> None:
    e = engine(
        {"channels": ["am"]},
        channels={"am": {"type": "alertmanager", "url": "http://127.0.0.1:1"}},
        evaluation_interval="10s", resolved_resend_for="30s",
    )
    posts = {t: e.evaluate([sig(v)] if v is not None else [], now=t)
             for t, v in [(0.0, 0.5), (10.0, 0.5), (20.0, 0.1), (30.0, None), (40.0, None), (50.0, None)]}
    assert [t for t, n in posts.items() if n] == [0.0, 10.0, 20.0, 30.0, 40.0]
    firing = posts[10.0][0].alerts[0]
    assert (firing.status, firing.starts_at, firing.ends_at) == ("firing", 0.0, 50.0)
    for t in (20.0, 30.0, 40.0):
        a = posts[t][0].alerts[0]
        assert (a.status, a.ends_at) == ("resolved", 20.0)


def test_series_cap_counts_dropped_series() -> None:
    cfg = parse_alerts_config({"rules": [{"name": "r", "signal": PSI, "threshold": 1}]})
    e = AlertEngine(cfg, max_series=2)
    e.evaluate([sig(0.1, f"f{i}") for i in range(5)], now=0.0)
    assert (e.series_count, e.dropped_series) == (2, 3)
    assert e.take_skipped() == {"series_limit": 3} and e.take_skipped() == {}


def test_integer_and_numpy_values_are_samples_text_is_skipped() -> None:
    import numpy as np

    e = engine()
    notes = e.evaluate([sig(np.float32(0.5), "a"), sig(1, "b"), sig("0.5", "c"), sig(None, "d")],  # type: ignore[arg-type]
                       now=0.0)
    assert sorted(a.labels["feature"] for a in notes[0].alerts) == ["a", "b"]
    assert e.take_skipped() == {"not_a_number": 2}


def test_firing_counts_by_rule_and_severity() -> None:
    e = engine({"severity": "critical"})
    assert e.firing_counts() == {("drift-high", "critical"): 0}
    e.evaluate([sig(0.5, "a"), sig(0.5, "b")], now=0.0)
    assert e.firing_counts() == {("drift-high", "critical"): 2}


def test_snapshot_lists_each_label_set_once_with_its_latest_episode() -> None:
    # Fired and resolved twice within the period resolved alerts stay listed (the demo's drift
    # of one feature did this): one row, the latest episode; none beside the same set firing again.
    e = engine()
    for t, v in ((0.0, 0.5), (10.0, 0.1), (20.0, 0.5), (30.0, 0.1)):
        e.evaluate([sig(v)], now=t)
    assert [(r.state, r.fired_at, r.resolved_at) for r in e.snapshot(35.0)] == [("resolved", 20.0, 30.0)]
    e.evaluate([sig(0.5)], now=40.0)
    assert [(r.state, r.fired_at) for r in e.snapshot(45.0)] == [("firing", 40.0)]
    e.evaluate([sig(0.5, "other")], now=50.0)
    assert sorted((r.state, r.labels["feature"]) for r in e.snapshot(55.0)) == [("firing", "amount"),
                                                                                 ("firing", "other")]


def test_snapshot_lists_pending_and_firing() -> None:
    e = engine({"for": 60})
    e.evaluate([sig(0.5, "a")], now=0.0)
    (row,) = e.snapshot(5.0)
    assert (row.state, row.rule, row.labels["feature"], row.value) == ("pending", "drift-high", "a", 0.5)
