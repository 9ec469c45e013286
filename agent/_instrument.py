"""``agent.instrument(model, name=...)``: monitor a model object's inference methods without changing its code.

Each inference method is wrapped on the *instance* (an attribute in the object's
``__dict__`` shadowing the class's method) through the same machinery as
``@agent.monitor`` (``_Binding`` and ``_wrap_sync``, or ``Observation`` for PyTorch), so
spans, metrics, prediction ids and capture are exactly those of a decorated function.
The class is never touched: other instances of it stay as they were.

Recognised objects (each library optional; nothing is imported here):

- scikit-learn estimators and pipelines (and the scikit-learn API of XGBoost and
  LightGBM): ``predict``, ``predict_proba``, ``decision_function``, ``transform``, those the
  object has. Feature names come from ``feature_names_in_``; ``predict_proba`` returns one
  probability vector per row, captured as such (``RecordBatch.outputs`` is 2-D); the task
  defaults to the estimator's type (classification or regression).
- XGBoost ``Booster``: ``predict``, ``inplace_predict``; LightGBM ``Booster``: ``predict``.
  Feature names from the booster.
- PyTorch ``nn.Module``: ``forward`` (``module(x)`` goes through it), inside
  ``torch.no_grad`` or not; CPU tensors are captured as NumPy views (no copy), tensors on
  another device are passed on uncaptured (counted as unprocessable by the agent).

A method called from inside another instrumented method of the same model (scikit-learn's
``predict`` calls ``decision_function``) runs unmonitored, so one call gives one span.
``instrument`` is idempotent; ``uninstrument`` restores the instance's ``__dict__`` exactly.
An instrumented model pickles and deep-copies as the uninstrumented one would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from agent._agent import Agent, model_info
from agent._monitor import _PID_KEY, Observation, _Binding, _wrap_sync

T = TypeVar("T")

SKLEARN_METHODS = ("predict", "predict_proba", "decision_function", "transform")
XGBOOST_METHODS = ("predict", "inplace_predict")
LIGHTGBM_METHODS = ("predict",)
TORCH_METHODS = ("forward",)

_MISSING = object()
_get_value = otel_context.get_value


class _ModelBinding(_Binding):
    """``@monitor``'s per-decoration state, plus feature names taken from the model object."""

    def __init__(self, fn: Callable[..., Any], model: str, feature_names: tuple[str, ...], **kw: Any) -> None:
        super().__init__(fn, model, kw.get("version"), kw.get("task"), kw.get("capture"), kw.get("sample_rate"),
                         kw.get("prediction_id"), None)
        self.feature_names = feature_names

    def bind(self, agent: Agent) -> Any:
        """Give the model the object's feature names (unless config names them), then bind as ``@monitor`` does."""
        if self.feature_names:
            with agent._lock:
                base = agent.models.get(self.model) or model_info(self.model, {})
                if not base.feature_names:
                    agent.models[self.model] = replace(base, feature_names=self.feature_names)
        return super().bind(agent)


class InstrumentedMethod:
    """An inference method wrapped by ``agent.instrument``: calls it monitored, as ``@agent.monitor`` would.

    ``__wrapped__`` is the original bound method (``inspect.unwrap`` and
    ``inspect.signature`` see through the wrapper).
    """

    def __init__(self, owner: Any, name: str, original: Any, call: Callable[..., Any], model: str,
                 options: dict[str, Any]) -> None:
        self.__wrapped__ = getattr(owner, name)
        self._owner = owner
        self._name = name
        self._original = original  # what the instance's __dict__ held under this name (_MISSING: nothing)
        self._call = call
        self.model = model
        self.options = options
        functools.update_wrapper(self, self.__wrapped__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        value: Any = _get_value(_PID_KEY)
        if value is not None and value[1] == self.model:  # called by another method of this model
            return self.__wrapped__(*args, **kwargs)
        return self._call(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (and copy.deepcopy) an instrumented model gives the uninstrumented method back.
        if self._original is not _MISSING:
            return (_same, (self._original,))
        return (getattr, (self._owner, self._name))

    def __repr__(self) -> str:
        return f"<instrumented {self.__wrapped__!r} as model {self.model!r}>"


def _same(value: T) -> T:
    return value


def _observed(inputs: Any) -> None:
    """Stands in for a PyTorch forward in the binding (its first argument is the captured inputs)."""


def _qualified(obj: Any) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}


def _library(model: Any) -> str | None:
    """Which recognised library ``model`` comes from: sklearn, xgboost, lightgbm, torch, or None."""
    names = _qualified(model)
    if "torch.nn.modules.module.Module" in names:
        return "torch"
    if "xgboost.core.Booster" in names:
        return "xgboost"
    if "lightgbm.basic.Booster" in names:
        return "lightgbm"
    if hasattr(model, "fit") and any(callable(getattr(model, m, None)) for m in SKLEARN_METHODS):
        return "sklearn"
    return None


def feature_names_of(model: Any) -> tuple[str, ...]:
    """Feature names the model object knows (``feature_names_in_``, a booster's names), or ()."""
    try:
        names = getattr(model, "feature_names_in_", None)
        if names is None and "xgboost.core.Booster" in _qualified(model):
            names = model.feature_names
        if names is None and "lightgbm.basic.Booster" in _qualified(model):
            names = model.feature_name()
            if names and all(str(n).startswith("Column_") for n in names):
                names = None  # LightGBM's placeholders for an unnamed training set
        return tuple(str(n) for n in names) if names is not None else ()
    except Exception:
        return ()


def task_of(model: Any) -> str | None:
    """classification / regression from a scikit-learn estimator's type, or None."""
    try:
        kind = model.__sklearn_tags__().estimator_type
    except Exception:
        kind = getattr(model, "_estimator_type", None)
    return {"classifier": "classification", "regressor": "regression"}.get(str(kind))


def _numpy(x: Any) -> Any:
    """A CPU tensor as a NumPy view (no copy); anything else unchanged."""
    if type(x).__name__ == "Tensor" and hasattr(x, "device"):
        try:
            if x.device.type == "cpu":
                return x.detach().numpy()
        except Exception:
            return x
    return x


def _torch_call(original: Any, binding: _Binding) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        first = args[0] if args else next(iter(kwargs.values()), None)
        with Observation(binding, _numpy(first)) as obs:
            out = original(*args, **kwargs)
            obs.set_output(_numpy(out))
        return out

    return call


def instrument(
    model: T,
    *,
    name: str,
    version: str | None = None,
    task: str | None = None,
    capture: bool | None = None,
    sample_rate: float | None = None,
    prediction_id: Callable[..., str] | None = None,
    methods: Iterable[str] | None = None,
) -> T:
    """Monitor ``model``'s inference methods as model ``name``; returns ``model`` (instrumented in place).

    ``version``/``task``/``capture``/``sample_rate``/``prediction_id`` mean what they mean for
    ``@agent.monitor`` (``prediction_id`` takes the method's arguments; the task defaults to
    the estimator's type). ``methods`` overrides the recognised ones (any object, any names).
    Idempotent for the same ``name``; raises ``ValueError`` when the object is already
    instrumented as another model, and ``TypeError`` when it is not a recognised model and
    ``methods`` is not given, or cannot hold instance attributes.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("instrument(name=...) must be a non-empty string")
    if sample_rate is not None and not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"instrument(sample_rate=...) must be between 0 and 1, got {sample_rate!r}")
    current = _wrappers(model)
    if current:
        models = {w.model for w in current.values()}
        if models != {name}:
            raise ValueError(f"instrument: the object is already instrumented as model {models.pop()!r}; "
                             "call agent.uninstrument(model) first")
        return model
    library = _library(model)
    if methods is None:
        chosen = {"sklearn": SKLEARN_METHODS, "xgboost": XGBOOST_METHODS, "lightgbm": LIGHTGBM_METHODS,
                  "torch": TORCH_METHODS}.get(library or "")
        if chosen is None:
            raise TypeError(f"instrument: {type(model).__qualname__} is not a scikit-learn estimator, an XGBoost or "
                            "LightGBM booster or a PyTorch module; name its inference methods with methods=[...]")
    else:
        chosen = tuple(methods)
    present = [m for m in chosen if callable(getattr(model, m, None))]
    if not present:
        raise TypeError(f"instrument: {type(model).__qualname__} has none of the methods {list(chosen)}")
    try:
        own = vars(model)
    except TypeError:
        raise TypeError(f"instrument: {type(model).__qualname__} cannot hold instance attributes "
                        "(it has __slots__ and no __dict__)") from None
    feature_names = feature_names_of(model)
    if task is None:
        task = task_of(model)
    options = {"version": version, "task": task, "capture": capture, "sample_rate": sample_rate,
               "prediction_id": prediction_id}
    for method in present:
        original = own.get(method, _MISSING)
        bound = getattr(model, method)
        if library == "torch" and method == "forward":
            binding = _ModelBinding(_observed, name, feature_names, **options)
            call = _torch_call(bound, binding)
        else:
            binding = _ModelBinding(bound, name, feature_names, **options)
            call = _wrap_sync(bound, binding)
        wrapper = InstrumentedMethod(model, method, original, call, name, options)
        setattr(model, method, wrapper)
    return model


def uninstrument(model: T) -> T:
    """Undo ``instrument``: the instance's attributes are exactly what they were; returns ``model``."""
    for method, wrapper in _wrappers(model).items():
        if wrapper._original is _MISSING:
            delattr(model, method)
        else:
            setattr(model, method, wrapper._original)
    return model


def is_instrumented(model: Any) -> bool:
    """Whether ``agent.instrument`` wrapped some method of ``model``."""
    return bool(_wrappers(model))


def _wrappers(model: Any) -> dict[str, InstrumentedMethod]:
    try:
        own = vars(model)
    except TypeError:
        return {}
    return {k: v for k, v in list(own.items()) if isinstance(v, InstrumentedMethod)}


__all__ = ["InstrumentedMethod", "feature_names_of", "instrument", "is_instrumented", "task_of", "uninstrument"]
