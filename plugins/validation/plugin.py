"""The validation plugin: hook implementations wiring schema checks, outliers and edge cases to telemetry.

Every hook runs on the agent's worker thread (``configure`` on the caller's, at init),
through the host's guard: an unexpected failure propagates to the host, which counts it
in ``ml.agent.plugin_errors``. Expected failures are counted here by reason.

Accounting: every row handed to ``infersight_process_records`` is either validated
(``ml.validation.rows``) or counted in ``ml.validation.unprocessable`` with its reason
(``no_schema``, ``bad_value`` for a row whose values make a check raise, skipped alone;
``malformed_column``/``length_mismatch`` for a batch whose columns do not line up, which
the agent's own capture never produces). Findings (violations, outliers, edge cases) are
logged at info level: they go to the exported log, while stderr is kept for the agent.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from agent.plugin import FeedbackEvent, ModelInfo, PluginContext, RecordBatch, Signal, hookimpl
from plugins.validation import names
from plugins.validation.commands import add_commands
from plugins.validation.config import SECTION, ValidationConfig, parse_config
from plugins.validation.edgecases import find_edge_cases, point_predictions, row_error
from plugins.validation.state import ModelState, WindowCounts, build_state, reference_columns
from plugins.validation.validate import ValidationResult, Violation, missing_rate_breaches, validate_rows

__all__ = ["ValidationPlugin", "make_plugin"]


class ValidationPlugin:
    """Validates captured features against per-model schemas; reports violations, outliers, edge cases."""

    agent: PluginContext  # set by infersight_configure, which the host calls before any other hook

    def __init__(self) -> None:
        self.config = ValidationConfig()
        self.states: dict[str, ModelState] = {}
        self._pending: dict[str, list[Signal]] = {}

    # -- lifecycle ----------------------------------------------------------------------

    @hookimpl
    def infersight_add_commands(self, subparsers: argparse._SubParsersAction[Any]) -> None:
        """Add ``infersight validate`` and ``infersight schema infer`` to the command line."""
        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check ``[validation]`` (ConfigError on bad values) and create the instruments."""
        self.config = parse_config(agent.section(SECTION))
        self.agent = agent
        meter = agent.meter
        self._violations = meter.create_counter(
            names.VIOLATIONS, unit="{violation}", description="Feature values violating the schema"
        )
        self._rows = meter.create_counter(names.ROWS, unit="{row}", description="Captured rows validated")
        self._unprocessable = meter.create_counter(
            names.UNPROCESSABLE, unit="{row}", description="Captured rows not validated, by reason"
        )
        self._outlier_rate = meter.create_gauge(
            names.OUTLIER_RATE, unit="1", description="Share of a feature's values outside the robust range"
        )
        self._labels = meter.create_counter(
            names.LABELS, unit="{label}", description="Label events seen for edge-case detection, by outcome"
        )

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Close every open window as log events (its Signals are dropped: no tick follows)."""
        now = self.agent.clock()
        for state in self.states.values():
            self._close_window(state, now)
        self._pending.clear()

    # -- data path ----------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Infer (or complete) the model's schema from reference columns and fit outlier ranges and bins."""
        old = self.states.get(model.name)
        state = build_state(model.name, self.config.for_model(model.name), reference_columns(records.columns))
        state.version = model.version
        if old is not None:
            state.window = old.window  # rows already validated in the open window still count
        self.states[model.name] = state

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Validate a batch; count rows and violations; remember predictions for edge cases."""
        n = len(records)
        if n == 0:
            return
        state = self._state(model.name)
        state.version = model.version
        if state.schema is None:
            self._drop(state, n, names.REASON_NO_SCHEMA)
            return
        columns, problem = _columns_of(records, n)
        if problem is not None:
            self._drop(state, n, problem)
            return
        window = state.settings.window
        start = 0
        while start < n:
            # A count window closes at exactly ``size`` rows, even inside a batch.
            stop = n if window.type == "time" else min(n, start + window.size - state.window.rows)
            self._validate(state, records, columns, start, stop)
            start = stop
            if window.type == "count" and state.window.rows >= window.size:
                self._close_window(state, self.agent.clock())

    def _validate(
        self, state: ModelState, records: RecordBatch, columns: dict[str, np.ndarray], start: int, stop: int
    ) -> None:
        assert state.schema is not None
        n = stop - start
        whole = start == 0 and stop == len(records)
        part = columns if whole else {name: col[start:stop] for name, col in columns.items()}
        settings = state.settings
        res, bad, error = validate_rows(
            state.schema, part, n, ranges=state.ranges, max_examples=settings.max_examples
        )
        skipped = int(np.count_nonzero(bad))
        if skipped:
            self._drop(state, skipped, names.REASON_BAD_VALUE)
            self._log(
                names.EVENT_ROWS_SKIPPED,
                **_attrs(state),
                **{names.ATTR_REASON: names.REASON_BAD_VALUE, names.ATTR_COUNT: skipped,
                   names.ATTR_ERROR: type(error).__name__},
            )  # fmt: skip
        if res.rows == 0:
            return
        if state.window.start is None:
            state.window.start = self.agent.clock()
        state.window.add(res, settings.max_examples)
        attrs = _attrs(state)
        self._rows.add(res.rows, attrs)
        for (feature, kind), count in res.counts.items():
            self._violations.add(count, {**attrs, names.ATTR_FEATURE: feature, names.ATTR_KIND: kind.value})
        if state.store is not None:
            self._remember(state, records, res, ~bad, start, stop)

    def _remember(
        self, state: ModelState, records: RecordBatch, res: ValidationResult, good: np.ndarray, start: int, stop: int
    ) -> None:
        """Keep the validated rows' predictions, outlier flags and bins for labels that arrive later."""
        assert state.store is not None
        n = stop - start
        ids = records.prediction_ids[start:stop]
        rows = np.asarray(records.row_index)[start:stop].tolist()
        outputs = records.outputs
        # Outputs that do not line up with the rows give no predictions (their rows join no label).
        outputs = outputs[start:stop] if outputs is not None and len(outputs) == len(records) else None
        pred = point_predictions(outputs, n)
        bins = state.bins_for(res.numeric, n)
        keep = np.flatnonzero(good)
        state.store.add(
            [(ids[i], int(rows[i])) for i in keep.tolist()], pred[keep], res.outlier_rows[keep], bins[keep]
        )

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join label events to remembered predictions; record their error for edge-case slices."""
        state = self.states.get(model.name)
        if state is None or state.store is None or state.labelled is None:
            return
        outcomes: dict[str, int] = {}
        for ev in events:
            if ev.kind != "label":
                continue
            outcome = self._join_label(model, state, ev)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcomes.get(names.OUTCOME_JOINED) and state.labels_since is None:
            state.labels_since = self.agent.clock()
        for outcome, count in outcomes.items():
            self._labels.add(count, {**_attrs(state), names.ATTR_OUTCOME: outcome})

    def _join_label(self, model: ModelInfo, state: ModelState, ev: FeedbackEvent) -> str:
        assert state.store is not None and state.labelled is not None
        try:
            row = int(ev.attributes.get("row_index", 0)) if ev.attributes else 0
            hit = state.store.get((ev.prediction_id, row))
        except (TypeError, ValueError, OverflowError):  # a row index that is no integer, an unhashable id
            return names.OUTCOME_INVALID
        if hit is None:
            return names.OUTCOME_UNKNOWN_PREDICTION
        pred, outlier, bins = hit
        err = row_error(pred, ev.value, model.task)
        if math.isnan(err):
            return names.OUTCOME_INCOMPARABLE
        state.labelled.add(err, outlier, bins)
        return names.OUTCOME_JOINED

    # -- evaluation ---------------------------------------------------------------------

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close the model's time window when it is due; return violation, outlier and edge-case Signals.

        Labels that arrive while no window closes (traffic stopped, or a count window not
        yet full) are reported once ``window.seconds`` have passed since the first of them.
        """
        state = self.states.get(model.name)
        if state is None:
            return None
        window = state.settings.window
        start = state.window.start
        if window.type == "time" and start is not None and now - start >= window.seconds:
            self._close_window(state, now)
        elif state.labels_since is not None and now - state.labels_since >= window.seconds:
            self._pending.setdefault(state.name, []).extend(self._report_edge_cases(state, now))
        return self._pending.pop(model.name, None) or None

    def _close_window(self, state: ModelState, now: float) -> None:
        window, state.window = state.window, WindowCounts()
        signals = self._pending.setdefault(state.name, [])
        if window.rows and state.schema is not None:
            for feature, rate in missing_rate_breaches(state.schema, window.missing, window.rows).items():
                key = (feature, Violation.MISSING_RATE)
                window.counts[key] = window.counts.get(key, 0) + 1
                self._violations.add(1, {**_attrs(state), names.ATTR_FEATURE: feature, names.ATTR_KIND: key[1].value})
                window.missing_rates[feature] = rate
            signals.extend(self._report_violations(state, window, now))
            signals.extend(self._report_outliers(state, window, now))
        signals.extend(self._report_edge_cases(state, now))

    def _report_violations(self, state: ModelState, window: WindowCounts, now: float) -> list[Signal]:
        settings = state.settings
        out: list[Signal] = []
        for (feature, kind), count in sorted(window.counts.items()):
            if kind is Violation.OUTLIER:
                continue
            # missing_rate is one breach per window; its rate is the feature's missing rate
            rate = window.missing_rates[feature] if kind is Violation.MISSING_RATE else count / window.rows
            examples = window.examples.get((feature, kind), [])
            self._log(names.EVENT_VIOLATION, **_attrs(state), **{
                names.ATTR_FEATURE: feature, names.ATTR_KIND: kind.value, names.ATTR_COUNT: count,
                names.ATTR_WINDOW_ROWS: window.rows, names.ATTR_RATE: rate, names.ATTR_EXAMPLES: _texts(examples),
            })  # fmt: skip
            threshold = settings.threshold(kind.value)
            if rate > threshold:
                out.append(Signal(
                    name=names.SIGNAL_VIOLATION_RATE,
                    value=rate,
                    labels={**_labels(state), names.LABEL_FEATURE: feature, names.LABEL_KIND: kind.value},
                    details={"count": count, "rows": window.rows, "threshold": threshold, "examples": list(examples)},
                    timestamp=now,
                ))  # fmt: skip
        return out

    def _report_outliers(self, state: ModelState, window: WindowCounts, now: float) -> list[Signal]:
        threshold = state.settings.outlier_rate_threshold
        out: list[Signal] = []
        for feature, checked in sorted(window.outlier_checked.items()):
            if checked == 0:
                continue
            count = window.outliers.get(feature, 0)
            rate = count / checked
            self._outlier_rate.set(rate, {**_attrs(state), names.ATTR_FEATURE: feature})
            if count:
                rng = state.ranges.get(feature)
                self._log(names.EVENT_VIOLATION, **_attrs(state), **{
                    names.ATTR_FEATURE: feature, names.ATTR_KIND: Violation.OUTLIER.value, names.ATTR_COUNT: count,
                    names.ATTR_WINDOW_ROWS: checked, names.ATTR_RATE: rate,
                    names.ATTR_EXAMPLES: _texts(window.examples.get((feature, Violation.OUTLIER), [])),
                    names.ATTR_RANGE_LOW: rng.low if rng else None, names.ATTR_RANGE_HIGH: rng.high if rng else None,
                })  # fmt: skip
            if rate > threshold:
                out.append(Signal(
                    name=names.SIGNAL_OUTLIER_RATE, value=rate,
                    labels={**_labels(state), names.LABEL_FEATURE: feature},
                    details={"count": count, "checked": checked, "threshold": threshold},
                    timestamp=now,
                ))  # fmt: skip
        return out

    def _report_edge_cases(self, state: ModelState, now: float) -> list[Signal]:
        lab = state.labelled
        state.labels_since = None
        if lab is None or lab.added_since_report == 0:
            return []
        lab.added_since_report = 0
        errors, outlier, bins = lab.arrays()
        ec = state.settings.edge_cases
        report = find_edge_cases(
            errors, outlier, bins, state.bin_features, state.edges, factor=ec.factor, min_size=ec.min_size
        )
        self._log(names.EVENT_EDGE_CASES, **_attrs(state), **{
            names.ATTR_LABELLED: report.labelled, names.ATTR_OVERALL_ERROR: report.overall_error,
            names.ATTR_OUTLIER_ROWS: report.outlier_size, names.ATTR_OUTLIER_ERROR: report.outlier_error,
            names.ATTR_INLIER_ERROR: report.inlier_error, names.ATTR_SLICES: len(report.slices),
        })  # fmt: skip
        out: list[Signal] = []
        for s in report.slices:
            ratio = s.ratio if math.isfinite(s.ratio) else s.error
            self._log(names.EVENT_EDGE_CASE, **_attrs(state), **{
                names.ATTR_FEATURE: s.feature, names.ATTR_SLICE: s.slice, names.ATTR_SLICE_SIZE: s.size,
                names.ATTR_SLICE_ERROR: s.error, names.ATTR_OVERALL_ERROR: s.overall_error,
                names.ATTR_ERROR_RATIO: ratio,
            })  # fmt: skip
            out.append(Signal(
                name=names.SIGNAL_EDGE_CASE, value=ratio,
                labels={**_labels(state), names.LABEL_FEATURE: s.feature, names.LABEL_SLICE: s.slice},
                details={"size": s.size, "error": s.error, "overall_error": s.overall_error},
                timestamp=now,
            ))  # fmt: skip
        return out

    # -- helpers ------------------------------------------------------------------------

    def _state(self, name: str) -> ModelState:
        """The model's state, created from its settings on first sight (a schema only if config declares one)."""
        state = self.states.get(name)
        if state is None:
            state = self.states[name] = build_state(name, self.config.for_model(name), None)
        return state

    def _drop(self, state: ModelState, n: int, reason: str) -> None:
        self._unprocessable.add(n, {**_attrs(state), names.ATTR_REASON: reason})

    def _log(self, event: str, **fields: Any) -> None:
        self.agent.log.info(event, **fields)


def make_plugin() -> ValidationPlugin:
    """A fresh validation plugin instance (the ``validation`` entry point)."""
    return ValidationPlugin()


def _columns_of(records: RecordBatch, n: int) -> tuple[dict[str, np.ndarray], str | None]:
    """The batch's columns when each holds one entry per row, else the reason the batch cannot be read."""
    columns: dict[str, np.ndarray] = {}
    for name, col in records.columns.items():
        if not isinstance(col, np.ndarray) or col.ndim == 0:
            return {}, names.REASON_MALFORMED_COLUMN
        if col.shape[0] != n:
            return {}, names.REASON_LENGTH_MISMATCH
        columns[name] = col
    if np.ndim(records.row_index) != 1 or len(records.row_index) != n:
        return {}, names.REASON_LENGTH_MISMATCH
    return columns, None


def _texts(examples: list[Any]) -> list[str]:
    """Example values as a string array (a log attribute holds one type; numbers read the same as text)."""
    return [str(e) for e in examples]


def _attrs(state: ModelState) -> dict[str, str]:
    """Metric and log attributes naming the model (as the core and the drift plugin do)."""
    return {names.ATTR_MODEL: state.name, names.ATTR_VERSION: state.version}


def _labels(state: ModelState) -> Mapping[str, str]:
    """Signal labels naming the model (alert rules match on these)."""
    return {names.LABEL_MODEL: state.name, names.LABEL_VERSION: state.version}
