"""Report generation over a data directory holding 1,000,000 predictions: time, file size, peak memory.

Synthesises the agent's files directly (OTLP/JSON lines: 512 spans per traces line, one
metrics export every 10 s of simulated time, drift/alert log events), then builds the
report in a child process and prints its wall time, output size and peak RSS against the
targets (30 s, 10 MB). Baseline, measured in the same run: a child process that only
``json.loads`` every line of the same files, the floor for any reader of this format.

    python benchmarks/report.py [--predictions 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPANS_PER_LINE = 512
EXPORT_EVERY_S = 10.0
RATE_PER_S = 100.0  # predictions per simulated second: 1M predictions span ~2.8 hours
FEATURES = [f"f{i}" for i in range(10)]
BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
T0 = 1_700_000_000.0
RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}},
                           {"key": "service.instance.id", "value": {"stringValue": "replica-1"}}]}
MODEL_ATTRS: list[dict[str, Any]] = [{"key": "ml.model.name", "value": {"stringValue": "fraud"}},
               {"key": "ml.model.version", "value": {"stringValue": "3.2"}}]
ERROR_ATTR = {"key": "error.type", "value": {"stringValue": "ValueError"}}
TARGET_SECONDS = 30.0
TARGET_BYTES = 10_000_000


def _span(i: int, start_ns: int, dur_ns: int, failed: bool) -> str:
    # A string template rather than json.dumps per span: synthesis of a million spans stays quick.
    status = '{"code":2}' if failed else "{}"
    err = ',{"key":"error.type","value":{"stringValue":"ValueError"}}' if failed else ""
    return (f'{{"traceId":"{i:032x}","spanId":"{i:016x}","name":"predict fraud","kind":1,'
            f'"startTimeUnixNano":"{start_ns}","endTimeUnixNano":"{start_ns + dur_ns}","attributes":['
            '{"key":"ml.model.name","value":{"stringValue":"fraud"}},'
            '{"key":"ml.model.version","value":{"stringValue":"3.2"}},'
            '{"key":"ml.task","value":{"stringValue":"classification"}},'
            f'{{"key":"ml.prediction.id","value":{{"stringValue":"{i:032x}"}}}},'
            f'{{"key":"ml.batch.size","value":{{"intValue":"1"}}}}{err}],"status":{status},"flags":256}}')


def _bucket(latency: float) -> int:
    for i, b in enumerate(BOUNDS):
        if latency <= b:
            return i
    return len(BOUNDS)


def _gauge(name: str, t_ns: int, points: list[tuple[float, list[dict[str, Any]]]]) -> dict[str, object]:
    return {"name": name, "unit": "1", "gauge": {"dataPoints": [
        {"timeUnixNano": str(t_ns), "asDouble": v, "attributes": a} for v, a in points]}}


def _metrics_line(t: float, start_ns: int, calls: int, errors: int, buckets: list[int], window: int,
                  rng: random.Random, violations: int) -> str:
    t_ns = int(t * 1e9)
    drifting = window >= 60  # the shift starts ten minutes of windows in
    Points = list[tuple[float, list[dict[str, Any]]]]
    drift_points: dict[str, Points] = {k: [] for k in ("statistic", "p_value", "effect_size", "detected")}
    summary: Points = []
    for j, f in enumerate(FEATURES):
        fa: list[dict[str, Any]] = [*MODEL_ATTRS, {"key": "ml.feature.name", "value": {"stringValue": f}},
              {"key": "ml.drift.test", "value": {"stringValue": "ks"}}]
        shifted = drifting and j < 3
        effect = (0.3 + 0.05 * j if shifted else 0.02) + rng.random() * 0.01 + window * 1e-6
        drift_points["statistic"].append((effect / 2, fa))
        drift_points["p_value"].append((1e-9 if shifted else 0.4 + rng.random() * 0.5, fa))
        drift_points["effect_size"].append((effect, fa))
        drift_points["detected"].append((1.0 if shifted else 0.0, fa))
        base: list[dict[str, Any]] = [*MODEL_ATTRS, {"key": "ml.feature.name", "value": {"stringValue": f}},
                {"key": "ml.drift.sample", "value": {"stringValue": "window"}}]
        for stat, q in (("p5", -1.6), ("p25", -0.7), ("median", 0.0), ("p75", 0.7), ("p95", 1.6), ("mean", 0.0)):
            summary.append((q + (1.0 if shifted else 0.0) + window * 1e-6,
                            [*base, {"key": "ml.drift.stat", "value": {"stringValue": stat}}]))
    metrics: list[dict[str, object]] = [
        {"name": "ml.inference.calls", "unit": "{call}", "sum": {"isMonotonic": True, "aggregationTemporality": 2,
         "dataPoints": [{"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "asInt": str(calls),
                         "attributes": MODEL_ATTRS}]}},
        {"name": "ml.inference.errors", "unit": "{call}", "sum": {"isMonotonic": True, "aggregationTemporality": 2,
         "dataPoints": [{"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "asInt": str(errors),
                         "attributes": [*MODEL_ATTRS, ERROR_ATTR]}]}},
        {"name": "ml.inference.duration", "unit": "s", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "count": str(sum(buckets)),
             "bucketCounts": [str(b) for b in buckets], "explicitBounds": BOUNDS, "attributes": MODEL_ATTRS}]}},
        {"name": "ml.validation.violations", "unit": "{violation}", "sum": {
            "isMonotonic": True, "aggregationTemporality": 2, "dataPoints": [
                {"startTimeUnixNano": str(start_ns), "timeUnixNano": str(t_ns), "asInt": str(violations),
                 "attributes": [*MODEL_ATTRS, {"key": "ml.feature.name", "value": {"stringValue": "f0"}},
                                {"key": "ml.validation.kind", "value": {"stringValue": "above_max"}}]}]}},
        _gauge("ml.drift.summary", t_ns, summary),
        _gauge("ml.performance.accuracy", t_ns, [(0.9 - (0.1 if drifting else 0.0) + window * 1e-6, MODEL_ATTRS)]),
        _gauge("ml.feedback.labelled_ratio", t_ns, [(min(1.0, window / 500), MODEL_ATTRS)]),
        {"name": "ml.alerts.firing", "unit": "{alert}", "gauge": {"dataPoints": [
            {"timeUnixNano": str(t_ns), "asInt": "1" if drifting else "0",
             "attributes": [{"key": "rule", "value": {"stringValue": "feature-drift"}},
                            {"key": "severity", "value": {"stringValue": "warning"}}]}]}},
    ]
    metrics += [_gauge(f"ml.drift.{k}", t_ns, v) for k, v in drift_points.items()]
    return json.dumps({"resourceMetrics": [{"resource": RESOURCE, "scopeMetrics": [
        {"scope": {"name": "infersight"}, "metrics": metrics}]}]}, separators=(",", ":"))


def _log_line(t: float, name: str, attrs: dict[str, str]) -> str:
    return json.dumps({"resourceLogs": [{"resource": RESOURCE, "scopeLogs": [{"scope": {"name": "infersight"},
        "logRecords": [{"timeUnixNano": str(int(t * 1e9)), "severityText": "WARNING", "eventName": name,
                        "body": {"stringValue": name},
                        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}]}]}]},
        separators=(",", ":"))


def synthesise(directory: Path, predictions: int, seed: int = 1) -> None:
    """Write traces, metrics and logs for ``predictions`` calls, streaming (never all in memory)."""
    rng = random.Random(seed)
    tel = directory / "telemetry"
    tel.mkdir(parents=True, exist_ok=True)
    start_ns = int(T0 * 1e9)
    buckets = [0] * (len(BOUNDS) + 1)
    calls = errors = violations = window = 0
    next_export = T0 + EXPORT_EVERY_S
    batch: list[str] = []
    with (tel / "traces.jsonl").open("w") as tr, (tel / "metrics.jsonl").open("w") as me, \
            (tel / "logs.jsonl").open("w") as lo:
        for i in range(predictions):
            t = T0 + i / RATE_PER_S
            latency = rng.lognormvariate(-7.0, 0.6)
            failed = rng.random() < 0.002
            batch.append(_span(i + 1, int(t * 1e9), int(latency * 1e9), failed))
            calls += 1
            errors += failed
            violations += rng.random() < 0.01
            buckets[_bucket(latency)] += 1
            if len(batch) == SPANS_PER_LINE:
                tr.write('{"resourceSpans":[{"resource":' + json.dumps(RESOURCE) +
                         ',"scopeSpans":[{"scope":{"name":"infersight"},"spans":[' + ",".join(batch) + "]}]}]}\n")
                batch.clear()
            if t >= next_export:
                me.write(_metrics_line(t, start_ns, calls, errors, buckets, window, rng, violations) + "\n")
                if window == 60 or window % 100 == 61:
                    for f in FEATURES[:3]:
                        lo.write(_log_line(t, "ml.drift.detected", {"model": "fraud", "feature": f}) + "\n")
                    lo.write(_log_line(t, "ml.alert", {
                        "ml.alert.rule": "feature-drift", "ml.alert.status": "firing", "ml.alert.severity": "warning",
                        "ml.alert.fingerprint": "fp1", "ml.alert.description": "f0 drifted"}) + "\n")
                window += 1
                next_export += EXPORT_EVERY_S
        if batch:
            tr.write('{"resourceSpans":[{"resource":' + json.dumps(RESOURCE) +
                     ',"scopeSpans":[{"scope":{"name":"infersight"},"spans":[' + ",".join(batch) + "]}]}]}\n")
        me.write(_metrics_line(T0 + predictions / RATE_PER_S, start_ns, calls, errors, buckets, window, rng,
                               violations) + "\n")


def _child(mode: str, directory: str, output: str) -> None:
    """Run one measurement in this (child) process and print it as JSON."""
    t = time.perf_counter()
    if mode == "build":
        from plugins.report import build_report

        stats = build_report(directory, output)
        size = stats.bytes
        predictions = stats.predictions
    else:
        size = predictions = 0
        for p in sorted((Path(directory) / "telemetry").glob("*.jsonl")):
            with p.open("rb") as fh:
                for line in fh:
                    json.loads(line)
    elapsed = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"seconds": elapsed, "bytes": size, "rss_mb": rss_mb, "predictions": predictions}))


def _measure(mode: str, directory: Path, output: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(directory), str(output)],
                         capture_output=True, text=True, check=True, env=env)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Synthesise, measure the baseline and the report build, print figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=1_000_000)
    ap.add_argument("--keep", default=None, help="write the data directory here and keep it")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "DIR", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="infersight-report-bench-"))
    try:
        t = time.perf_counter()
        synthesise(work, args.predictions)
        size = sum(p.stat().st_size for p in (work / "telemetry").iterdir())
        print(f"synthesised {args.predictions:,} predictions: {size / 1e6:,.0f} MB of OTLP/JSON "
              f"in {time.perf_counter() - t:.1f} s")
        base = _measure("parse", work, work / "unused.html")
        rep = _measure("build", work, work / "report.html")
        print(f"baseline (json.loads of every line only): {base['seconds']:.1f} s, peak RSS {base['rss_mb']:.0f} MB")
        print(f"report build: {rep['seconds']:.1f} s (target < {TARGET_SECONDS:.0f} s: "
              f"{'OK' if rep['seconds'] < TARGET_SECONDS else 'MISSED'}), ratio to baseline "
              f"{rep['seconds'] / base['seconds']:.2f}x")
        print(f"report size: {rep['bytes'] / 1e6:.2f} MB (target < {TARGET_BYTES / 1e6:.0f} MB: "
              f"{'OK' if rep['bytes'] < TARGET_BYTES else 'MISSED'})")
        print(f"peak memory (RSS) of the build: {rep['rss_mb']:.0f} MB; baseline {base['rss_mb']:.0f} MB; "
              f"input {size / 1e6:,.0f} MB (streamed, never held whole)")
        print(f"predictions counted by the report: {int(rep['predictions']):,}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
