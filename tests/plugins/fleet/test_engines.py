"""The same drift comparison on a Parquet dataset split into many files: local, Dask and Spark agree.

One SparkSession (local[2]) and one in-process Dask LocalCluster for the module; a tiny
dataset in many files so each engine really profiles partitions and merges them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from plugins.drift import DriftResult
from plugins.fleet import DatasetInputError, compare_datasets, profile_dataset

FILES = 12
ROWS = 300  # per file


def _write(directory: Path, seed: int, shift: float) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(FILES):
        x = rng.normal(size=(ROWS, 3))
        x[:, 0] += shift
        flag = rng.random(ROWS) < 0.3
        cat = rng.choice(np.array(["a", "b", "c", "d"]), ROWS, p=[0.4, 0.3, 0.2, 0.1] if not shift else
                         [0.25, 0.25, 0.25, 0.25])
        x1 = pa.array(np.where(rng.random(ROWS) < 0.05, np.nan, x[:, 1]), from_pandas=True)
        pq.write_table(pa.table({"x0": x[:, 0], "x1": x1, "n": rng.integers(0, 50, ROWS), "cat": cat,
                                 "flag": flag, "x2": x[:, 2]}), directory / f"part-{i:03d}.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    _write(root / "ref", 1, 0.0)
    _write(root / "same", 2, 0.0)
    _write(root / "shifted", 3, 0.3)
    return root


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    # C1 only and the serial collector: a JVM that lives for seconds spends most of its start-up in the
    # C2 compiler and GC threads, which on two busy cores roughly halves the session's start and jobs.
    session = (SparkSession.builder.master("local[2]").appName("infersight-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _verdicts(results: tuple[DriftResult, ...]) -> dict[str, tuple[bool, str | None, str]]:
    return {r.feature: (r.drifted, r.skipped, r.test) for r in results}


def test_local_dask_and_spark_give_identical_verdicts(data: Path, spark: object, dask_scheduler: str) -> None:
    reports = {}
    for name in ("same", "shifted"):
        ref, cur = str(data / "ref"), str(data / name / "*.parquet")
        reports[name] = {
            "local": compare_datasets(ref, cur, "local"),
            "dask": compare_datasets(ref, cur, "dask", scheduler=dask_scheduler),
            "spark": compare_datasets(ref, cur, "spark"),
        }
    for name, by_engine in reports.items():
        local = _verdicts(by_engine["local"].results)
        assert _verdicts(by_engine["dask"].results) == local, name
        assert _verdicts(by_engine["spark"].results) == local, name
    assert not reports["same"]["local"].drifted
    assert {f for f, v in _verdicts(reports["shifted"]["local"].results).items() if v[0]} >= {"x0", "cat"}
    # the joint test runs on the same row sample whatever the partitioning: the same statistic
    stats = {e: r.multivariate.statistic for e, r in reports["shifted"].items() if r.multivariate}
    assert len(stats) == 3 and max(stats.values()) - min(stats.values()) < 1e-9


def test_partition_profiles_merge_to_the_local_profile(data: Path, spark: object, dask_scheduler: str) -> None:
    local = profile_dataset(str(data / "ref"), "local", options=None)
    for other in (profile_dataset(str(data / "ref"), "dask", scheduler=dask_scheduler),
                  profile_dataset(str(data / "ref"), "spark")):
        assert other.rows == local.rows == FILES * ROWS
        assert other.features["cat"].category_counts() == local.features["cat"].category_counts()
        assert other.features["flag"].category_counts() == local.features["flag"].category_counts()
        assert other.missing("x1") == local.missing("x1") > 0
        assert np.isclose(other.features["x0"].moments.mean, local.features["x0"].moments.mean, atol=1e-12)
        assert np.array_equal(other.sample.priorities, local.sample.priorities)


def test_the_fleet_command_compares_datasets_and_writes_html(data: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from .test_commands import fleet

    pytest.importorskip("plotly", reason="the HTML report needs the report extra (plotly)")
    assert fleet("--dataset", str(data / "ref"), str(data / "same")) == 0
    html = tmp_path / "report.html"
    assert fleet("--dataset", str(data / "ref"), str(data / "shifted"), "--json", "--html", str(html)) == 1
    assert '"drifted": true' in capsys.readouterr().out
    assert html.stat().st_size > 10_000 and "x0" in html.read_text()


def test_bad_dataset_paths_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetInputError, match="nope"):
        profile_dataset(str(tmp_path / "nope"))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DatasetInputError, match=r"bad\.parquet"):
        profile_dataset(str(tmp_path / "bad.parquet"))
    with pytest.raises(DatasetInputError, match="engine"):
        profile_dataset(str(tmp_path / "bad.parquet"), "ray")
