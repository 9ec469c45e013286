"""Rows validated per second: the vectorised validator vs a plain per-row Python check loop.

50-feature schema (30 float, 5 int, 5 bool, 5 categorical, 5 regex-checked strings) over
100,000 rows shaped as the worker's RecordBatch holds them (numeric dtype when a column
is all numbers, object otherwise), with ~1% injected violations of several kinds. Both
sides do the same checks, outlier ranges included; the loop gets its row dicts for free.

Run: .venv/bin/python benchmarks/validation.py [--rows N]
"""

from __future__ import annotations

import argparse
import math
import re
import time
from typing import Any

import numpy as np

from plugins.validation.outliers import OutlierConfig, RobustRange, fit_range
from plugins.validation.schema import FeatureSchema, Schema, ValueType
from plugins.validation.validate import validate_columns


def build(n: int, seed: int = 0) -> tuple[Schema, dict[str, np.ndarray], dict[str, RobustRange]]:
    """Schema, batch columns and outlier ranges for the benchmark."""
    rng = np.random.default_rng(seed)
    feats: dict[str, FeatureSchema] = {}
    cols: dict[str, np.ndarray] = {}
    ranges: dict[str, RobustRange] = {}
    cats = ("FR", "DE", "ES", "IT", "NL", "BE", "PL", "SE")
    for i in range(30):
        name = f"f{i}"
        feats[name] = FeatureSchema(name, ValueType.FLOAT, min=-6.0, max=6.0)
        col = rng.normal(size=n)
        col[rng.random(n) < 0.003] = np.nan
        col[rng.random(n) < 0.003] = 9.0
        if i % 10 == 0:  # a column that arrived with strings mixed in: object dtype
            col = col.astype(object)
            col[rng.random(n) < 0.002] = "1.5"
        cols[name] = col
        r = fit_range(rng.normal(size=5000), OutlierConfig())
        assert r is not None
        ranges[name] = r
    for i in range(5):
        name = f"n{i}"
        feats[name] = FeatureSchema(name, ValueType.INT, min=0, max=100)
        col = rng.integers(0, 101, size=n).astype(np.float64)
        col[rng.random(n) < 0.003] = 150.0
        cols[name] = col
    for i in range(5):
        name = f"b{i}"
        feats[name] = FeatureSchema(name, ValueType.BOOL)
        cols[name] = rng.random(n) < 0.5
    for i in range(5):
        name = f"c{i}"
        feats[name] = FeatureSchema(name, ValueType.CATEGORICAL, allowed=cats[:6])
        col = np.empty(n, dtype=object)
        col[:] = [cats[j] for j in rng.integers(0, 8, size=n).tolist()]
        col[rng.random(n) < 0.002] = None
        cols[name] = col
    for i in range(5):
        name = f"s{i}"
        feats[name] = FeatureSchema(name, ValueType.STRING, regex=r"[a-z]+-\d+", nullable=True)
        col = np.empty(n, dtype=object)
        col[:] = [f"user-{j}" for j in rng.integers(0, 10_000, size=n).tolist()]
        col[rng.random(n) < 0.003] = "BAD"
        cols[name] = col
    return Schema(feats), cols, ranges


def loop_validate(schema: Schema, rows: list[dict[str, Any]], ranges: dict[str, RobustRange]) -> dict:
    """The baseline: a plain per-row, per-feature Python check loop."""
    counts: dict[tuple[str, str], int] = {}
    specs = list(schema.features.values())
    patterns = {f.name: re.compile(f.regex) for f in specs if f.regex}
    allowed = {f.name: frozenset(f.allowed) for f in specs if f.allowed}

    def bump(name: str, kind: str) -> None:
        counts[(name, kind)] = counts.get((name, kind), 0) + 1

    for row in rows:
        for f in specs:
            name = f.name
            if name not in row:
                if f.required:
                    bump(name, "missing_feature")
                continue
            v = row[name]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                if not f.nullable:
                    bump(name, "null")
                continue
            t = f.type
            if t is ValueType.FLOAT or t is ValueType.INT:
                if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
                    bump(name, "type_mismatch")
                    continue
                x = float(v)
                if t is ValueType.INT and math.isfinite(x) and x != round(x):
                    bump(name, "type_mismatch")
                    continue
                if math.isinf(x):
                    bump(name, "non_finite")
                    continue
                if f.min is not None and x < f.min:
                    bump(name, "below_min")
                if f.max is not None and x > f.max:
                    bump(name, "above_max")
                r = ranges.get(name)
                if r is not None and (x < r.low or x > r.high):
                    bump(name, "outlier")
            elif t is ValueType.BOOL:
                if not isinstance(v, bool | np.bool_):
                    bump(name, "type_mismatch")
            elif t is ValueType.CATEGORICAL:
                if name in allowed and v not in allowed[name]:
                    bump(name, "not_allowed")
            elif t is ValueType.STRING:
                if not isinstance(v, str):
                    bump(name, "type_mismatch")
                elif name in patterns and patterns[name].fullmatch(v) is None:
                    bump(name, "regex_mismatch")
    return counts


def best_of(repeat: int, fn: Any) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` runs, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    """Run both validators on the same batch and print rows/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    schema, cols, ranges = build(args.rows)
    names = list(cols)
    rows = [dict(zip(names, vals, strict=True)) for vals in zip(*(c.tolist() for c in cols.values()), strict=True)]

    t_vec, res = best_of(args.repeat, lambda: validate_columns(schema, cols, args.rows, ranges=ranges))
    t_loop, base = best_of(1, lambda: loop_validate(schema, rows, ranges))

    vec_counts = {(f, k.value): c for (f, k), c in res.counts.items()}
    agree = vec_counts == base
    print(f"features: {len(schema)}  rows: {args.rows}  violations found: {sum(vec_counts.values())}")
    print(f"vectorised validate_columns : {args.rows / t_vec:>14,.0f} rows/s  ({t_vec * 1e3:8.1f} ms)")
    print(f"per-row Python loop baseline: {args.rows / t_loop:>14,.0f} rows/s  ({t_loop * 1e3:8.1f} ms)")
    print(f"speed-up: {t_loop / t_vec:.1f}x  (target >= 10x)  counts identical: {agree}")


if __name__ == "__main__":
    main()
