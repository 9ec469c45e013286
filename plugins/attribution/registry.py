"""What the application registers for a model: an explainer, a predictor, reference attributions.

Config holds data, never code: callables are registered from the application with
``set_explainer`` / ``set_predictor`` (any thread, any time; the plugin picks up the latest
on the worker). Each registration bumps a version so the plugin recomputes what depended
on the previous one (reference attributions explained with an old explainer).

The callables run on the agent's worker thread, on captured rows: they must not call a
*monitored* model (its calls would be monitored and captured again). ``set_predictor``
unwraps ``@agent.monitor`` / ``agent.instrument`` wrappers itself (``inspect.unwrap``); an
explainer that calls the model internally (SHAP's model-agnostic explainers do) must be
given the plain model.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Explainer",
    "Predictor",
    "Reference",
    "clear",
    "explainer",
    "predictor",
    "reference",
    "set_explainer",
    "set_predictor",
    "set_reference_attributions",
]

Loss = Callable[[Any, Any], float]


@dataclass(frozen=True, slots=True)
class Explainer:
    """A per-row attribution function: ``fn(X) -> (n, k) array or {feature: (n,) array}``."""

    fn: Callable[[Any], Any]
    features: tuple[str, ...] | None
    version: int


@dataclass(frozen=True, slots=True)
class Predictor:
    """The model's prediction function for permutation importance, and an optional loss."""

    fn: Callable[[Any], Any]
    features: tuple[str, ...] | None
    loss: Loss | None
    version: int


@dataclass(frozen=True, slots=True)
class Reference:
    """Reference mean |attribution| (or importance) per feature, set by the application."""

    values: Mapping[str, float]
    version: int


_LOCK = threading.Lock()
_VERSIONS = itertools.count(1)
_EXPLAINERS: dict[str, Explainer] = {}
_PREDICTORS: dict[str, Predictor] = {}
_REFERENCES: dict[tuple[str, str], Reference] = {}


def _features(where: str, features: Sequence[str] | None) -> tuple[str, ...] | None:
    if features is None:
        return None
    if isinstance(features, str) or not all(isinstance(f, str) and f for f in features) or not features:
        raise ValueError(f"{where}: features must be a non-empty list of feature names, got {features!r}")
    if len(set(features)) != len(features):
        raise ValueError(f"{where}: features must not repeat a name, got {list(features)!r}")
    return tuple(features)


def _model(where: str, model: str) -> str:
    if not isinstance(model, str) or not model:
        raise ValueError(f"{where}: model must be a non-empty string, got {model!r}")
    return model


def set_explainer(model: str, fn: Callable[[Any], Any] | None, *, features: Sequence[str] | None = None) -> None:
    """Register ``fn`` to compute per-row attributions of ``model``'s captured rows on the worker (None removes it).

    ``fn`` receives a float array ``X`` of shape (rows, k) whose columns are ``features``
    (default: the model's ``feature_names``, else its numeric columns in capture order) and
    returns attributions as an array of the same shape, or a mapping feature -> array. Its
    reference attributions are the mean |attribution| over the reference rows. Runs on at
    most ``explain_max_rows`` rows per window. SHAP: ``set_explainer("m", lambda X:
    shap.TreeExplainer(model).shap_values(X))`` (SHAP stays the application's dependency).
    """
    where = "set_explainer"
    _model(where, model)
    if fn is not None and not callable(fn):
        raise ValueError(f"{where}: fn must be callable, got {type(fn).__name__}")
    names = _features(where, features)
    with _LOCK:
        if fn is None:
            _EXPLAINERS.pop(model, None)
        else:
            _EXPLAINERS[model] = Explainer(fn, names, next(_VERSIONS))


def set_predictor(
    model: str,
    predict: Callable[[Any], Any] | None,
    *,
    features: Sequence[str] | None = None,
    loss: Loss | None = None,
) -> None:
    """Register ``model``'s prediction function for permutation importance on labelled rows (None removes it).

    ``predict`` receives a float array ``X`` (rows, k) with columns ``features`` (as for
    ``set_explainer``) and returns one prediction per row, or a probability vector per row.
    ``loss(y_true, y_pred) -> float`` defaults to the error rate (classification: argmax of a
    probability vector, or a 0.5 threshold on a probability, against the label) or the mean
    absolute error (regression). A ``@agent.monitor``/``agent.instrument`` wrapper is unwrapped.
    """
    where = "set_predictor"
    _model(where, model)
    if predict is not None and not callable(predict):
        raise ValueError(f"{where}: predict must be callable, got {type(predict).__name__}")
    if loss is not None and not callable(loss):
        raise ValueError(f"{where}: loss must be callable, got {type(loss).__name__}")
    names = _features(where, features)
    with _LOCK:
        if predict is None:
            _PREDICTORS.pop(model, None)
        else:
            _PREDICTORS[model] = Predictor(inspect.unwrap(predict), names, loss, next(_VERSIONS))


def set_reference_attributions(model: str, values: Mapping[str, float] | None, *, method: str = "attribution") -> None:
    """Set ``model``'s reference mean |attribution| per feature (``method="permutation"``: importances); None clears.

    Wins over reference attributions the plugin computes (from an explainer on the
    reference rows, or permutation importance on labelled reference rows).
    """
    where = "set_reference_attributions"
    _model(where, model)
    if method not in ("attribution", "permutation"):
        raise ValueError(f"{where}: method must be 'attribution' or 'permutation', got {method!r}")
    clean: dict[str, float] = {}
    if values is not None:
        if not isinstance(values, Mapping) or not values:
            raise ValueError(f"{where}: values must be a non-empty mapping feature -> number, got {values!r}")
        for k, v in values.items():
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise ValueError(f"{where}: values must map feature names to numbers >= 0, got {k!r}: {v!r}")
            clean[k] = float(v)
    with _LOCK:
        if values is None:
            _REFERENCES.pop((model, method), None)
        else:
            _REFERENCES[(model, method)] = Reference(clean, next(_VERSIONS))


def clear(model: str | None = None) -> None:
    """Forget what was registered for ``model`` (every model when None)."""
    with _LOCK:
        for table in (_EXPLAINERS, _PREDICTORS):
            for name in [k for k in table if model is None or k == model]:
                del table[name]
        for key in [k for k in _REFERENCES if model is None or k[0] == model]:
            del _REFERENCES[key]


def explainer(model: str) -> Explainer | None:
    """The explainer registered for ``model``."""
    with _LOCK:
        return _EXPLAINERS.get(model)


def predictor(model: str) -> Predictor | None:
    """The predictor registered for ``model``."""
    with _LOCK:
        return _PREDICTORS.get(model)


def reference(model: str, method: str) -> Reference | None:
    """Reference attributions the application set for ``model`` and ``method``."""
    with _LOCK:
        return _REFERENCES.get((model, method))
