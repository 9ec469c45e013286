"""Alert engine volume: 1,000 rules over 100,000 signals, against a bare compare-numbers loop.

Prints signals per second for the engine and for two loops that only compare numbers,
measured in the same run: the floor (look up the one threshold for the signal's name and
compare) and the compare-all loop (each value against all 1,000 thresholds: what
evaluating 1,000 rules costs without an index, with nothing but a comparison per rule).
Target: the engine costs at most 5x the compare-all baseline; the ratio to the floor shows
the price of per-series state (pending/firing, label-set keys, no-data timers) in Python.
Then counts the notifications a flapping signal produces with and without de-duplication.

Run: .venv/bin/python benchmarks/alerts.py
"""

from __future__ import annotations

import operator
import random
import time
from typing import Any

from agent import Signal
from plugins.alerts.config import parse_alerts_config
from plugins.alerts.engine import AlertEngine

N_RULES = 1_000
N_SIGNALS = 100_000
TICK = 1_000  # signals per worker tick
MODELS = ("fraud", "churn", "ranker", "pricing")
FEATURES = ("amount", "age", "country", "device", "hour")


def build_rules(rules_per_name: int) -> list[dict[str, Any]]:
    """1,000 rules; ``rules_per_name`` of them share each signal name, told apart by a model matcher."""
    rules = []
    for i in range(N_RULES):
        name, model = divmod(i, rules_per_name)
        rule: dict[str, Any] = {"name": f"rule-{i}", "signal": f"ml.sig.{name}", "op": ">", "threshold": 0.9}
        if rules_per_name > 1:
            rule["matchers"] = {"model": MODELS[model % len(MODELS)]}
        rules.append(rule)
    return rules


def build_signals(n_names: int, breach_rate: float, rng: random.Random) -> list[Signal]:
    """Signals over ``n_names`` names and 20 label sets; ``breach_rate`` of them exceed the threshold."""
    label_sets = [{"model": m, "version": "1", "feature": f} for m in MODELS for f in FEATURES]
    return [
        Signal(f"ml.sig.{rng.randrange(n_names)}", 0.95 if rng.random() < breach_rate else rng.random() * 0.85,
               dict(rng.choice(label_sets)), {}, 0.0)
        for _ in range(N_SIGNALS)
    ]


def time_engine(rules: list[dict[str, Any]], signals: list[Signal], warm: bool) -> tuple[float, int]:
    """Seconds to evaluate every signal in ticks of TICK, and the notifications produced.

    ``warm`` runs the signals through the engine once first, so every (rule, label set)
    series already exists: the steady state of a running agent.
    """
    engine = AlertEngine(parse_alerts_config({"rules": rules, "group_interval": 60}))
    t0 = 0.0
    if warm:
        for k in range(0, len(signals), TICK):
            engine.evaluate(signals[k:k + TICK], now=float(k // TICK))
        t0 = float(len(signals) // TICK)  # time continues: no series has gone silent
    notes = 0
    start = time.perf_counter()
    for k in range(0, len(signals), TICK):
        notes += len(engine.evaluate(signals[k:k + TICK], now=t0 + k // TICK))
    return time.perf_counter() - start, notes


def time_compare_all(rules: list[dict[str, Any]], signals: list[Signal]) -> float:
    """Seconds for the bare loop over every rule: compare each signal's value with all 1,000 thresholds."""
    thresholds = [float(r["threshold"]) for r in rules]
    start = time.perf_counter()
    hits = 0
    for s in signals:
        v = s.value
        for t in thresholds:
            if v > t:
                hits += 1
    return time.perf_counter() - start


def time_baseline(rules: list[dict[str, Any]], signals: list[Signal]) -> float:
    """Seconds for the bare loop: look up the signal's threshold and compare numbers, nothing else."""
    thresholds = {r["signal"]: r["threshold"] for r in rules}
    gt = operator.gt
    start = time.perf_counter()
    hits = 0
    for k in range(0, len(signals), TICK):
        for s in signals[k:k + TICK]:
            t = thresholds.get(s.name)
            if t is not None and gt(s.value, t):
                hits += 1
    return time.perf_counter() - start


def flapping_notifications(group_interval: float, windows: int = 360, every: float = 10.0) -> int:
    """Notifications for a signal alternating above/below threshold each window for an hour."""
    engine = AlertEngine(parse_alerts_config({
        "rules": [{"name": "drift-high", "signal": "ml.drift.psi", "threshold": 0.2}],
        "group_interval": group_interval, "no_data_after": 0,
    }))
    labels = {"model": "fraud", "feature": "amount"}
    sent = 0
    for i in range(windows):
        value = 0.5 if i % 2 == 0 else 0.1
        sent += len(engine.evaluate([Signal("ml.drift.psi", value, labels)], now=i * every))
    return sent


def best_of(fn: Any, *args: Any, repeats: int = 5) -> Any:
    """Minimum time of ``repeats`` runs (results of the fastest run)."""
    runs = [fn(*args) for _ in range(repeats)]
    return min(runs, key=lambda r: r[0] if isinstance(r, tuple) else r)


def main() -> None:
    """Print the figures."""
    rng = random.Random(7)
    print(f"alert engine: {N_RULES:,} rules, {N_SIGNALS:,} signals in ticks of {TICK:,} (best of 5)")
    for per_name in (1, 4):
        rules = build_rules(per_name)
        print(f"  {per_name} rule(s) per signal name ({N_RULES // per_name} names, 20 label sets):")
        for title, rate, warm in [("steady state, nothing breaching", 0.0, True),
                                  ("steady state, 1% breaching", 0.01, True),
                                  ("cold start (creates 20k series), 5% breaching", 0.05, False)]:
            signals = build_signals(N_RULES // per_name, rate, rng)
            engine_s, notes = best_of(time_engine, rules, signals, warm)
            base_s = best_of(time_baseline, rules, signals)
            print(f"    {title}:")
            print(f"      engine   {N_SIGNALS / engine_s:11,.0f} signals/s ({engine_s * 1e3:6.1f} ms, "
                  f"{notes} notifications)")
            print(f"      baseline {N_SIGNALS / base_s:11,.0f} signals/s ({base_s * 1e3:6.1f} ms, "
                  "compare numbers only)")
            print(f"      ratio    {engine_s / base_s:11.1f}x the lookup-and-compare floor")
            if per_name == 1 and rate == 0.0:
                all_s = best_of(time_compare_all, rules, signals, repeats=1)
                print(f"      compare-all baseline {N_SIGNALS / all_s:11,.0f} signals/s ({all_s * 1e3:6.0f} ms: "
                      f"each value against all {N_RULES:,} thresholds)")
                print(f"      ratio    {engine_s / all_s:11.3f}x the compare-all baseline's cost (target <= 5x)")
    hour = 360
    without = flapping_notifications(0.0, hour)
    with_dedup = flapping_notifications(300.0, hour)
    print(f"flapping signal (above/below threshold every 10 s window, {hour} windows = 1 h):")
    print(f"  notifications without de-duplication (group_interval=0):  {without}")
    print(f"  notifications with de-duplication    (group_interval=5m): {with_dedup}")
    print(f"  reduction: {without / max(with_dedup, 1):.0f}x")


if __name__ == "__main__":
    main()
