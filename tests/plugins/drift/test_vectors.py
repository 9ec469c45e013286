"""Vector (embedding) features: one exact permutation test each, a readable effect, bad rows counted alone.

Real data: scikit-learn's digits as 64-d vectors (shipped with scikit-learn). The study
itself (200 null splits per n, 50 draws per shift and n) is ``benchmarks/vectors.py``; the
tests below run its trial function at coarse levels.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from agent.plugin import ConfigError
from agent.testing import run_plugin
from plugins.drift import DriftConfig, names
from plugins.drift.detector import build_profile, evaluate
from plugins.drift.vectors import VectorTest, classifier_aucs, fit_vectors, run_vectors, vector_matrix
from tests.plugins.drift.data import by, columns, objects, rows
from tests.support.benchmarks import load_benchmark

pytest.importorskip("sklearn")

SMALL = {"window": {"size": 100}, "min_window": 30, "permutations": 50}


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _study() -> ModuleType:
    return load_benchmark("vectors")


# -- pure functions ------------------------------------------------------------------------------


def test_vector_matrix_keeps_rows_of_the_reference_dimension_and_counts_the_rest_by_reason() -> None:
    col = objects([[1.0, 2.0, 3.0], (4, 5, 6), np.array([7.0, 8.0, 9.0]), [1.0, 2.0], None,
                   [1.0, float("nan"), 0.0], [1.0, "x", 2.0], 3.5, [0.0, float("inf"), 1.0]])
    vm = vector_matrix(col)
    assert vm.dim == 3
    assert vm.rows.tolist() == [0, 1, 2]
    assert vm.matrix.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert dict(vm.issues) == {names.BAD_VECTOR_DIMENSION: 2, names.BAD_VECTOR_NON_FINITE: 2,
                               names.BAD_VECTOR_NON_NUMERIC: 1}
    assert vm.missing == 1
    assert vector_matrix(col, dim=2).rows.tolist() == [3]
    two_d = vector_matrix(np.arange(12.0).reshape(4, 3), dim=3)
    assert two_d.matrix.shape == (4, 3) and not two_d.issues
    assert dict(vector_matrix(np.zeros((4, 2)), dim=3).issues) == {names.BAD_VECTOR_DIMENSION: 4}


def test_classifier_aucs_match_a_ridge_fitted_directly_and_sklearns_auc_for_each_relabeling() -> None:
    from sklearn.metrics import roc_auc_score

    from plugins.drift.permutation import relabel

    rng = np.random.default_rng(3)
    Z = np.vstack([rng.normal(size=(60, 4)), rng.normal(0.5, 1.0, size=(40, 4))])
    labels = relabel(60, 40, 3, np.random.default_rng(4))
    got = classifier_aucs(Z, labels, seed=7)
    X = np.concatenate([Z, Z * Z], axis=1)
    order = np.random.default_rng(8).permutation(100)
    halves = (np.sort(order[:50]), np.sort(order[50:]))
    for b in range(labels.shape[0]):
        aucs = []
        for train, held in (halves, halves[::-1]):
            mu, sd = X[train].mean(0), X[train].std(0)
            Xt = (X[train] - mu) / sd
            w = np.linalg.solve(Xt.T @ Xt + len(train) / X.shape[1] * np.eye(X.shape[1]),
                                Xt.T @ labels[b, train].astype(float))
            aucs.append(roc_auc_score(labels[b, held], ((X[held] - mu) / sd) @ w))
        assert got[b] == pytest.approx(np.mean(aucs), abs=1e-9)


def test_the_projection_is_fitted_on_reference_rows_the_test_never_pools() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(90, 6))
    prof = fit_vectors(vector_matrix(ref), components=3, reference_rows=1000)
    assert prof is not None
    assert prof.n_rows == 60  # a third fits the projection, the rest are pooled with each window
    tested = {tuple(r) for r in prof.rows.tolist()}
    fit = [r for r in ref.tolist() if tuple(r) not in tested]
    assert len(fit) == 30 and np.allclose(prof.mean, np.mean(fit, axis=0))
    assert prof.projected.shape == (60, 4)  # 3 unit-variance components + the residual norm
    assert fit_vectors(vector_matrix(ref[:8]), 3, 1000) is None


def test_false_positive_rate_over_200_null_splits_of_digits_is_calibrated() -> None:
    study = _study()
    X, y = study.digits()
    cfg = DriftConfig(vector_reference_rows=300)
    p = np.array([study.trial(X, y, 100, "null", seed, config=cfg)[0].p_value for seed in range(200)])
    assert 0.02 <= float(np.mean(p < 0.05)) <= 0.08


@pytest.mark.parametrize(("shift", "n", "least"), [("digits0-4", 100, 0.9), ("noise1", 100, 0.8),
                                                   ("noise2", 100, 1.0), ("over0", 500, 0.7)])
def test_class_mix_changes_and_added_noise_are_detected_on_digits(shift: str, n: int, least: float) -> None:
    study = _study()
    X, y = study.digits()
    cfg = DriftConfig(vector_reference_rows=300)
    outs = [study.trial(X, y, n, shift, seed, config=cfg, reference_share=0.3)[0] for seed in range(10)]
    assert float(np.mean([o.p_value < 0.05 for o in outs])) >= least


def test_each_statistic_choice_gives_an_exact_test_with_the_auc_effect() -> None:
    rng = np.random.default_rng(6)
    prof = fit_vectors(vector_matrix(rng.normal(size=(600, 10))), 4, 400)
    assert prof is not None
    shifted = rng.normal(0.6, 1.0, size=(150, 10))
    for test, comps in [(VectorTest.BOTH, {"mmd@1σ", "mmd@0.5σ", "auc"}), (VectorTest.MMD, {"mmd@1σ", "mmd@0.5σ"}),
                        (VectorTest.CLASSIFIER, {"auc"})]:
        out = run_vectors(prof, shifted, permutations=50, test=test)
        assert set(out.components) == comps
        assert out.p_value < 0.05 and out.auc > 0.6 and out.auc_effect == pytest.approx(out.auc - 0.5)
        assert 0 < out.auc_null < 0.1


def test_a_two_d_column_is_a_vector_feature_tested_alone() -> None:
    rng = np.random.default_rng(7)
    cfg = DriftConfig(permutations=50)
    prof = build_profile({"x": rng.normal(size=400), "emb": rng.normal(size=(400, 5))}, cfg)
    report = evaluate(prof, {"x": rng.normal(size=100), "emb": rng.normal(1.0, 1.0, size=(100, 5))}, cfg)
    got = {r.feature: r for r in report.results}
    assert got["emb"].test == names.TEST_VECTOR and got["emb"].drifted
    assert got["emb"].effect_name == names.EFFECT_AUC_ABOVE_CHANCE and got["emb"].threshold == 0.05
    assert not got["x"].drifted


# -- the plugin on the real host -------------------------------------------------------------------


def _with_embeddings(cols: dict[str, np.ndarray], vectors: np.ndarray) -> list[dict[str, Any]]:
    out = rows(cols)
    for r, v in zip(out, vectors.tolist(), strict=True):
        r["embedding"] = v
    return out


def test_a_vector_feature_next_to_scalar_features_leaves_their_tests_alone_and_counts_its_bad_rows() -> None:
    rng = np.random.default_rng(8)
    ref_cols, cur_cols = columns(rng, 400), columns(rng, 100, shift=1.0)
    ref_vec, cur_vec = rng.normal(size=(400, 8)), rng.normal(0.8, 1.0, size=(100, 8))
    current = _with_embeddings(cur_cols, cur_vec)
    current[3]["embedding"] = [1.0, 2.0]  # wrong dimension
    current[4]["embedding"] = [float("nan")] * 8
    current[5]["embedding"] = [1.0] * 9
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", _with_embeddings(ref_cols, ref_vec))
        h.feed("fraud", current, [0.5] * 100)
        h.tick()
        assert h.plugin_errors == 0
        latest = {r.feature: r for r in h.plugin("drift").latest("fraud")}
        bad = by(h, names.BAD_VALUES, names.ATTR_FEATURE, names.ATTR_REASON)
        detected = h.metric_points(names.DETECTED)
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("fraud", rows(ref_cols))
        h.feed("fraud", rows(cur_cols), [0.5] * 100)
        h.tick()
        alone = {r.feature: r for r in h.plugin("drift").latest("fraud")}
    emb = latest["embedding"]
    assert emb.test == names.TEST_VECTOR and emb.skipped is None and emb.drifted
    assert emb.n_window == 97 and emb.effect_name == names.EFFECT_AUC_ABOVE_CHANCE
    assert emb.corrected_effect >= emb.threshold and "cosine_distance" in emb.effects
    assert bad[("embedding", names.BAD_VECTOR_DIMENSION)] == 2 and bad[("embedding", names.BAD_VECTOR_NON_FINITE)] == 1
    for f in ("amount", "age", "country", "multivariate"):  # the same tests, statistics and p-values
        assert (latest[f].test, latest[f].statistic, latest[f].p_value) == (alone[f].test, alone[f].statistic,
                                                                            alone[f].p_value)
    # one more feature in the Bonferroni family: the scalar features' corrected p-values grow by 4/3
    assert latest["amount"].corrected_p_value == pytest.approx(min(1.0, alone["amount"].corrected_p_value * 4 / 3))
    assert any(p.attributes.get(names.ATTR_FEATURE) == "embedding" and p.value == 1.0 for p in detected)


def test_digits_windows_through_the_plugin_flag_a_class_mix_change_and_not_a_resample() -> None:
    study = _study()
    X, y = study.digits()
    order = np.random.default_rng(9).permutation(len(X))
    ref, pool = order[:900], order[900:]
    same = pool[:100]
    mix = pool[y[pool] <= 4][:100]
    with run_plugin("drift", config={"drift": SMALL}) as h:
        h.set_reference("digits", {"pixels": X[ref]})  # a mapping of columns: a 2-D column is one vector per row
        h.feed("digits", [{"pixels": v} for v in X[same].tolist()], [0] * 100)
        h.tick()
        first = {r.feature: r for r in h.plugin("drift").latest("digits")}["pixels"]
        h.feed("digits", [{"pixels": v} for v in X[mix].tolist()], [0] * 100)
        h.tick()
        second = {r.feature: r for r in h.plugin("drift").latest("digits")}["pixels"]
        assert h.plugin_errors == 0
    assert not first.drifted and second.drifted
    assert second.effects["auc"] > 0.6


def test_vector_keys_are_checked_at_init_naming_the_key_and_layered_per_model() -> None:
    for bad, key in [({"vector_components": 0}, "drift.vector_components"),
                     ({"vector_test": "knn"}, "drift.vector_test"),
                     ({"vector_reference_rows": 3}, "drift.vector_reference_rows"),
                     ({"thresholds": {"vector": 0.7}}, "drift.thresholds.vector"),
                     ({"models": {"fraud": {"vector_components": -1}}}, "drift.models.fraud.vector_components")]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")), run_plugin("drift", config={"drift": bad}):
            pass
    rng = np.random.default_rng(10)
    config = {"drift": {**SMALL, "thresholds": {"vector": 0.2}, "models": {"fraud": {"vector_test": "off"}}}}
    with run_plugin("drift", config=config) as h:
        for model in ("fraud", "search"):
            h.set_reference(model, _with_embeddings(columns(rng, 200), rng.normal(size=(200, 4))))
            h.feed(model, _with_embeddings(columns(rng, 100), rng.normal(size=(100, 4))), [0.5] * 100)
        h.tick()
        fraud = {r.feature: r for r in h.plugin("drift").latest("fraud")}["embedding"]
        search = {r.feature: r for r in h.plugin("drift").latest("search")}["embedding"]
    assert fraud.skipped == names.SKIP_VECTOR
    assert search.skipped is None and search.threshold == 0.2


def test_the_offline_command_tests_a_parquet_column_of_lists(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import json

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from tests.support.cli import run_cli

    rng = np.random.default_rng(11)
    for name, n, shift in (("ref", 400, 0.0), ("cur", 150, 0.8)):
        pq.write_table(pa.table({"amount": rng.normal(size=n), "emb": rng.normal(shift, 1.0, (n, 6)).tolist()}),
                       tmp_path / f"{name}.parquet")
    files = [str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")]
    done = run_cli("drift", *files, "--json", "--threshold-vector", "0.1")
    assert done.returncode == 1
    out = json.loads(done.stdout)
    emb = next(r for r in out["results"] if r["feature"] == "emb")
    assert emb["test"] == names.TEST_VECTOR and emb["drifted"] and emb["effect_name"] == "auc_above_chance"
    assert out["rule"]["thresholds"]["vector"] == emb["threshold"] == 0.1
    done = run_cli("drift", *files, "--threshold-vector", "0.7")
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "--threshold-vector" in err[0] and "0.5" in err[0]


def test_repeated_vectors_tie_at_mid_ranks_and_a_constant_feature_is_never_drift() -> None:
    rng = np.random.default_rng(12)
    ref = np.repeat(np.eye(3), 100, axis=0)  # three distinct vectors, each repeated
    same = np.repeat(np.eye(3), 30, axis=0)
    prof = fit_vectors(vector_matrix(ref), 4, 1000)
    assert prof is not None
    out = run_vectors(prof, same[rng.permutation(90)], permutations=50)
    assert out.p_value > 0.05
    constant = fit_vectors(vector_matrix(np.ones((300, 5))), 4, 1000)
    assert constant is not None
    flat = run_vectors(constant, np.ones((60, 5)), permutations=50)
    assert flat.auc == pytest.approx(0.5) and flat.p_value > 0.05 and flat.auc_effect == 0.0


def test_auc_with_tied_scores_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    from plugins.drift.vectors import _auc_columns

    rng = np.random.default_rng(13)
    scores = rng.integers(0, 4, size=(20, 50)).astype(float)
    positive = rng.random((20, 50)) < 0.4
    expected = [roc_auc_score(positive[i], scores[i]) for i in range(20)]
    assert _auc_columns(scores, positive) == pytest.approx(expected, abs=1e-12)
