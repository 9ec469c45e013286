"""Each realized-performance metric agrees with scikit-learn on seeded data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from plugins.feedback import performance as perf


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500)
    scores = np.clip(0.3 * y + rng.normal(0.35, 0.25, 500), 0, 1).round(2)  # rounding makes ties
    return y, (scores >= 0.5).astype(int), scores


def test_accuracy_precision_recall_f1_match_sklearn_binary(binary: tuple[np.ndarray, ...]) -> None:
    y, pred, _ = binary
    assert perf.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    p, r, f = perf.precision_recall_f1(y, pred)
    assert p == pytest.approx(skm.precision_score(y, pred))
    assert r == pytest.approx(skm.recall_score(y, pred))
    assert f == pytest.approx(skm.f1_score(y, pred))


def test_macro_precision_recall_f1_match_sklearn_multiclass() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 400)
    pred = np.where(rng.random(400) < 0.6, y, rng.integers(0, 4, 400))
    pred[pred == 3] = 2  # class 3 never predicted: zero_division=0 path
    p, r, f = perf.precision_recall_f1(y.tolist(), pred.tolist(), average="macro")
    assert p == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert r == pytest.approx(skm.recall_score(y, pred, average="macro", zero_division=0))
    assert f == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))


def test_roc_auc_matches_sklearn_with_ties(binary: tuple[np.ndarray, ...]) -> None:
    y, _, scores = binary
    assert perf.roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))


def test_roc_auc_is_nan_with_one_class() -> None:
    assert math.isnan(perf.roc_auc([1, 1, 1], [0.2, 0.4, 0.9]))


def test_log_loss_matches_sklearn_binary_and_multiclass(binary: tuple[np.ndarray, ...]) -> None:
    y, _, scores = binary
    assert perf.log_loss(y, scores) == pytest.approx(skm.log_loss(y, scores))
    rng = np.random.default_rng(5)
    proba = rng.dirichlet([1, 1, 1], 300)
    yk = rng.integers(0, 3, 300)
    assert perf.log_loss(yk, proba) == pytest.approx(skm.log_loss(yk, proba, labels=[0, 1, 2]))


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(10, 3, 300)
    y[:3] = 0.0  # MAPE's epsilon floor
    pred = y + rng.normal(0, 1, 300)
    assert perf.mae(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert perf.rmse(y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert perf.mape(y, pred) == pytest.approx(skm.mean_absolute_percentage_error(y, pred))


def _ranking_data() -> tuple[list[list[str]], list[set[str]]]:
    rng = np.random.default_rng(13)
    ranked, clicked = [], []
    for _ in range(200):
        items = [f"i{j}" for j in rng.choice(50, 10, replace=False)]
        ranked.append(items)
        clicked.append({it for pos, it in enumerate(items) if rng.random() < 0.3 / (pos + 1)})
    return ranked, clicked


def test_ndcg_at_k_matches_sklearn_ndcg_score() -> None:
    ranked, clicked = _ranking_data()
    for k in (3, 5, 10):
        rel = np.array([[1.0 if it in c else 0.0 for it in r] for r, c in zip(ranked, clicked, strict=True)])
        score = np.tile(np.arange(10, 0, -1, dtype=float), (len(ranked), 1))  # list order = rank
        assert perf.ndcg_at_k(ranked, clicked, k) == pytest.approx(skm.ndcg_score(rel, score, k=k))


def test_precision_at_k_and_ctr_match_direct_computation() -> None:
    ranked, clicked = _ranking_data()
    k = 5
    direct = np.mean([sum(1 for it in r[:k] if it in c) / k for r, c in zip(ranked, clicked, strict=True)])
    assert perf.precision_at_k(ranked, clicked, k) == pytest.approx(direct)
    res = perf.ranking_metrics(ranked, clicked, k=k)
    assert res.metrics["ctr"] == pytest.approx(sum(len(c) for c in clicked) / (10 * len(ranked)))
    assert res.metrics["ndcg_at_5"] == pytest.approx(perf.ndcg_at_k(ranked, clicked, 5))


def test_classification_metrics_reports_auc_and_log_loss_only_with_scores(binary: tuple[np.ndarray, ...]) -> None:
    y, pred, scores = binary
    with_scores = perf.classification_metrics(y.tolist(), pred.tolist(), scores=scores.tolist())
    assert with_scores.metrics["auc_roc"] == pytest.approx(skm.roc_auc_score(y, scores))
    without = perf.classification_metrics(y.tolist(), pred.tolist())
    assert "auc_roc" not in without.metrics and "auc_roc" in without.skipped


def test_relative_drop_treats_error_metrics_as_lower_is_better() -> None:
    assert perf.relative_drop("accuracy", 0.9, 0.81) == pytest.approx(0.1)
    assert perf.relative_drop("mae", 2.0, 2.5) == pytest.approx(0.25)
    assert perf.relative_drop("mae", 2.0, 1.5) < 0
    assert perf.degraded_metrics({"accuracy": 0.9, "mae": 2.0}, {"accuracy": 0.7, "mae": 2.1}, 0.1) == {
        "accuracy": pytest.approx(0.2222, abs=1e-3)
    }
