"""The validation plugin: hook implementations wiring schema checks, outliers and edge cases to telemetry.

Every hook runs on the agent's worker thread (``configure`` on the caller's, at init)
and never raises: a batch the plugin cannot read is counted in
``ml.validation.unprocessable`` with a reason, and an unexpected failure is logged as
``ml.validation.error`` and counted the same way, so every captured row is either
validated (``ml.validation.rows``) or counted as unprocessable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agent._errors import ConfigError
from agent._runtime import PluginContext
from agent._types import FeedbackEvent, ModelInfo, RecordBatch, Signal
from agent.hookspecs import hookimpl
from agent.plugin import columns_from_rows, load_table
from plugins.validation import names
from plugins.validation.config import SECTION, ValidationConfig, parse_config
from plugins.validation.edgecases import find_edge_cases, point_predictions, row_error
from plugins.validation.state import ModelState, Window, build_state
from plugins.validation.validate import Violation, missing_rate_breaches, validate_columns

__all__ = ["ValidationPlugin"]


class ValidationPlugin:
    """Validates captured features against per-model schemas; reports violations, outliers, edge cases."""

    def __init__(self) -> None:
        self.cfg = ValidationConfig()
        self.agent: PluginContext | None = None
        self.states: dict[str, ModelState] = {}
        self._pending: dict[str, list[Signal]] = {}

    # -- lifecycle ----------------------------------------------------------------------

    @hookimpl
    def infersight_add_commands(self, subparsers: Any) -> None:
        """Add ``infersight validate`` and ``infersight schema infer`` to the command line."""
        from plugins.validation.commands import add_commands

        add_commands(subparsers)

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Parse ``[validation]`` (ConfigError on bad values), create instruments, load reference files."""
        self.agent = agent
        self.cfg = parse_config(agent.section(SECTION))
        meter = agent.meter
        self._violations = meter.create_counter(
            names.VIOLATIONS, unit="{violation}", description="Feature values violating the schema"
        )
        self._rows = meter.create_counter(names.ROWS, unit="{row}", description="Captured rows validated")
        self._unprocessable = meter.create_counter(
            names.UNPROCESSABLE, unit="{row}", description="Captured rows validation could not read"
        )
        self._outlier_rate = meter.create_gauge(
            names.OUTLIER_RATE, unit="1", description="Share of a feature's values outside the robust range"
        )
        self._labels = meter.create_counter(
            names.LABELS, unit="{label}", description="Label events seen for edge-case detection, by outcome"
        )
        for name, mcfg in self.cfg.models.items():
            reference = None
            if mcfg.reference is not None:
                try:
                    reference = load_table(mcfg.reference)
                except (OSError, ValueError, ImportError) as exc:
                    raise ConfigError(
                        f"{SECTION}.models.{name}.reference", str(mcfg.reference), f"a readable data file ({exc})"
                    ) from None
            self.states[name] = build_state(name, self.cfg, mcfg, reference)

    @hookimpl
    def infersight_shutdown(self, agent: PluginContext) -> None:
        """Flush every open window (log events; signals are dropped since no tick follows)."""
        for state in self.states.values():
            try:
                self._close_window(state, self.agent.clock() if self.agent else 0.0)
            except Exception as exc:
                self._error("shutdown", state.name, exc)

    # -- data path ----------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Infer (or complete) the model's schema from reference columns and fit outlier ranges and bins."""
        if self.agent is None:
            return  # not configured (not loaded by an agent): nothing to report to
        try:
            columns = columns_from_rows(dict(records.columns))
            state = build_state(model.name, self.cfg, self.cfg.models.get(model.name), columns)
            state.version = model.version
            self.states[model.name] = state
        except Exception as exc:
            self._error("set_reference", model.name, exc)

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Validate a batch; count rows and violations; remember predictions for edge cases."""
        try:
            n = len(records)
        except Exception as exc:
            self._error("process_records", model.name, exc)
            return
        if n == 0:
            return
        state = self.states.get(model.name) if self.agent is not None else None
        if state is None:
            return  # not a model this plugin validates (no config, no reference)
        try:
            self._process(model, state, records, n)
        except Exception as exc:
            self._error("process_records", model.name, exc)
            self._count_unprocessable(model, n, names.REASON_INTERNAL_ERROR)

    def _process(self, model: ModelInfo, state: ModelState, records: RecordBatch, n: int) -> None:
        if state.schema is None:
            self._count_unprocessable(model, n, names.REASON_NO_SCHEMA)
            return
        reason = _batch_problem(records, n)
        if reason is not None:
            self._count_unprocessable(model, n, reason)
            return
        res = validate_columns(
            state.schema, records.columns, n, ranges=state.ranges, max_examples=self.cfg.max_examples
        )
        window = state.window
        if window.start is None:
            window.start = self._now()
        window.add(res, self.cfg.max_examples)
        state.version = model.version
        attrs = _attrs(state)
        self._rows.add(n, attrs)
        for (feature, kind), count in res.counts.items():
            self._violations.add(count, {**attrs, names.ATTR_FEATURE: feature, names.ATTR_KIND: kind.value})
        if state.store is not None:
            try:
                keys = list(zip(records.prediction_ids, np.asarray(records.row_index).tolist(), strict=True))
                pred = point_predictions(records.outputs, n)
                state.store.add(keys, pred, res.outlier_rows, state.bins_for(dict(res.numeric), n))
            except Exception as exc:  # the rows were validated; only edge-case memory is lost
                self._error("process_records.edge_store", model.name, exc)

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join label events to remembered predictions; record their error for edge-case slices."""
        try:
            state = self.states.get(model.name)
            if state is None or state.store is None or state.labelled is None:
                return
            outcomes: dict[str, int] = {}
            for ev in events:
                if getattr(ev, "kind", None) != "label":
                    continue
                try:
                    outcome = self._join_label(model, state, ev)
                except Exception:  # one malformed event (say an unhashable id) must not drop the rest
                    outcome = "invalid"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcomes.get("joined") and state.window.start is None:
                state.window.start = self._now()  # labels alone open a window, so they get reported
            for outcome, count in outcomes.items():
                self._labels.add(count, {**_attrs(state), names.ATTR_OUTCOME: outcome})
        except Exception as exc:
            self._error("process_feedback", model.name, exc)

    def _join_label(self, model: ModelInfo, state: ModelState, ev: FeedbackEvent) -> str:
        assert state.store is not None and state.labelled is not None
        try:
            row = int(ev.attributes.get("row_index", 0)) if ev.attributes else 0
        except (TypeError, ValueError):
            row = 0
        hit = state.store.get((ev.prediction_id, row))
        if hit is None:
            return "unknown_prediction"
        pred, outlier, bins = hit
        err = row_error(pred, ev.value, model.task)
        if math.isnan(err):
            return "incomparable"
        state.labelled.add(err, outlier, bins)
        return "joined"

    # -- evaluation ---------------------------------------------------------------------

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> list[Signal] | None:
        """Close the model's window when it is due; return violation, outlier and edge-case Signals."""
        try:
            state = self.states.get(model.name)
            if state is None:
                return None
            start = state.window.start
            if start is not None and now - start >= self.cfg.window_seconds:
                self._close_window(state, now)
            out = self._pending.pop(model.name, [])
            return out or None
        except Exception as exc:
            self._error("collect_signals", model.name, exc)
            return None

    def _close_window(self, state: ModelState, now: float) -> None:
        window, state.window = state.window, Window()
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

    def _report_violations(self, state: ModelState, window: Window, now: float) -> list[Signal]:
        out: list[Signal] = []
        for (feature, kind), count in sorted(window.counts.items()):
            if kind is Violation.OUTLIER:
                continue
            # missing_rate is one breach per window; its rate is the feature's missing rate
            rate = window.missing_rates[feature] if kind is Violation.MISSING_RATE else count / window.rows
            examples = window.examples.get((feature, kind), [])
            self._log_warning(
                names.EVENT_VIOLATION, model=state.name, feature=feature, kind=kind.value, count=count,
                rows=window.rows, rate=rate, examples=examples,
            )  # fmt: skip
            if rate > self.cfg.threshold(kind.value):
                out.append(Signal(
                    name=names.SIGNAL_VIOLATION_RATE,
                    value=rate,
                    labels={**_labels(state), "feature": feature, "kind": kind.value},
                    details={"count": count, "rows": window.rows, "threshold": self.cfg.threshold(kind.value),
                             "examples": list(examples)},
                    timestamp=now,
                ))  # fmt: skip
        return out

    def _report_outliers(self, state: ModelState, window: Window, now: float) -> list[Signal]:
        out: list[Signal] = []
        for feature, checked in sorted(window.outlier_checked.items()):
            if checked == 0:
                continue
            count = window.outliers.get(feature, 0)
            rate = count / checked
            self._outlier_rate.set(rate, {**_attrs(state), names.ATTR_FEATURE: feature})
            if count:
                rng = state.ranges.get(feature)
                self._log_warning(
                    names.EVENT_VIOLATION, model=state.name, feature=feature, kind=Violation.OUTLIER.value,
                    count=count, rows=checked, rate=rate,
                    examples=window.examples.get((feature, Violation.OUTLIER), []),
                    low=rng.low if rng else None, high=rng.high if rng else None,
                )  # fmt: skip
            if rate > self.cfg.outlier_rate_threshold:
                out.append(Signal(
                    name=names.SIGNAL_OUTLIER_RATE, value=rate,
                    labels={**_labels(state), "feature": feature},
                    details={"count": count, "checked": checked, "threshold": self.cfg.outlier_rate_threshold},
                    timestamp=now,
                ))  # fmt: skip
        return out

    def _report_edge_cases(self, state: ModelState, now: float) -> list[Signal]:
        lab = state.labelled
        if lab is None or lab.added_since_report == 0:
            return []
        lab.added_since_report = 0
        errors, outlier, bins = lab.arrays()
        ec = self.cfg.edge_cases
        report = find_edge_cases(
            errors, outlier, bins, state.bin_features, state.edges, factor=ec.factor, min_size=ec.min_size
        )
        self._log_info(
            names.EVENT_EDGE_CASES, model=state.name, labelled=report.labelled, overall_error=report.overall_error,
            outlier_rows=report.outlier_size, outlier_error=report.outlier_error,
            inlier_error=report.inlier_error, slices=len(report.slices),
        )  # fmt: skip
        out: list[Signal] = []
        for s in report.slices:
            ratio = s.ratio if math.isfinite(s.ratio) else s.error
            self._log_warning(
                names.EVENT_EDGE_CASE, model=state.name, feature=s.feature, slice=s.slice, size=s.size,
                error=s.error, overall_error=s.overall_error, ratio=ratio,
            )  # fmt: skip
            out.append(Signal(
                name=names.SIGNAL_EDGE_CASE, value=ratio,
                labels={**_labels(state), "feature": s.feature, "slice": s.slice},
                details={"size": s.size, "error": s.error, "overall_error": s.overall_error},
                timestamp=now,
            ))  # fmt: skip
        return out

    # -- helpers ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.agent.clock() if self.agent is not None else 0.0

    def _count_unprocessable(self, model: ModelInfo, n: int, reason: str) -> None:
        try:
            attrs = {names.ATTR_MODEL: model.name, names.ATTR_VERSION: model.version, names.ATTR_REASON: reason}
            self._unprocessable.add(n, attrs)
        except Exception:  # instruments missing means configure never ran; nothing left to count with
            return

    def _log_warning(self, event: str, **fields: Any) -> None:
        if self.agent is not None:
            self.agent.log.warning(event, **fields)

    def _log_info(self, event: str, **fields: Any) -> None:
        if self.agent is not None:
            self.agent.log.info(event, **fields)

    def _error(self, hook: str, model: str, exc: BaseException) -> None:
        try:
            if self.agent is not None:
                self.agent.log.error(
                    names.EVENT_ERROR, model=model, hook=hook, error_type=type(exc).__name__, error=str(exc)[:200]
                )
        except Exception:  # logging itself failed; never raise out of a hook
            return


def _batch_problem(records: RecordBatch, n: int) -> str | None:
    """Why a batch cannot be validated column-wise (None when it can)."""
    try:
        for col in records.columns.values():
            if not isinstance(col, np.ndarray) or col.ndim != 1:
                return names.REASON_MALFORMED_COLUMN
            if len(col) != n:
                return names.REASON_LENGTH_MISMATCH
    except Exception:
        return names.REASON_MALFORMED_BATCH
    return None


def _attrs(state: ModelState) -> dict[str, str]:
    """Metric attributes naming the model (as the core and the drift plugin do)."""
    return {names.ATTR_MODEL: state.name, names.ATTR_VERSION: state.version}


def _labels(state: ModelState) -> dict[str, str]:
    """Signal labels naming the model (alert rules match on these)."""
    return {"model": state.name, "version": state.version}
