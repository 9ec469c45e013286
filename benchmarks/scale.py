"""Scale benchmark for fleet and dataset profiles (issue 13). Prints, in one run:

1. profiling throughput (rows/s, 20 numeric + 5 categorical features) against a plain
   ``pandas.DataFrame.describe()`` pass over the same in-memory data (target >= 0.5x);
2. peak RSS of the local engine on Parquet datasets of 1x, 4x and 10x the same size, each in a
   fresh process (target: flat);
3. wall time of local vs dask (LocalCluster) vs spark (local[*]) on the same dataset;
4. the fleet case: detection rate per replica vs fleet over seeded trials with 10 replicas.

    .venv/bin/python benchmarks/scale.py [--rows 500000] [--trials 100] [--skip-engines]

Needs pyarrow and pandas; dask and pyspark for part 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NUMERIC, CATEGORICAL = 20, 5
CATS = np.array([f"cat{i}" for i in range(12)])


def table(rows: int, seed: int) -> object:
    """An Arrow table: 20 float features, 5 string features of 12 categories."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    cols = {f"x{j}": rng.normal(j, 1 + j / 10, rows) for j in range(NUMERIC)}
    cols.update({f"c{j}": pa.array(CATS[rng.integers(0, CATS.size, rows)]) for j in range(CATEGORICAL)})
    return pa.table(cols)


def write_dataset(directory: Path, rows: int, files: int, seed: int) -> None:
    """``files`` Parquet files of ``rows / files`` rows each (row groups of 100,000 rows)."""
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    per = rows // files
    for i in range(files):
        pq.write_table(table(per, seed * 1000 + i), directory / f"part-{i:04d}.parquet", row_group_size=100_000)


def throughput(rows: int) -> None:
    from plugins.fleet import ProfileBuilder, profile_arrow
    from plugins.fleet.engines import dataset_kinds

    t = table(rows, 0)
    frame = t.to_pandas()
    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow.parquet as pq

        pq.write_table(t.slice(0, 10), f"{tmp}/schema.parquet")
        kinds = dataset_kinds([f"{tmp}/schema.parquet"])
    best_describe = best_profile = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        frame.describe()
        best_describe = min(best_describe, time.perf_counter() - t0)
        t0 = time.perf_counter()
        builder = ProfileBuilder()
        for batch in t.to_batches(max_chunksize=65_536):
            profile_arrow(batch, builder, kinds)
        builder.build()
        best_profile = min(best_profile, time.perf_counter() - t0)
    print(f"1. throughput, {rows:,} rows x {NUMERIC} numeric + {CATEGORICAL} categorical (best of 3):")
    print(f"   DataFrame.describe()   {rows / best_describe:>12,.0f} rows/s  ({best_describe:.3f} s)")
    print(f"   profile (sketches+...) {rows / best_profile:>12,.0f} rows/s  ({best_profile:.3f} s)")
    print(f"   ratio profile/describe {best_describe / best_profile:.2f}x (target >= 0.5x)")


_RSS_CHILD = """
import resource, sys, time
from plugins.fleet import profile_dataset
t0 = time.perf_counter()
p = profile_dataset(sys.argv[1], "local")
print(p.rows, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def peak_rss(root: Path, rows: int) -> Path:
    print(f"2. peak RSS of --engine local (fresh process each; {NUMERIC + CATEGORICAL} columns, "
          f"~{rows * (NUMERIC * 8 + CATEGORICAL * 8) / 1e6:,.0f} MB in memory per 1x):")
    largest = root
    for mult in (1, 4, 10):
        d = root / f"x{mult}"
        t0 = time.perf_counter()
        write_dataset(d, rows * mult, 4 * mult, mult)
        written = time.perf_counter() - t0
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(d)], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        n, secs, rss = out.stdout.split()
        in_memory = int(n) * (NUMERIC * 8 + CATEGORICAL * 8)
        print(f"   {mult:>2}x: {int(n):>10,} rows, {in_memory / 2**20:8,.0f} MiB as arrays, peak RSS "
              f"{int(rss) / 2**20:6,.0f} MiB, {float(secs):6.1f} s (dataset written in {written:.0f} s)")
        largest = d
    return largest


_ENGINE_CHILD = """
import sys, time
from plugins.fleet import profile_dataset
t0 = time.perf_counter()
p = profile_dataset(sys.argv[1], sys.argv[2])
print(p.rows, time.perf_counter() - t0)
"""


def engines(dataset: Path) -> None:
    print(f"3. wall time on the 10x dataset ({dataset.name}), each engine in a fresh process, "
          "including its start-up:")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    for engine in ("local", "dask", "spark"):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _ENGINE_CHILD, str(dataset), engine], capture_output=True,
                             text=True, env=env, cwd=Path(__file__).resolve().parents[1], check=False)
        total = time.perf_counter() - t0
        if out.returncode != 0:
            print(f"   {engine:5}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else '?'}")
            continue
        n, secs = out.stdout.split()[-2:]
        print(f"   {engine:5}: {float(secs):6.1f} s profiling ({total:5.1f} s with interpreter start), {int(n):,} rows")


def fleet(trials: int) -> None:
    from plugins.drift import DriftConfig
    from plugins.fleet import ProfileBuilder, compare_profiles, merge_profiles
    from plugins.fleet.sample import offset_priorities

    replicas, rows, features, ref_rows = 10, 200, 10, 4000
    cfg = DriftConfig(permutations=100)

    def prof(x: np.ndarray, stream: str) -> object:
        b = ProfileBuilder(sample_rows=200)
        b.add_columns({f"f{j}": x[:, j] for j in range(features)}, offset_priorities(stream, 0, len(x)))
        return b.build()

    print(f"4. fleet: {replicas} replicas x {rows} rows per window, reference {ref_rows} rows, "
          f"{features} features, {trials} seeded trials (verdict: drift's rule at alpha 0.05):")
    for shift in (0.0, 0.1, 0.15):
        per = anyr = flt = 0
        for seed in range(trials):
            rng = np.random.default_rng(seed)
            ref = prof(rng.normal(size=(ref_rows, features)), "ref")
            parts = []
            for r in range(replicas):
                x = rng.normal(size=(rows, features))
                x[:, :2] += shift
                parts.append(prof(x, f"r{r}"))
            flags = [compare_profiles(ref, p, cfg).drifted for p in parts]
            per += sum(flags)
            anyr += any(flags)
            flt += compare_profiles(ref, merge_profiles(parts), cfg).drifted
        label = "no shift" if not shift else f"{shift} sd shift in 2 of {features}"
        print(f"   {label:24}: per replica {per / (trials * replicas):.3f}, any replica alerts {anyr / trials:.3f}"
              f" (alerts per trial {per / trials:.2f}), fleet {flt / trials:.3f} (one alert)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000, help="rows of the 1x dataset and of the throughput run")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--skip-engines", action="store_true")
    args = ap.parse_args()
    print(json.dumps({"python": sys.version.split()[0], "cpus": os.cpu_count()}))
    throughput(args.rows)
    with tempfile.TemporaryDirectory(prefix="infersight-scale-") as tmp:
        largest = peak_rss(Path(tmp), args.rows)
        if not args.skip_engines:
            engines(largest)
    fleet(args.trials)


if __name__ == "__main__":
    main()
