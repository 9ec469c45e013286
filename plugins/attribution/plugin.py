"""The attribution plugin: which features drive a model's predictions, and whether that changed.

Per-row attributions reach it two ways (both documented in the README):

1. supplied: a model whose output is a mapping carrying ``{"attributions": {feature:
   value}}`` (``output_key``), or an explainer the application registered with
   ``plugins.attribution.set_explainer(model, fn)``, run here on the worker over the
   captured rows (at most ``explain_max_rows`` per window);
2. built in, model-agnostic: permutation importance on labelled rows. The model itself is
   not in the worker, so the application registers its prediction function with
   ``set_predictor(model, predict)``; captured rows are remembered and joined to
   ``label`` feedback by (prediction id, ``row_index`` attribute), and every
   ``permutation.rows`` labelled rows make one window.

Each window's mean |attribution| per feature (or importance) is compared with the
reference's: Spearman's ρ and ½‖p − q‖₁ of the normalised vectors, as gauges, an info
event per window, a warning event and Signals (``ml.attribution.detected`` 0/1) when the
distance reaches ``max_distance`` (or ρ falls to ``min_rank_correlation``). The reference
is, first match: values set with ``set_reference_attributions``; the explainer run on the
reference rows (``infersight_set_reference``), or for permutation the reference rows'
``label_column``; else the first window. When the validation plugin flags an edge-case
slice (Signal ``ml.validation.edge_case``), the slice's top attributions among the recent
attributed rows are logged (``ml.attribution.edge_case``) for the report.

Every hook runs on the worker, under the host's guard. A registered callable that raises
or returns a wrong shape is an expected failure: counted (``ml.attribution.failures``)
and logged at most once a minute, never raised.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from agent.plugin import FeedbackEvent, ModelInfo, PluginContext, RecordBatch, Signal, hookimpl
from plugins.attribution import names, registry
from plugins.attribution.config import SECTION, AttributionConfig, ModelSettings, parse_config
from plugins.attribution.state import AttributionWindow, LabelJoin, ModelState, RefValues, matrix
from plugins.attribution.stats import compare, default_loss, mean_abs, parse_slice, permutation_importance, top
from plugins.attribution.telemetry import Telemetry

__all__ = ["AttributionPlugin", "make_plugin"]


def as_attributions(result: Any, features: Sequence[str], rows: int) -> np.ndarray:
    """An explainer's result as a float (rows, k) array; ``ValueError`` for a shape that does not fit.

    Accepted: an array (rows, k); a mapping feature -> (rows,) array; per-class attributions
    (a list of (rows, k) arrays, or an array (rows, k, classes)), averaged in absolute value
    over the classes.
    """
    k = len(features)
    if isinstance(result, Mapping):
        out = np.full((rows, k), np.nan)
        for j, f in enumerate(features):
            if f in result:
                col = np.asarray(result[f], dtype=np.float64).reshape(-1)
                if col.shape[0] != rows:
                    raise ValueError(f"attributions of {f!r} have {col.shape[0]} rows, expected {rows}")
                out[:, j] = col
        return out
    if isinstance(result, list | tuple) and result and all(np.ndim(r) == 2 for r in result):
        arr = np.abs(np.stack([np.asarray(r, dtype=np.float64) for r in result])).mean(axis=0)
    else:
        arr = np.asarray(result, dtype=np.float64)
        if arr.ndim == 3:
            arr = np.abs(arr).mean(axis=2)
    if arr.shape != (rows, k):
        raise ValueError(f"attributions of shape {arr.shape}, expected {(rows, k)} (rows, features)")
    return arr


class AttributionPlugin:
    """Attribution monitoring: per-row attributions or permutation importance, drift against a reference."""

    def __init__(self) -> None:
        self.config = AttributionConfig(ModelSettings(), {})
        self.agent: PluginContext | None = None
        self.tel: Telemetry | None = None
        self.states: dict[str, ModelState] = {}
        self._states_lock = threading.Lock()  # creating a model's state: the jobs thread, or the worker counting

    @hookimpl
    def infersight_configure(self, config: dict[str, Any], agent: PluginContext) -> None:
        """Check ``[attribution]`` and set up the instruments."""
        self.config = parse_config(agent.section(SECTION))
        self.agent = agent
        self.tel = Telemetry(agent)

    # -- state ---------------------------------------------------------------------------

    def _state(self, model: ModelInfo) -> ModelState:
        with self._states_lock:
            st = self.states.get(model.name)
            if st is None or st.version != model.version:
                fresh = ModelState(model.name, model.version, model.task, self.config.for_model(model.name))
                if st is not None:  # a new version keeps the model's reference data
                    fresh.ref_columns, fresh.ref_labels = st.ref_columns, st.ref_labels
                st = self.states[model.name] = fresh
            return st

    def _now(self) -> float:
        assert self.agent is not None
        return float(self.agent.clock())

    def _numeric(self, st: ModelState, columns: Mapping[str, np.ndarray]) -> tuple[str, ...]:
        label = st.settings.label_column
        return tuple(k for k, v in columns.items() if k != label and np.asarray(v).dtype.kind in "biuf")

    def _attribution_features(self, st: ModelState, info: ModelInfo, columns: Mapping[str, np.ndarray] | None,
                              attribution_keys: Sequence[str] = ()) -> tuple[str, ...] | None:
        """The attribution features, fixed at first sight: explainer's, model's, outputs', or numeric columns."""
        if st.features is not None:
            return st.features
        exp = registry.explainer(st.name)
        for candidate in (exp.features if exp else None, info.feature_names, tuple(attribution_keys),
                          self._numeric(st, columns) if columns is not None else None):
            if candidate:
                return st.fix_features(candidate)
        return None

    def _permutation_features(self, st: ModelState, info: ModelInfo, pred: registry.Predictor,
                              columns: Mapping[str, np.ndarray]) -> tuple[str, ...] | None:
        if st.perm_features is None:
            candidate = pred.features or info.feature_names or self._numeric(st, columns)
            if candidate:
                st.perm_features = tuple(candidate)
                st.joins = LabelJoin(st.settings.permutation.max_predictions)
        return st.perm_features

    # -- reference ---------------------------------------------------------------------------

    @hookimpl
    def infersight_set_reference(self, model: ModelInfo, records: RecordBatch) -> None:
        """Keep a sample of the reference rows and compute reference attributions (on the jobs thread)."""
        self._later(model, "reference attributions", functools.partial(self._reference_rows, model, records),
                    len(records))

    def _reference_rows(self, model: ModelInfo, records: RecordBatch) -> None:
        st = self._state(model)
        n = len(records)
        cap = st.settings.reference_max_rows
        idx = np.arange(n)
        if n > cap:
            idx = np.sort(np.random.default_rng(st.settings.permutation.seed).choice(n, cap, replace=False))
        columns = {k: np.asarray(v)[idx] for k, v in records.columns.items() if len(v) == n}
        st.ref_labels = columns.pop(st.settings.label_column, None) if st.settings.label_column else None
        st.ref_columns = columns
        st.refs, st.attempted = {}, {}  # computed from the previous reference rows: recomputed from these
        self._refresh_references(st, model)

    def _refresh_references(self, st: ModelState, info: ModelInfo) -> None:
        """Bring each method's reference up to date with what is registered (explicit values win)."""
        for method in (names.METHOD_ATTRIBUTION, names.METHOD_PERMUTATION):
            current = st.refs.get(method)
            explicit = registry.reference(st.name, method)
            if explicit is not None:
                if current is None or current.source != names.SOURCE_EXPLICIT or current.version != explicit.version:
                    feats = tuple(explicit.values)
                    ref = RefValues(feats, np.array([explicit.values[f] for f in feats]), names.SOURCE_EXPLICIT, 0,
                                    explicit.version)
                    self._set_reference(st, method, ref)
                continue
            if current is not None and current.source == names.SOURCE_EXPLICIT:
                del st.refs[method]  # the explicit values were cleared
                current = None
            if st.ref_columns is None:
                continue
            if method == names.METHOD_ATTRIBUTION:
                self._explain_reference(st, info, current)
            else:
                self._permute_reference(st, info, current)

    def _explain_reference(self, st: ModelState, info: ModelInfo, current: RefValues | None) -> None:
        exp = registry.explainer(st.name)
        if exp is None or st.ref_columns is None or (current is not None and current.version == exp.version):
            return
        features = self._attribution_features(st, info, st.ref_columns)
        n = len(next(iter(st.ref_columns.values()), ()))
        if features is None or n == 0 or st.attempted.get(names.METHOD_ATTRIBUTION) == exp.version:
            return
        st.attempted[names.METHOD_ATTRIBUTION] = exp.version  # a failing explainer is not retried on every batch
        try:
            attributions = as_attributions(exp.fn(matrix(st.ref_columns, features, n)), features, n)
        except Exception as exc:  # the application's explainer: counted, never raised
            self._failure(st, names.REASON_EXPLAINER, exc)
            return
        sums, counts = mean_abs(attributions)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        self._set_reference(st, names.METHOD_ATTRIBUTION,
                            RefValues(features, values, names.SOURCE_EXPLAINER, n, exp.version))

    def _permute_reference(self, st: ModelState, info: ModelInfo, current: RefValues | None) -> None:
        pred = registry.predictor(st.name)
        if (pred is None or st.ref_columns is None or st.ref_labels is None
                or (current is not None and current.version == pred.version)):
            return
        features = self._permutation_features(st, info, pred, st.ref_columns)
        if features is None or st.attempted.get(names.METHOD_PERMUTATION) == pred.version:
            return
        st.attempted[names.METHOD_PERMUTATION] = pred.version
        labels = st.ref_labels
        keep = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) for v in labels.tolist()])
        if keep.sum() < 2:
            return
        X = matrix(st.ref_columns, features, len(labels))[keep]
        importance = self._importance(st, pred, X, labels[keep], seed_offset=0)
        if importance is not None:
            self._set_reference(st, names.METHOD_PERMUTATION,
                                RefValues(features, importance, names.SOURCE_LABELS, len(X), pred.version))

    def _set_reference(self, st: ModelState, method: str, ref: RefValues) -> None:
        st.refs[method] = ref
        assert self.tel is not None
        self.tel.reference(st, method, ref)

    # -- captured rows ---------------------------------------------------------------------------

    @hookimpl
    def infersight_process_records(self, model: ModelInfo, records: RecordBatch) -> None:
        """Attribute the rows (outputs or explainer), add them to the window; remember rows for labels.

        The application's explainer may be slow: the work runs on the agent's jobs thread, in
        order with this plugin's other work, while the worker goes on.
        """
        self._later(model, "attribute rows", functools.partial(self._process, model, records), len(records))

    def _process(self, model: ModelInfo, records: RecordBatch) -> None:
        st = self._state(model)
        n = len(records)
        if n == 0:
            return
        assert self.tel is not None
        self._refresh_references(st, model)
        columns = {k: np.asarray(v) for k, v in records.columns.items() if len(v) == n}
        supplied = self._output_attributions(st, records)
        pred = registry.predictor(st.name)
        if pred is not None:
            feats = self._permutation_features(st, model, pred, columns)
            if feats is not None and st.joins is not None:
                keys = list(zip(records.prediction_ids, np.asarray(records.row_index).tolist(), strict=True))
                st.joins.remember(keys, matrix(columns, feats, n))
        first_keys = list(next(iter(supplied.values()))) if supplied else []
        features = self._attribution_features(st, model, columns, first_keys)
        if features is None or st.window is None:
            self.tel.rows(st, names.SOURCE_NONE, n)
            return
        if st.ref_columns is not None and names.METHOD_ATTRIBUTION not in st.refs:
            self._refresh_references(st, model)  # features are fixed now: the reference can be explained
        window = st.settings.window
        start = 0
        while start < n:
            if st.window.start is None:
                st.window.start = self._now()
            take = n - start if window.type == "time" else min(n - start, window.size - st.window.rows)
            self._attribute(st, columns, n, np.arange(start, start + take), supplied)
            st.window.rows += take
            start += take
            if window.type == "count" and st.window.rows >= window.size:
                self._close(st, self._now())

    def _output_attributions(self, st: ModelState, records: RecordBatch) -> dict[int, Mapping[str, Any]]:
        """Rows whose output mapping carries ``{output_key: {feature: value}}``, by row position."""
        outputs = records.outputs
        if outputs is None or outputs.dtype != object or len(outputs) != len(records):
            return {}
        key = st.settings.output_key
        out: dict[int, Mapping[str, Any]] = {}
        bad = 0
        for i, o in enumerate(outputs.tolist()):
            if isinstance(o, Mapping) and key in o:
                value = o[key]
                if isinstance(value, Mapping) and value:
                    out[i] = value
                else:
                    bad += 1
        if bad:
            self._failure(st, names.REASON_BAD_ATTRIBUTIONS, None, bad)
        return out

    def _attribute(self, st: ModelState, columns: Mapping[str, np.ndarray], n: int, idx: np.ndarray,
                   supplied: Mapping[int, Mapping[str, Any]]) -> None:
        """Attributions of rows ``idx``: supplied ones, else the explainer's (within budget); into window and ring."""
        assert st.features is not None and st.window is not None and st.ring is not None and self.tel is not None
        features, m = st.features, len(idx)
        attributions = np.full((m, len(features)), np.nan)
        have = np.zeros(m, dtype=bool)
        for local, row in enumerate(idx.tolist()):
            values = supplied.get(row)
            if values is not None:
                have[local] = True
                for j, f in enumerate(features):
                    v = values.get(f)
                    if isinstance(v, int | float | np.number) and not isinstance(v, bool):
                        attributions[local, j] = float(v)
        self.tel.rows(st, names.SOURCE_OUTPUT, int(have.sum()))
        explained = np.zeros(m, dtype=bool)
        need = np.flatnonzero(~have)
        exp = registry.explainer(st.name)
        if exp is not None and len(need):
            budget = max(0, st.settings.explain_max_rows - st.window.explained)
            todo = need[:budget]
            if len(need) > len(todo):
                self.tel.failure(st, names.REASON_OVER_BUDGET, None, len(need) - len(todo))
            if len(todo):
                st.window.explained += len(todo)
                try:
                    got = as_attributions(exp.fn(matrix(columns, features, n, rows=idx[todo])), features, len(todo))
                    attributions[todo] = got
                    explained[todo] = True
                except Exception as exc:  # the application's explainer: counted, never raised
                    self._failure(st, names.REASON_EXPLAINER, exc, len(todo))
        self.tel.rows(st, names.SOURCE_EXPLAINER, int(explained.sum()))
        used = have | explained
        self.tel.rows(st, names.SOURCE_NONE, int(m - used.sum()))
        if not used.any():
            return
        sums, counts = mean_abs(attributions[used])
        st.window.add(sums, counts, int(used.sum()))
        st.ring.add(matrix(columns, features, n, rows=idx[used]), attributions[used])

    # -- windows ---------------------------------------------------------------------------------

    def _close(self, st: ModelState, now: float) -> None:
        assert st.window is not None and st.features is not None
        window = st.window
        st.window = AttributionWindow(len(st.features))
        st.slices_reported.clear()
        if window.attributed:
            self._publish(self._evaluate(st, names.METHOD_ATTRIBUTION, st.features, window.means(),
                                         window.attributed, now))

    def _evaluate(self, st: ModelState, method: str, features: Sequence[str], values: np.ndarray, rows: int,
                  now: float) -> list[Signal]:
        """Compare one window with the method's reference (the first window becomes it when there is none)."""
        assert self.tel is not None
        st.windows_closed[method] = st.windows_closed.get(method, 0) + 1
        ref = st.refs.get(method)
        if ref is None:
            self._set_reference(st, method, RefValues(tuple(features), values.copy(), names.SOURCE_FIRST_WINDOW, rows))
            return self.tel.window(st, method, features, values, rows, None, now)
        by_name = dict(zip(ref.features, ref.values.tolist(), strict=True))
        aligned = [by_name.get(f, math.nan) for f in features]
        s = st.settings
        drift = compare(features, aligned, values, max_distance=s.max_distance,
                        min_rank_correlation=s.min_rank_correlation)
        return self.tel.window(st, method, features, values, rows, drift, now)

    # -- labels: permutation importance ---------------------------------------------------------

    @hookimpl
    def infersight_process_feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        """Join labels to remembered rows; every ``permutation.rows`` labelled rows, a permutation window.

        Permutation importance calls the application's predictor many times: on the jobs thread.
        """
        self._later(model, "permutation importance", functools.partial(self._feedback, model, events))

    def _feedback(self, model: ModelInfo, events: list[FeedbackEvent]) -> None:
        st = self.states.get(model.name)
        pred = registry.predictor(model.name)
        if st is None or pred is None or st.joins is None or st.perm_features is None:
            return
        for ev in events:
            if ev.kind != "label" or ev.value is None:
                continue
            try:
                row = int(ev.attributes.get("row_index", 0)) if ev.attributes else 0
            except (TypeError, ValueError):
                continue  # a row index that is no integer joins nothing
            st.joins.label((ev.prediction_id, row), ev.value)
            if len(st.joins.y) >= st.settings.permutation.rows:
                X, y = st.joins.take()
                importance = self._importance(st, pred, X, y, seed_offset=st.windows_closed.get(
                    names.METHOD_PERMUTATION, 0) + 1)
                if importance is not None:
                    self._publish(self._evaluate(st, names.METHOD_PERMUTATION, st.perm_features, importance,
                                                 len(y), self._now()))

    def _importance(self, st: ModelState, pred: registry.Predictor, X: np.ndarray, y: np.ndarray,
                    seed_offset: int) -> np.ndarray | None:
        p = st.settings.permutation
        loss = pred.loss or default_loss(st.task)
        rng = np.random.default_rng([p.seed, seed_offset])
        try:
            return permutation_importance(pred.fn, X, y, loss, repeats=p.repeats, rng=rng)
        except Exception as exc:  # the application's predictor or loss: counted, never raised
            self._failure(st, names.REASON_PREDICTOR, exc)
            return None

    # -- ticks and other plugins' signals -----------------------------------------------------------

    @hookimpl
    def infersight_collect_signals(self, model: ModelInfo, now: float) -> None:
        """Close a due time window (after the rows queued before it); its Signals are published when tested."""
        if model.name in self.states:
            self._later(model, "close window", functools.partial(self._tick, model, now))

    def _tick(self, model: ModelInfo, now: float) -> None:
        st = self.states.get(model.name)
        if st is None:
            return
        self._refresh_references(st, model)
        window = st.settings.window
        if (window.type == "time" and st.window is not None and st.window.start is not None
                and now - st.window.start >= window.seconds):
            self._close(st, now)

    @hookimpl
    def infersight_handle_signals(self, signals: list[Signal], now: float) -> None:
        """Explain each edge-case slice the validation plugin flagged: its top attributions, logged once per window."""
        flagged = [s for s in signals if s.name == names.SIGNAL_VALIDATION_EDGE_CASE]
        if flagged and self.agent is not None:  # after the rows queued before (their attributions are in the ring)
            self.agent.defer(self, "edge-case attributions", functools.partial(self._edge_cases, flagged))

    def _edge_cases(self, signals: list[Signal]) -> None:
        for signal in signals:
            if signal.name != names.SIGNAL_VALIDATION_EDGE_CASE:
                continue
            labels = signal.labels
            st = self.states.get(str(labels.get(names.LABEL_MODEL, "")))
            feature, label = str(labels.get(names.LABEL_FEATURE, "")), str(labels.get(names.LABEL_SLICE, ""))
            if st is None or st.features is None or st.ring is None or feature not in st.features:
                continue
            bounds = parse_slice(label)
            if bounds is None or (feature, label) in st.slices_reported:
                continue
            x, a = st.ring.arrays()
            col = x[:, st.features.index(feature)]
            with np.errstate(invalid="ignore"):
                mask = (col >= bounds[0]) & (col < bounds[1])
            rows = int(mask.sum())
            if rows < st.settings.edge_cases.min_rows:
                continue
            slice_sums, slice_counts = mean_abs(a[mask])
            all_sums, all_counts = mean_abs(a)
            with np.errstate(invalid="ignore", divide="ignore"):
                in_slice = np.where(slice_counts > 0, slice_sums / np.maximum(slice_counts, 1), np.nan)
                overall = np.where(all_counts > 0, all_sums / np.maximum(all_counts, 1), np.nan)
            ranked = top(st.features, in_slice.tolist(), st.settings.top_k)
            for item in ranked:
                base = overall[st.features.index(item["feature"])]
                item["lift"] = float(item["mean_abs"] / base) if base > 0 else None
            assert self.tel is not None
            self.tel.edge_case(st, feature, label, rows, ranked)
            st.slices_reported.add((feature, label))

    def _failure(self, st: ModelState, reason: str, exc: BaseException | None, n: int = 1) -> None:
        assert self.tel is not None
        self.tel.failure(st, reason, exc, n)

    # -- the jobs thread ---------------------------------------------------------------------------

    def _later(self, model: ModelInfo, what: str, work: Callable[[], None], rows: int = 0) -> None:
        """Run ``work`` on the agent's jobs thread, in order with this plugin's other work.

        Every read and write of the plugin's state happens there, so hooks on the worker and the
        jobs never race. When this plugin's share of the queue is full the work is not done and
        its rows are counted (reason ``backlog``).
        """
        assert self.agent is not None
        if not self.agent.defer(self, what, work) and rows:
            self._failure(self._state(model), names.REASON_BACKLOG, None, rows)

    def _publish(self, signals: list[Signal]) -> None:
        if signals and self.agent is not None:
            self.agent.publish(signals)  # they join the next tick (a flush's tick waits for the jobs)


def make_plugin() -> AttributionPlugin:
    """A fresh attribution plugin instance (the ``attribution`` entry point)."""
    return AttributionPlugin()
