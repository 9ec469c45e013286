"""Dataset-scale profiles on existing engines: ``local`` (pyarrow, bounded memory), ``dask`` and ``spark``.

``profile_dataset(paths, engine=...)`` profiles Parquet files, directories or globs;
``compare_datasets(ref, cur, engine=...)`` profiles both and returns drift's ``OfflineReport``.
Every engine runs the same ``profile_arrow`` on its partitions and the partition profiles
are merged, so the three give the same counts, category counts, moments (to float
rounding) and row sample, and sketches within the same error bound: the same verdicts.

- ``local`` streams record batches (``batch_rows`` rows at a time) from each file with
  pyarrow: memory is one batch (and the row group being decoded) plus the sketches,
  whatever the dataset's size.
- ``dask`` profiles the partitions of ``dask.dataframe.read_parquet`` on a
  ``dask.distributed`` cluster: a ``LocalCluster`` by default, or ``scheduler=ADDRESS``.
- ``spark`` profiles partitions with ``mapInPandas`` on a SparkSession (the active one, else
  ``local[*]``, or ``master=URL``); workers need ``infersight`` installed.

Feature kinds come from the reference's Arrow schema (integers, floats and decimals are
numeric; strings, dictionaries and booleans categorical; other types — lists, structs,
timestamps — are left out), overridable with ``feature_types``, and are fixed for both
datasets and every partition. The row sample is chosen by a hash of each row's content
(``sample.combine``), so it does not depend on how an engine partitions the files.

pyarrow is needed for every engine (``infersight[pandas]``); dask and pyspark are optional
extras (``infersight[dask]``, ``infersight[spark]``), imported only when used.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agent.plugin import FeatureType
from plugins.drift import DriftConfig, OfflineReport
from plugins.fleet import codec
from plugins.fleet.evaluate import compare_profiles
from plugins.fleet.profiles import MAX_CATEGORIES, SAMPLE_ROWS, SKETCH_K, Kind, Profile, ProfileBuilder, merge_profiles
from plugins.fleet.sample import combine, label_hashes, numeric_hashes

Engine = Literal["local", "dask", "spark"]
ENGINES: tuple[str, ...] = ("local", "dask", "spark")


class DatasetInputError(ValueError):
    """A dataset path or file that cannot be profiled; the message names it."""


@dataclass(frozen=True, slots=True)
class ProfileOptions:
    """Sketch sizes and the sample seed (the same on every worker), and the local engine's batch size."""

    sketch_k: int = SKETCH_K
    max_categories: int = MAX_CATEGORIES
    sample_rows: int = SAMPLE_ROWS
    seed: int = 0
    batch_rows: int = 65_536


# -- files and kinds ---------------------------------------------------------------------------


def dataset_files(paths: str | Sequence[str]) -> list[str]:
    """Parquet files named by files, directories (searched recursively for ``*.parquet``) and globs."""
    out: list[str] = []
    for raw in [paths] if isinstance(paths, str) else paths:
        matches = sorted(glob.glob(raw, recursive=True)) if glob.has_magic(raw) else [raw]
        if not matches:
            raise DatasetInputError(f"no file matches {raw!r}")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                found = sorted(str(f) for f in p.rglob("*.parquet") if f.is_file())
                if not found:
                    raise DatasetInputError(f"no .parquet file under {raw!r}")
                out.extend(found)
            elif p.is_file():
                out.append(str(p))
            else:
                raise DatasetInputError(f"the dataset {raw!r} does not exist")
    return list(dict.fromkeys(out))


def dataset_kinds(files: Sequence[str], feature_types: Mapping[str, FeatureType] | None = None) -> dict[str, Kind]:
    """Feature kinds from the first file's Arrow schema (module docs), with ``feature_types`` laid over."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(files[0])
    except (OSError, pa.ArrowException) as exc:
        raise DatasetInputError(f"cannot read {files[0]!r} as Parquet: {exc}") from None
    kinds: dict[str, Kind] = {}
    for field in schema:
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            kinds[field.name] = Kind.NUMERIC
        elif pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            kinds[field.name] = Kind.CATEGORICAL
    for name, ft in (feature_types or {}).items():
        if name in schema.names:
            kinds[name] = Kind.NUMERIC if ft is FeatureType.NUMERIC else Kind.CATEGORICAL
    return kinds


# -- the one partition profiler ----------------------------------------------------------------


def _labels(values: list[Any]) -> np.ndarray:
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def profile_arrow(table: Any, builder: ProfileBuilder, kinds: Mapping[str, Kind], seed: int = 0) -> None:
    """Add an Arrow table or record batch to ``builder``: numeric moments and sketches, category counts, sample."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    if n == 0:
        return
    names = sorted(k for k in kinds if k in table.column_names)
    hashes: list[np.ndarray] = []
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in names:
        col = table.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if kinds[name] is Kind.NUMERIC:
            values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            builder.add_numeric(name, values)
            numeric[name] = values
            hashes.append(numeric_hashes(values))
        else:
            enc = pc.dictionary_encode(col) if not pa.types.is_dictionary(col.type) else col
            labels = _labels(enc.dictionary.to_pylist())
            idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            counts = np.bincount(idx[idx >= 0], minlength=labels.size)
            tally: dict[str, int] = {}
            for label, c in zip(labels.tolist(), counts.tolist(), strict=True):
                if c and label is not None:
                    tally[label] = tally.get(label, 0) + int(c)  # two dictionary entries may print alike
            builder.add_counts(name, tally)
            categorical[name] = (labels, idx)
            lh = np.append(label_hashes(labels.tolist(), seed), np.uint64(0))  # index -1 (null) -> 0
            hashes.append(lh[idx])
    priorities = combine(hashes, n, seed)
    keep = np.arange(n)
    s = builder.sample
    if len(s) >= s.k:
        keep = np.flatnonzero(priorities < s.priorities[-1])
    if keep.size:
        cols: dict[str, np.ndarray] = {f: v[keep] for f, v in numeric.items()}
        for f, (labels, idx) in categorical.items():
            sel = idx[keep]
            out = np.full(sel.size, None, dtype=object)
            ok = sel >= 0
            out[ok] = labels[sel[ok]]
            cols[f] = out
        builder.add_sample(priorities[keep], cols)
    builder.add_rows(n)


def _builder(options: ProfileOptions, kind: str = "window") -> ProfileBuilder:
    return ProfileBuilder(sketch_k=options.sketch_k, max_categories=options.max_categories,
                          sample_rows=options.sample_rows, kind=kind)


def profile_pandas_bytes(frame: Any, kinds: Mapping[str, Kind], options: ProfileOptions) -> bytes:
    """One partition (a pandas DataFrame) profiled to profile bytes: what dask and spark workers run."""
    import pyarrow as pa

    builder = _builder(options)
    profile_arrow(pa.Table.from_pandas(frame, preserve_index=False), builder, kinds, options.seed)
    return codec.to_bytes(builder.build())


def _spark_partition(batches: Iterator[Any], kinds: Mapping[str, Kind], options: ProfileOptions) -> Iterator[Any]:
    """``mapInPandas`` body: profile every batch of the partition, yield one row with the profile bytes."""
    import pandas as pd
    import pyarrow as pa

    builder = _builder(options)
    for frame in batches:
        profile_arrow(pa.Table.from_pandas(frame, preserve_index=False), builder, kinds, options.seed)
    yield pd.DataFrame({"profile": [codec.to_bytes(builder.build())]})


# -- engines -------------------------------------------------------------------------------------


def _local(files: Sequence[str], kinds: Mapping[str, Kind], options: ProfileOptions) -> Profile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    builder = _builder(options)
    for f in files:
        try:
            pf = pq.ParquetFile(f)
            columns = [c for c in kinds if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=options.batch_rows, columns=columns):
                profile_arrow(batch, builder, kinds, options.seed)
        except (OSError, pa.ArrowException) as exc:
            raise DatasetInputError(f"cannot read {f!r} as Parquet: {exc}") from None
    return builder.build()


class _Session:
    """An engine's session for one or more datasets: a dask client or a SparkSession (or nothing, locally)."""

    def __init__(self, engine: str, scheduler: str | None, master: str | None, workers: int | None) -> None:
        self.engine, self.scheduler, self.master, self.workers = engine, scheduler, master, workers
        self.stack = contextlib.ExitStack()
        self.client: Any = None
        self.spark: Any = None

    def __enter__(self) -> _Session:
        if self.engine == "dask":
            from distributed import Client, LocalCluster

            if self.scheduler:
                self.client = self.stack.enter_context(Client(self.scheduler))
            else:
                cluster = self.stack.enter_context(LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                    dashboard_address=None))
                self.client = self.stack.enter_context(Client(cluster))
        elif self.engine == "spark":
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            from pyspark.sql import SparkSession

            active = SparkSession.getActiveSession()
            if active is not None and self.master is None:
                self.spark = active
            else:
                builder = SparkSession.builder.master(self.master or "local[*]").appName("infersight-fleet")
                self.spark = builder.getOrCreate()
                self.stack.callback(self.spark.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def profile(self, files: Sequence[str], kinds: Mapping[str, Kind], options: ProfileOptions) -> Profile:
        if self.engine == "local":
            return _local(files, kinds, options)
        if self.engine == "dask":
            import dask
            import dask.dataframe as dd

            frame = dd.read_parquet(list(files), columns=list(kinds))
            tasks = [dask.delayed(profile_pandas_bytes)(part, dict(kinds), options) for part in frame.to_delayed()]
            blobs = self.client.gather(self.client.compute(tasks))
            return merge_profiles(codec.from_bytes(b) for b in blobs)
        import functools

        frame = self.spark.read.parquet(*files).select(*kinds)
        fn = functools.partial(_spark_partition, kinds=dict(kinds), options=options)
        rows = frame.mapInPandas(fn, schema="profile binary").collect()
        return merge_profiles(codec.from_bytes(bytes(r["profile"])) for r in rows)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise DatasetInputError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")


def profile_dataset(
    paths: str | Sequence[str],
    engine: Engine | str = "local",
    *,
    options: ProfileOptions | None = None,
    feature_types: Mapping[str, FeatureType] | None = None,
    kinds: Mapping[str, Kind] | None = None,
    scheduler: str | None = None,
    master: str | None = None,
    workers: int | None = None,
) -> Profile:
    """Profile a Parquet dataset (files, directories, globs) on ``engine``; ``DatasetInputError`` for bad paths."""
    _check_engine(engine)
    files = dataset_files(paths)
    kinds = dict(kinds) if kinds is not None else dataset_kinds(files, feature_types)
    with _Session(engine, scheduler, master, workers) as session:
        return session.profile(files, kinds, options or ProfileOptions())


def compare_datasets(
    reference: str | Sequence[str],
    current: str | Sequence[str],
    engine: Engine | str = "local",
    *,
    config: DriftConfig | None = None,
    features: Sequence[str] | None = None,
    options: ProfileOptions | None = None,
    scheduler: str | None = None,
    master: str | None = None,
    workers: int | None = None,
) -> OfflineReport:
    """``infersight drift REF CUR`` on datasets of any size: profile both on ``engine`` and test the profiles.

    Returns drift's ``OfflineReport`` (print it with ``plugins.drift.format_table``). As in
    ``plugins.drift.compare``, the whole current dataset is one window and ``min_window`` is
    lowered to 2. ``features`` restricts the comparison (``ValueError`` naming unknown ones).
    """
    _check_engine(engine)
    cfg = config or DriftConfig()
    ref_files, cur_files = dataset_files(reference), dataset_files(current)
    kinds = dataset_kinds(ref_files, cfg.feature_types)
    if features:
        unknown = [f for f in features if f not in kinds]
        if unknown:
            raise ValueError(f"features not in the reference: {', '.join(unknown)}")
        kinds = {f: kinds[f] for f in features}
    opts = options or ProfileOptions(seed=cfg.seed)
    with _Session(engine, scheduler, master, workers) as session:
        ref = session.profile(ref_files, kinds, replace(opts))
        cur = session.profile(cur_files, kinds, opts)
    return compare_profiles(ref, cur, cfg, model="", min_window=min(cfg.min_window, 2))
