"""From a model's reference columns to fitted estimators: which columns are labels, scores, prediction, features.

Classifiers: the label column (``label_column``) and the model's class scores, either the
columns named in ``score_columns`` (in class order; one column = P(class 1) of a binary
model) or every column starting with ``proba_prefix`` (ordered by the rest of the name,
numerically when it is a number). Class names: ``classes`` when configured, else the
score columns' suffixes (``proba_0``, ``proba_1`` -> "0", "1"), else "0".."k-1". A label
(reference or feedback) matches a class by its text: 1, 1.0, "1" and True all match "1".

Regressors: the label column, the model's prediction on the reference
(``prediction_column``) and the loss model's features (``feature_columns``, default every
numeric column other than those).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from plugins.performance.bbse import BBSEReference, fit_bbse
from plugins.performance.cbpe import CBPEReference, as_proba, fit_cbpe
from plugins.performance.config import PerformanceConfig
from plugins.performance.dle import DLEReference, fit_dle
from plugins.performance.isotonic import CalibrationMode
from plugins.performance.metrics import predicted_classes

CLASSIFICATION = "classification"
REGRESSION = "regression"


class UnusableReferenceError(ValueError):
    """The reference cannot be used: the message says which column and what was expected."""


@dataclass(frozen=True, slots=True)
class FittedReference:
    """The estimators fitted on one model's reference."""

    task: str
    rows: int
    dropped: int
    classes: tuple[str, ...] = ()
    cbpe: CBPEReference | None = None
    bbse: BBSEReference | None = None
    dle: DLEReference | None = None


def _suffix_key(name: str, prefix: str) -> tuple[int, float, str]:
    rest = name[len(prefix):]
    try:
        return (0, float(rest), rest)
    except ValueError:
        return (1, 0.0, rest)


def score_columns(cfg: PerformanceConfig, columns: Mapping[str, Any]) -> list[str]:
    """The reference's score columns, in class order ([] when there are none)."""
    if cfg.score_columns:
        return list(cfg.score_columns)
    found = [c for c in columns if c.startswith(cfg.proba_prefix) and c != cfg.label_column]
    return sorted(found, key=lambda c: _suffix_key(c, cfg.proba_prefix))


def class_names(cfg: PerformanceConfig, scores: Sequence[str], k: int) -> tuple[str, ...]:
    """Class names in score order."""
    if cfg.classes:
        if len(cfg.classes) != k:
            raise UnusableReferenceError(f"performance classes: {len(cfg.classes)} names for {k} classes")
        return tuple(cfg.classes)
    if not cfg.score_columns and len(scores) == k:
        return tuple(_text(c[len(cfg.proba_prefix):]) for c in scores)
    return tuple(str(i) for i in range(k))


def _text(value: Any) -> str:
    """A label as the text classes are matched by: 1, 1.0, True and "1" are all "1"."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if math.isfinite(value) and float(value).is_integer() else repr(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            f = float(text)
        except ValueError:
            return text
        return str(int(f)) if math.isfinite(f) and f.is_integer() else text
    return str(value)


def label_index(value: Any, classes: Sequence[str]) -> int | None:
    """The class index of a label value, or None when it names no class."""
    try:
        return list(classes).index(_text(value))
    except ValueError:
        return None


def resolve_task(cfg: PerformanceConfig, model_task: str, columns: Mapping[str, Any]) -> str:
    """classification or regression: the config, else the model's task, else what the columns hold."""
    if cfg.task != "auto":
        return cfg.task
    if model_task in (CLASSIFICATION, REGRESSION):
        return model_task
    if score_columns(cfg, columns):
        return CLASSIFICATION
    if cfg.prediction_column in columns:
        return REGRESSION
    raise UnusableReferenceError(
        f"cannot tell the task: no score columns ({cfg.proba_prefix}*) and no prediction column "
        f"{cfg.prediction_column!r}; set [performance.models.NAME] task, score_columns or prediction_column")


def _column(columns: Mapping[str, Any], name: str, what: str) -> np.ndarray:
    if name not in columns:
        raise UnusableReferenceError(f"reference has no {what} column {name!r} (columns: {', '.join(sorted(columns))})")
    return np.asarray(columns[name])


def _numeric(col: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.asarray(col, dtype=float)
    except (TypeError, ValueError):
        raise UnusableReferenceError(f"reference column {name!r} is not numeric") from None


def fit_reference(cfg: PerformanceConfig, model_task: str, columns: Mapping[str, Any]) -> FittedReference:
    """Fit CBPE and BBSE (classifiers) or DLE (regressors) on the reference columns."""
    task = resolve_task(cfg, model_task, columns)
    labels_raw = _column(columns, cfg.label_column, "label")
    if task == CLASSIFICATION:
        names = score_columns(cfg, columns)
        if not names:
            raise UnusableReferenceError(
                f"reference has no score columns (score_columns, or columns {cfg.proba_prefix}*)")
        mat = np.column_stack([_numeric(_column(columns, c, "score"), c) for c in names])
        proba = as_proba(mat[:, 0] if mat.shape[1] == 1 else mat)
        classes = class_names(cfg, names, proba.shape[1])
        idx = np.array([-1 if (i := label_index(v, classes)) is None else i for v in labels_raw.tolist()])
        keep = (idx >= 0) & np.all(np.isfinite(proba), axis=1)
        if keep.sum() < 2:
            raise UnusableReferenceError(f"reference has no usable rows: labels in {cfg.label_column!r} must be one of "
                                   f"the classes {list(classes)} and the scores finite")
        proba, idx = proba[keep], idx[keep]
        binary = proba.shape[1] == 2
        cbpe = fit_cbpe(proba, idx, classes, threshold=cfg.threshold,
                        calibration=cast(CalibrationMode, cfg.calibration), folds=cfg.calibration_folds)
        bbse = fit_bbse(proba, idx, predicted_classes(proba, binary, cfg.threshold), binary=binary)
        return FittedReference(task, int(keep.sum()), int((~keep).sum()), classes, cbpe=cbpe, bbse=bbse)
    prediction = _numeric(_column(columns, cfg.prediction_column, "prediction"), cfg.prediction_column)
    target = _numeric(labels_raw, cfg.label_column)
    taken = {cfg.label_column, cfg.prediction_column}
    if cfg.feature_columns is not None:
        features = list(cfg.feature_columns)
        for f in features:
            _column(columns, f, "feature")
    else:
        features = [c for c, v in columns.items() if c not in taken and np.asarray(v).dtype.kind in "iufb"]
    cols = {f: _numeric(np.asarray(columns[f]), f) for f in features}
    keep = np.isfinite(prediction) & np.isfinite(target)
    for v in cols.values():
        keep &= np.isfinite(v)
    if keep.sum() < 2:
        raise UnusableReferenceError(
            "reference has no usable rows: label, prediction and features must be finite numbers")
    dle = fit_dle({f: v[keep] for f, v in cols.items()}, prediction[keep], target[keep], features,
                  bins=cfg.dle_bins, ridge=cfg.dle_ridge)
    return FittedReference(task, int(keep.sum()), int((~keep).sum()), dle=dle)
