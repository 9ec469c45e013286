"""Frozen value types shared by the core and plugins: models, captured rows, feedback, signals, alerts."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Task = Literal["classification", "regression", "ranking", "recommendation", "generation", "other"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Identity of a monitored model plus its per-model settings from config (``[models.NAME]``)."""

    name: str
    version: str = ""
    task: str = "other"
    capture: bool = False
    sample_rate: float = 1.0
    feature_names: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """(name, version): the unit metrics and plugin state are kept per."""
        return (self.name, self.version)


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Captured rows of one model, columnar: one entry per row in every array.

    ``columns`` maps feature name to a 1-D array (numeric dtype when every value was a
    number, ``object`` otherwise). ``outputs`` holds the model output per row (2-D for
    probability vectors, ``object`` for anything else) or is ``None`` when outputs were
    not captured. ``prediction_ids`` repeats a call's id for each row of a batch call;
    ``row_index`` is the row's position within its call.
    """

    prediction_ids: tuple[str, ...]
    row_index: np.ndarray
    timestamps: np.ndarray
    columns: Mapping[str, np.ndarray]
    outputs: np.ndarray | None = None
    trace_ids: tuple[int, ...] = ()
    span_ids: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.prediction_ids)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Iterate rows as ``{feature: value}`` dicts (slow; for plugins that need it)."""
        names = list(self.columns)
        cols = [self.columns[n] for n in names]
        for i in range(len(self)):
            yield {n: c[i] for n, c in zip(names, cols, strict=True)}


FeedbackKind = str
"""One of click, hide, purchase, upvote, downvote, favourite, bookmark, share, label, or a custom kind."""


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One piece of feedback (user action or ground-truth label) about one prediction."""

    event_id: str
    prediction_id: str
    kind: FeedbackKind
    value: Any = None
    model: str | None = None
    item_id: str | None = None
    position: int | None = None
    timestamp: float = field(default_factory=time.time)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Signal:
    """A named measurement a plugin publishes for the alert engine (e.g. a drift effect size)."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)


AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert instance: a rule and label set, in the shape Alertmanager uses."""

    rule: str
    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    severity: str
    value: float
    threshold: float
    starts_at: float
    ends_at: float | None
    fingerprint: str
    generator_url: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    """What a notifier delivers: alerts sharing grouping labels, sent to one channel."""

    group_key: str
    group_labels: Mapping[str, str]
    status: AlertStatus
    alerts: tuple[Alert, ...]
    receiver: str


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured notification channel: its name, its type (claimed by one notifier plugin) and options."""

    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArtifactIdentity:
    """What was deployed for one model: the artifact's SHA-256 (hex) and size, or why it could not be read.

    ``sha256`` is empty and ``error`` says why when the artifact could not be read.
    """

    model: str
    sha256: str
    size: int
    path: str | None = None
    error: str | None = None

    @property
    def digest(self) -> str:
        """The digest in pin syntax, ``sha256:<hex>`` (empty when unreadable)."""
        return f"sha256:{self.sha256}" if self.sha256 else ""


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What ``agent.flush`` finished in time: true only when everything did.

    ``worker``: every capture and control operation queued before the call went through
    the plugins, and a tick ran after them (windows tested, Signals collected, alert rules
    evaluated). ``exporters``: the telemetry pipelines flushed what they held.
    """

    worker: bool
    exporters: bool

    def __bool__(self) -> bool:
        return self.worker and self.exporters

    @property
    def pending(self) -> tuple[str, ...]:
        """The parts that did not finish in time (empty when all did)."""
        return tuple(name for name, done in (("worker", self.worker), ("exporters", self.exporters)) if not done)


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """One retraining of a model: when it was trained, on data up to when, and what it scored then."""

    model: str
    version: str
    trained_at: float
    data_until: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
