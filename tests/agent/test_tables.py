"""Tests for the table helpers (agent.plugin): table loading, row shapes and feature-type inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.plugin import FeatureType, columns_from_rows, infer_feature_types, load_table, to_numeric


def test_load_npz_returns_each_array_as_a_column(tmp_path: Path) -> None:
    path = tmp_path / "ref.npz"
    np.savez(path, a=np.arange(3.0), b=np.array([1, 0, 1]))
    cols = load_table(path)
    assert set(cols) == {"a", "b"}
    np.testing.assert_array_equal(cols["a"], [0.0, 1.0, 2.0])


def test_load_npz_two_d_array_is_a_vector_column(tmp_path: Path) -> None:
    path = tmp_path / "ref.npz"
    np.savez(path, x=np.arange(2.0), emb=np.arange(6.0).reshape(2, 3), bad=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"ref\.npz:bad"):
        load_table(path)
    np.savez(path, x=np.arange(2.0), emb=np.arange(6.0).reshape(2, 3))
    assert load_table(path)["emb"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_load_jsonl_rows_with_vectors_and_bad_lines_named(tmp_path: Path) -> None:
    path = tmp_path / "ref.jsonl"
    path.write_text('{"x": 1, "emb": [0.1, 0.2]}\n\n{"x": 2.5, "emb": [0.3, 0.4], "city": "Oslo"}\n')
    cols = load_table(path)
    assert cols["x"].tolist() == [1.0, 2.5] and cols["emb"].tolist() == [[0.1, 0.2], [0.3, 0.4]]
    assert cols["city"].tolist() == [None, "Oslo"]
    path.write_text('{"x": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"ref\.jsonl.*line 2: expected a JSON object"):
        load_table(path)
    path.write_text('{"x": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"line 2: not JSON"):
        load_table(path)


def test_load_npy_two_d_names_columns_f0_to_fn(tmp_path: Path) -> None:
    path = tmp_path / "ref.npy"
    np.save(path, np.arange(6.0).reshape(3, 2))
    cols = load_table(path)
    assert list(cols) == ["f0", "f1"]
    np.testing.assert_array_equal(cols["f1"], [1.0, 3.0, 5.0])


def test_load_csv_parses_numbers_strings_and_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text("x,colour\n1.5,red\n,blue\n3,\n")
    cols = load_table(path)
    assert cols["x"].dtype == np.float64
    assert np.isnan(cols["x"][1])
    assert cols["colour"].dtype == object
    assert cols["colour"].tolist() == ["red", "blue", None]


def test_load_csv_with_ragged_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ref.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match=r"ref.csv:3"):
        load_table(path)


def test_load_parquet_reads_columns(tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}).to_parquet(path)
    cols = load_table(path)
    assert cols["a"].tolist() == [1.0, 2.0]
    assert cols["c"].tolist() == ["x", "y"]


def test_load_unknown_suffix_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "ref.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"ref\.txt"):
        load_table(path)


def test_columns_from_list_of_mappings_fills_missing_keys_with_nan() -> None:
    cols = columns_from_rows([{"a": 1, "b": "x"}, {"a": 2.5}])
    assert cols["a"].tolist() == [1.0, 2.5]
    assert cols["b"].tolist() == ["x", None]


def test_columns_from_arrays_and_names() -> None:
    assert list(columns_from_rows(np.zeros((4, 3)))) == ["f0", "f1", "f2"]
    assert list(columns_from_rows(np.zeros(4))) == ["f0"]
    cols = columns_from_rows(np.ones((2, 2)), feature_names=["u", "v"])
    assert list(cols) == ["u", "v"]


def test_a_two_d_column_of_a_mapping_is_one_vector_per_row() -> None:
    emb = np.arange(12.0).reshape(4, 3)
    cols = columns_from_rows({"x": [1, 2, 3, 4], "emb": emb, "col": np.ones((4, 1))})
    assert cols["emb"].shape == (4,) and cols["emb"].tolist() == emb.tolist()
    assert cols["col"].tolist() == [1.0] * 4  # an (n, 1) column is a scalar feature


def test_columns_from_mapping_and_dataframe() -> None:
    cols = columns_from_rows({"a": [1, 2], "b": ["p", "q"]})
    assert cols["a"].dtype == np.float64 and cols["b"].dtype == object
    df = pd.DataFrame({"a": [1, 2], "flag": [True, False], "c": ["x", "y"]})
    cols = columns_from_rows(df)
    assert cols["flag"].dtype == bool
    assert cols["c"].tolist() == ["x", "y"]


def test_infer_feature_types_and_overrides() -> None:
    cols = {
        "num": np.array([0.5, 1.5, 3.0]),
        "flag": np.array([True, False, True]),
        "zero_one": np.array([0.0, 1.0, np.nan]),
        "cat": np.array(["a", "b", None], dtype=object),
        "int_objects": np.array([1, 2, None], dtype=object),
    }
    types = infer_feature_types(cols, overrides={"zero_one": "numeric"})
    assert types == {
        "num": FeatureType.NUMERIC,
        "flag": FeatureType.BOOLEAN,
        "zero_one": FeatureType.NUMERIC,
        "cat": FeatureType.CATEGORICAL,
        "int_objects": FeatureType.NUMERIC,
    }


def test_to_numeric_counts_strings_as_bad_values() -> None:
    values, bad = to_numeric(np.array([1.0, "x", None, 2], dtype=object))
    assert bad == 1
    assert values[0] == 1.0 and np.isnan(values[1]) and np.isnan(values[2]) and values[3] == 2.0
