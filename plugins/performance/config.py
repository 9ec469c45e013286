"""The ``[performance]`` config table, on the shared key table of ``agent.plugin``.

Defaults in ``[performance]``, per-model overrides in ``[performance.models.NAME]`` (same
keys). The reference data itself comes from ``[models.NAME] reference`` (or
``agent.set_reference``); this table says which of its columns hold the labels, the
model's class scores (classifiers) or its prediction (regressors). ``trainings`` (retrains
recorded in config) is per model only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent.plugin import (
    ConfigError,
    Key,
    TrainingRecord,
    Window,
    boolean,
    duration,
    int_at_least,
    non_negative,
    nonempty_string,
    one_of,
    optional,
    parse_models,
    positive_int,
    positive_number,
    probability,
    ratio,
    str_list,
    window,
)
from plugins.performance.names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from plugins.performance.retrain import training_record

DEFAULT_WINDOW = Window("count", 1000, 3600.0)


def trainings(key: str, value: Any) -> tuple[TrainingRecord, ...]:
    """A list of ``{version, trained_at, data_until, metrics}`` tables (times: TOML datetimes, ISO-8601 or epoch)."""
    if not isinstance(value, list | tuple):
        raise ConfigError(key, value, "a list of {version, trained_at, data_until, metrics} tables")
    out = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, item, "a table {version, trained_at, data_until, metrics}")
        unknown = set(item) - {"version", "trained_at", "data_until", "metrics"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", item[sorted(unknown)[0]],
                              "one of the keys version, trained_at, data_until, metrics")
        try:
            out.append(training_record("", item.get("version"), item.get("trained_at"), item.get("data_until"),
                                       item.get("metrics")))
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            raise ConfigError(f"{where}.{field}", item.get(field), str(exc).split(": ", 1)[-1]) from None
    return tuple(out)


KEYS: dict[str, Key] = {
    "window": Key(window, DEFAULT_WINDOW),
    "min_window_rows": Key(positive_int, 50),
    "task": Key(one_of("auto", "classification", "regression"), "auto"),
    "label_column": Key(nonempty_string, "label"),
    "score_columns": Key(str_list, ()),
    "proba_prefix": Key(nonempty_string, "proba_"),
    "prediction_column": Key(nonempty_string, "prediction"),
    "feature_columns": Key(optional(str_list), None),
    "classes": Key(str_list, ()),
    "threshold": Key(ratio, 0.5),
    "calibration": Key(one_of("auto", "isotonic", "none"), "auto"),
    "calibration_folds": Key(int_at_least(2), 3),
    "band_sigmas": Key(positive_number, 3.0),
    "dle_bins": Key(int_at_least(1), 5),
    "dle_ridge": Key(non_negative, 1.0),
    "bbse": Key(boolean, True),
    "bbse_max_condition": Key(positive_number, 100.0),
    "label_shift_alpha": Key(probability, 0.01),
    "label_windows": Key(positive_int, 24),
    "max_tracked_rows": Key(positive_int, 200_000),
    "min_labelled_rows": Key(positive_int, 50),
    "history_file": Key(nonempty_string, "performance/history.json"),
    "history_max_points": Key(positive_int, 2000),
    "retrain_metric": Key(one_of("auto", *CLASSIFICATION_METRICS, *REGRESSION_METRICS), "auto"),
    "retrain_floor": Key(optional(non_negative), None),
    "retrain_lead": Key(duration, 7 * 86400.0),
    "trainings": Key(trainings, ()),
}

MOVED: dict[str, str] = {
    "window_type": "window.type",
    "window_size": "window.size",
    "window_seconds": "window.seconds",
    "reference": "models.NAME.reference",
    "reference_path": "models.NAME.reference",
}


@dataclass(frozen=True, slots=True)
class PerformanceConfig:
    """Checked settings of one model (defaults in ``KEYS``)."""

    window: Window = DEFAULT_WINDOW
    min_window_rows: int = 50
    task: str = "auto"
    label_column: str = "label"
    score_columns: tuple[str, ...] = ()
    proba_prefix: str = "proba_"
    prediction_column: str = "prediction"
    feature_columns: tuple[str, ...] | None = None
    classes: tuple[str, ...] = ()
    threshold: float = 0.5
    calibration: str = "auto"
    calibration_folds: int = 3
    band_sigmas: float = 3.0
    dle_bins: int = 5
    dle_ridge: float = 1.0
    bbse: bool = True
    bbse_max_condition: float = 100.0
    label_shift_alpha: float = 0.01
    label_windows: int = 24
    max_tracked_rows: int = 200_000
    min_labelled_rows: int = 50
    history_file: str = "performance/history.json"
    history_max_points: int = 2000
    retrain_metric: str = "auto"
    retrain_floor: float | None = None
    retrain_lead: float = 7 * 86400.0
    trainings: tuple[TrainingRecord, ...] = ()


def parse_config(section: Mapping[str, Any]) -> tuple[PerformanceConfig, dict[str, PerformanceConfig]]:
    """Check ``[performance]``: (defaults, per model); ``ConfigError`` names the key path."""
    default, per_model = parse_models("performance", section, KEYS, moved=MOVED)
    if default["trainings"]:
        raise ConfigError("performance.trainings", section.get("trainings"),
                          "trainings under [performance.models.NAME] (they belong to one model)")
    for name, values in per_model.items():
        values["trainings"] = tuple(replace(t, model=name) for t in values["trainings"])
        if values["history_file"] != default["history_file"]:  # one file holds every model's history
            raise ConfigError(f"performance.models.{name}.history_file", values["history_file"],
                              "history_file in [performance] only (one file holds every model's history)")
    return PerformanceConfig(**default), {m: PerformanceConfig(**v) for m, v in per_model.items()}

