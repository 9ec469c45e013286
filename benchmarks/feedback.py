"""Feedback store benchmark: durable events/s from 4 threads, and store memory over 1M predictions.

Prints, measured in the same run:
  1. events/s made durable through the feedback plugin's sink (validation + group
     commit, WAL) from 4 threads, against a baseline of a bare SQLite INSERT + COMMIT
     per event (4 threads, one connection each, same pragmas) and single-threaded;
     for synchronous=NORMAL (the default) and FULL (fsync per commit);
  2. peak RSS growth and time while the store remembers 1,000,000 predictions
     (batches of 1,000 rows) with retention of 100,000 rows, pruned every 20 batches.

Usage: .venv/bin/python benchmarks/feedback.py [--events 40000] [--predictions 1000000]
Target: >= 20,000 durable events/s from 4 threads on 2 cores.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import structlog
from opentelemetry.sdk.metrics import MeterProvider

from agent._ids import new_event_id
from agent.plugin import FeedbackEvent, ModelInfo, PluginContext, RecordBatch
from plugins.feedback.plugin import FeedbackPlugin

THREADS = 4
MODEL = ModelInfo("bench", "1", task="classification")


def make_plugin(data_dir: Path, config: dict[str, Any]) -> tuple[FeedbackPlugin, PluginContext]:
    """A configured feedback plugin on ``data_dir`` (export off)."""
    full = {"feedback": {"export": False, **config}}
    ctx = PluginContext(config=full, data_dir=data_dir, meter=MeterProvider().get_meter("bench"),
                        log=structlog.get_logger(), models={MODEL.name: MODEL})
    plugin = FeedbackPlugin()
    plugin.infersight_configure(config=full, agent=ctx)
    return plugin, ctx


def run_threads(n_events: int, work: Any) -> float:
    """Run ``work(count)`` on THREADS threads sharing ``n_events``; return events/s."""
    per = n_events // THREADS
    threads = [threading.Thread(target=work, args=(per,)) for _ in range(THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * THREADS / (time.perf_counter() - start)


def bench_agent(n_events: int, synchronous: str, commit: str) -> tuple[float, float]:
    """Durable events/s through the sink, and the mean events per commit."""
    with tempfile.TemporaryDirectory() as tmp:
        plugin, ctx = make_plugin(Path(tmp), {"synchronous": synchronous, "commit": commit})

        def work(count: int) -> None:
            for i in range(count):
                # Event ids as agent.log_feedback makes them (time-ordered UUIDv7).
                plugin.log_event(FeedbackEvent(new_event_id(), f"p{i}", "click", attributes={"pscore": 0.5}))

        rate = run_threads(n_events, work)
        assert plugin.store is not None
        stored = plugin.store.counts()["feedback"]
        per_commit = plugin.store.committed / max(1, plugin.store.commits)
        plugin.infersight_shutdown(agent=ctx)
    if stored != n_events // THREADS * THREADS:
        raise SystemExit(f"lost events: stored {stored}")
    return rate, per_commit


def bench_baseline(n_events: int, synchronous: str, threads: int) -> float:
    """Bare SQLite: one INSERT + COMMIT per event, one connection per thread."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "base.sqlite"
        setup = sqlite3.connect(db)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE feedback (seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, prediction_id TEXT,"
                      " kind TEXT, attributes TEXT, ts REAL)")
        setup.close()

        def work(count: int) -> None:
            conn = sqlite3.connect(db, timeout=60, isolation_level=None)
            conn.execute(f"PRAGMA synchronous={synchronous}")
            for i in range(count):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO feedback (event_id, prediction_id, kind, attributes, ts)"
                             " VALUES (?, ?, ?, ?, ?)", (new_event_id(), f"p{i}", "click", '{"pscore": 0.5}',
                                                         time.time()))
                conn.execute("COMMIT")
            conn.close()

        if threads == 1:
            start = time.perf_counter()
            work(n_events)
            return n_events / (time.perf_counter() - start)
        return run_threads(n_events, work)


def bench_memory(n_predictions: int, max_rows: int) -> dict[str, float]:
    """Peak RSS growth while storing ``n_predictions`` rows with row-count retention."""
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.TemporaryDirectory() as tmp:
        plugin, ctx = make_plugin(Path(tmp), {"prediction_max_rows": max_rows, "prune_interval_s": 0})
        base = proc.memory_info().rss
        sampler.start()
        rng = np.random.default_rng(0)
        size = 1000
        start = time.perf_counter()
        for b in range(n_predictions // size):
            ids = tuple(uuid.uuid4().hex for _ in range(size))
            batch = RecordBatch(ids, np.zeros(size, dtype=np.int64), np.full(size, time.time()), {},
                                outputs=rng.random(size))
            plugin.infersight_process_records(model=MODEL, records=batch)
            if b % 20 == 19:
                plugin.infersight_collect_signals(model=MODEL, now=time.time() + b)
        elapsed = time.perf_counter() - start
        assert plugin.store is not None
        kept = plugin.store.counts()["predictions"]
        db_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
        done.set()
        sampler.join()
        peak[0] = max(peak[0], proc.memory_info().rss)
        plugin.infersight_shutdown(agent=ctx)
    return {"rows_per_s": n_predictions / elapsed, "peak_rss_growth_mb": (peak[0] - base) / 1e6,
            "kept_rows": kept, "db_mb": db_mb}


def main() -> None:
    """Run the benchmarks and print figures, baselines and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--predictions", type=int, default=1_000_000)
    ap.add_argument("--max-rows", type=int, default=100_000)
    args = ap.parse_args()
    print(f"feedback benchmark: {args.events} events from {THREADS} threads, {psutil.cpu_count()} cores")
    for sync in ("NORMAL", "FULL"):
        n = args.events if sync == "NORMAL" else max(4000, args.events // 10)
        base4 = bench_baseline(n, sync, THREADS)
        base1 = bench_baseline(n, sync, 1)
        print(f"synchronous={sync:6s} baseline insert+commit per event, 4 threads: {base4:9,.0f} events/s")
        print(f"synchronous={sync:6s} baseline insert+commit per event, 1 thread:  {base1:9,.0f} events/s")
        default = "direct" if sync == "NORMAL" else "group"
        for commit in (default, "group" if default == "direct" else "direct"):
            rate, per_commit = bench_agent(n, sync, commit)
            tag = " (default)" if commit == default else ""
            print(f"synchronous={sync:6s} agent sink, commit={commit}{tag}: {rate:9,.0f} events/s "
                  f"({per_commit:.1f} events/commit)  -> {rate / base4:.2f}x the 4-thread baseline")
            if commit == default:
                agent_rate = rate
        if sync == "NORMAL":
            verdict = "meets" if agent_rate >= 20_000 else "MISSES"
            print(f"target >= 20,000 durable events/s: {verdict} ({agent_rate:,.0f})")
    mem = bench_memory(args.predictions, args.max_rows)
    print(f"store over {args.predictions:,} predictions, retention {args.max_rows:,} rows: "
          f"{mem['rows_per_s']:,.0f} rows/s, peak RSS growth {mem['peak_rss_growth_mb']:.1f} MB, "
          f"kept {int(mem['kept_rows']):,} rows, files {mem['db_mb']:.1f} MB")


if __name__ == "__main__":
    main()
