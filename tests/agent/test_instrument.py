"""``agent.instrument``: real scikit-learn, XGBoost, LightGBM and PyTorch models, trained here, monitored as-is."""

from __future__ import annotations

import copy
import importlib.util
import inspect
import pickle
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import agent
from agent.testing import capture_telemetry

HAS_XGBOOST = importlib.util.find_spec("xgboost") is not None
HAS_LIGHTGBM = importlib.util.find_spec("lightgbm") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None

IRIS = load_iris(as_frame=True)
IRIS_X, IRIS_Y = IRIS.data, IRIS.target
CANCER_X, CANCER_Y = load_breast_cancer(return_X_y=True)


_IRIS_MODEL = LogisticRegression(max_iter=500).fit(IRIS_X, IRIS_Y)


def iris_model() -> LogisticRegression:
    """A fresh fitted classifier (a copy of one fitted once: fitting is the slow part)."""
    return copy.deepcopy(_IRIS_MODEL)


def _span_attrs(tel: Any) -> list[dict[str, Any]]:
    tel.flush()
    return [dict(s.attributes or {}) for s in tel.spans()]


def test_predict_gives_one_span_like_monitor_and_the_same_result() -> None:
    model = iris_model()
    expected = model.predict(IRIS_X)
    with capture_telemetry() as tel:
        agent.instrument(model, name="iris", version="1")
        got = model.predict(IRIS_X)  # LogisticRegression.predict calls self.decision_function: still one span

        @agent.monitor(model="iris-fn", version="1", task="classification")
        def decorated(x: Any) -> Any:
            return x

        decorated(IRIS_X)
        tel.flush()
        spans = {s.name: s for s in tel.spans()}
    assert np.array_equal(got, expected)
    assert set(spans) == {"predict iris", "predict iris-fn"}
    attrs = dict(spans["predict iris"].attributes or {})
    assert attrs["ml.task"] == "classification"  # from the estimator's type
    assert attrs["ml.batch.size"] == len(IRIS_X)
    assert set(attrs) == set(spans["predict iris-fn"].attributes or {})


def test_predict_proba_is_captured_as_probability_vectors_with_the_estimators_feature_names() -> None:
    model = iris_model()
    with capture_telemetry(models={"iris": {"capture": True}}) as tel:
        agent.instrument(model, name="iris")
        model.predict_proba(IRIS_X.iloc[:40])
        model.predict_proba(IRIS_X.iloc[[7]])
        tel.flush()
        batches = [b for _, b in tel.records]
        info = tel.agent.models["iris"] if tel.agent else None
    assert info is not None and info.feature_names == tuple(IRIS_X.columns)
    assert sum(len(b) for b in batches) == 41
    for batch in batches:
        assert set(batch.columns) == set(IRIS_X.columns)
        assert batch.outputs is not None and batch.outputs.ndim == 2 and batch.outputs.shape[1] == 3
        assert np.allclose(batch.outputs.sum(axis=1), 1.0)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_an_unnamed_array_gets_the_feature_names_the_estimator_was_fitted_with() -> None:
    model = iris_model()
    with capture_telemetry(models={"iris": {"capture": True}}) as tel:
        agent.instrument(model, name="iris")
        model.predict(IRIS_X.to_numpy()[:10])
        tel.flush()
        ((_, batch),) = tel.records
    assert list(batch.columns) == list(IRIS_X.columns)
    assert np.array_equal(batch.columns["sepal length (cm)"], IRIS_X.to_numpy()[:10, 0])


def test_the_callers_prediction_id_is_used_as_with_monitor() -> None:
    model = iris_model()
    with capture_telemetry() as tel:
        agent.instrument(model, name="iris", prediction_id=lambda X: f"request-{len(X)}")
        model.predict(IRIS_X.iloc[:7])
        (attrs,) = _span_attrs(tel)
    assert attrs["ml.prediction.id"] == "request-7"


def test_instrumenting_twice_wraps_once_and_another_name_is_refused() -> None:
    model = iris_model()
    with capture_telemetry() as tel:
        assert agent.instrument(model, name="iris") is model
        first = vars(model)["predict"]
        agent.instrument(model, name="iris")
        assert vars(model)["predict"] is first
        model.predict(IRIS_X)
        assert len(_span_attrs(tel)) == 1
        with pytest.raises(ValueError, match="already instrumented as model 'iris'"):
            agent.instrument(model, name="other")


def test_uninstrument_restores_the_instance_exactly() -> None:
    model = iris_model()

    def custom(x: Any) -> Any:
        return "own"

    model.transform = custom  # type: ignore[attr-defined]  # an instance attribute the user set before
    before = dict(vars(model))
    agent.instrument(model, name="iris", methods=["predict", "predict_proba", "transform"])
    assert {"predict", "predict_proba", "transform"} <= set(vars(model))
    assert inspect.unwrap(model.predict) == before.get("predict", type(model).predict.__get__(model))
    assert agent.uninstrument(model) is model
    after = dict(vars(model))
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    assert model.predict.__func__ is type(model).predict  # type: ignore[attr-defined]
    assert model.transform is custom


def test_other_instances_of_the_class_stay_unmonitored() -> None:
    model, other = iris_model(), iris_model()
    with capture_telemetry() as tel:
        agent.instrument(model, name="iris")
        other.predict(IRIS_X)
        assert _span_attrs(tel) == []
        assert "predict" not in vars(other)


def test_a_pipeline_wraps_the_methods_its_last_step_offers() -> None:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(CANCER_X, CANCER_Y)
    pca = make_pipeline(StandardScaler(), PCA(n_components=3)).fit(CANCER_X)
    with capture_telemetry(models={"cancer": {"capture": True}, "embed": {"capture": True}}) as tel:
        agent.instrument(clf, name="cancer")
        agent.instrument(pca, name="embed")
        assert {"predict", "predict_proba", "decision_function"} <= set(vars(clf))
        assert "transform" not in vars(clf)  # LogisticRegression has no transform
        assert set(vars(pca)) >= {"transform"} and "predict" not in vars(pca)
        clf.predict(CANCER_X[:5])
        clf.decision_function(CANCER_X[:5])
        pca.transform(CANCER_X[:6])
        tel.flush()
        names = sorted(s.name for s in tel.spans())
        outputs = {info.name: b.outputs for info, b in tel.records}
    assert names == ["predict cancer", "predict cancer", "predict embed"]
    assert outputs["embed"] is not None and outputs["embed"].shape == (6, 3)


def test_a_regressor_is_a_regression_model() -> None:
    model = LinearRegression().fit(CANCER_X[:, :3], CANCER_X[:, 3])
    with capture_telemetry() as tel:
        agent.instrument(model, name="area")
        model.predict(CANCER_X[:4, :3])
        (attrs,) = _span_attrs(tel)
    assert attrs["ml.task"] == "regression" and attrs["ml.batch.size"] == 4


def test_an_instrumented_model_pickles_and_copies_as_the_plain_model() -> None:
    model = iris_model()
    with capture_telemetry() as tel:
        agent.instrument(model, name="iris")
        restored = pickle.loads(pickle.dumps(model))
        copied = copy.deepcopy(model)
        assert np.array_equal(restored.predict(IRIS_X), model.predict(IRIS_X))
        copied.coef_ = copied.coef_ * 0  # the copy predicts with its own coefficients
        copied.intercept_ = np.array([0.0, 1.0, 0.0])
        assert set(copied.predict(IRIS_X).tolist()) == {1}
        assert len(_span_attrs(tel)) == 1  # only the original is monitored
    assert not agent._instrument.is_instrumented(restored)


def test_an_unknown_object_needs_its_methods_named() -> None:
    class Scorer:
        def score(self, rows: list[dict[str, float]]) -> list[float]:
            return [r["a"] for r in rows]

    with pytest.raises(TypeError, match="methods="):
        agent.instrument(Scorer(), name="s")
    scorer = Scorer()
    with capture_telemetry() as tel:
        agent.instrument(scorer, name="s", task="regression", methods=["score"])
        assert scorer.score([{"a": 1.0}, {"a": 2.0}]) == [1.0, 2.0]
        (attrs,) = _span_attrs(tel)
    assert attrs["ml.batch.size"] == 2


@pytest.mark.skipif(not HAS_XGBOOST, reason="xgboost is not installed")
def test_xgboost_sklearn_api_and_booster_are_instrumented() -> None:
    import xgboost as xgb

    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(IRIS_X, IRIS_Y)
    booster = clf.get_booster().copy()  # the classifier's own booster is called by its predict_proba
    with capture_telemetry(models={"xgb": {"capture": True}, "xgb-booster": {"capture": True}}) as tel:
        agent.instrument(clf, name="xgb")
        agent.instrument(booster, name="xgb-booster")
        proba = clf.predict_proba(IRIS_X.iloc[:10])
        raw = booster.inplace_predict(IRIS_X.to_numpy()[:10])
        tel.flush()
        spans = sorted(s.name for s in tel.spans())
        records = {info.name: (info, b) for info, b in tel.records}
    assert spans == ["predict xgb", "predict xgb-booster"]
    assert np.allclose(proba, raw)
    info, batch = records["xgb-booster"]
    assert info.feature_names == tuple(IRIS_X.columns) and list(batch.columns) == list(IRIS_X.columns)
    assert records["xgb"][1].outputs is not None and records["xgb"][1].outputs.shape == (10, 3)


@pytest.mark.skipif(not HAS_LIGHTGBM, reason="lightgbm is not installed")
def test_lightgbm_booster_is_instrumented_with_its_feature_names() -> None:
    import lightgbm as lgb

    data = lgb.Dataset(IRIS_X, IRIS_Y, params={"verbose": -1})
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_iterations": 5}, data)
    with capture_telemetry(models={"lgb": {"capture": True}}) as tel:
        agent.instrument(booster, name="lgb")
        out = booster.predict(IRIS_X.to_numpy()[:12])
        tel.flush()
        ((info, batch),) = tel.records
    assert out.shape == (12, 3)
    assert info.feature_names == tuple(c.replace(" ", "_") for c in IRIS_X.columns)  # LightGBM's own spelling
    assert batch.outputs is not None and batch.outputs.shape == (12, 3)
    assert len(batch) == 12


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_a_torch_module_forward_is_monitored_with_or_without_grad() -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.tensor(IRIS_X.to_numpy()[:16], dtype=torch.float32)
    expected = net(x).detach()
    with capture_telemetry(models={"net": {"capture": True}}) as tel:
        agent.instrument(net, name="net", task="classification")
        with torch.no_grad():
            out = net(x)
        out_grad = net(x)
        assert out_grad.requires_grad  # autograd still works through the wrapper
        out_grad.sum().backward()
        tel.flush()
        spans = [dict(s.attributes or {}) for s in tel.spans()]
        batches = [b for _, b in tel.records]
    assert torch.equal(out, expected)
    assert len(spans) == 2 and all(a["ml.batch.size"] == 16 for a in spans)  # submodules are not separate models
    assert sum(len(b) for b in batches) == 32
    assert all(b.outputs is not None and b.outputs.shape == (len(b), 3) for b in batches)
    assert np.allclose(batches[0].columns["f0"][:16], IRIS_X.to_numpy()[:16, 0])
    agent.uninstrument(net)
    assert "forward" not in vars(net)


def test_not_running_the_model_is_called_plainly() -> None:
    model = agent.instrument(iris_model(), name="iris")
    assert np.array_equal(model.predict(IRIS_X), _IRIS_MODEL.predict(IRIS_X))
    agent.uninstrument(model)
