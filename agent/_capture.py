"""Normalisation of captured inputs and outputs into columnar ``RecordBatch`` objects (worker side).

Input shapes understood: a mapping (one row of named features); a 1-D array or a flat
list of numbers (one row); a 2-D array, a list of mappings or a list of rows (a batch);
a pandas DataFrame (a batch with its column names); a scalar (one row, feature
``input``). Anything else is counted as unprocessable, never raised.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent._types import ModelInfo, RecordBatch


@dataclass(slots=True)
class Capture:
    """One sampled call as the hot path queued it (raw objects, normalised later by the worker)."""

    model: ModelInfo
    prediction_id: str
    timestamp: float
    inputs: Any
    output: Any
    trace_id: int
    span_id: int


class UnprocessableError(ValueError):
    """A captured value whose shape the agent cannot turn into rows; the reason is the message."""


_NUMERIC_TYPES = frozenset({int, float, np.float64, np.float32, np.int64, np.int32, np.int16, np.int8, np.uint8})


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _names(n: int, model: ModelInfo) -> list[str]:
    if model.feature_names and len(model.feature_names) == n:
        return list(model.feature_names)
    return [f"f{i}" for i in range(n)]


def rows_of(inputs: Any, model: ModelInfo) -> list[dict[str, Any]] | dict[str, np.ndarray]:
    """Turn one call's inputs into row dicts, or directly into columns for arrays/DataFrames."""
    if isinstance(inputs, Mapping):
        return [dict(inputs)]
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 1:
            return [dict(zip(_names(inputs.shape[0], model), inputs.tolist(), strict=True))]
        if inputs.ndim == 2:
            names = _names(inputs.shape[1], model)
            return {name: inputs[:, i] for i, name in enumerate(names)}
        raise UnprocessableError(f"array with {inputs.ndim} dimensions")
    if type(inputs).__name__ == "DataFrame" and hasattr(inputs, "columns"):
        return {str(c): np.asarray(inputs[c].to_numpy()) for c in inputs.columns}
    if isinstance(inputs, list | tuple):
        if not inputs:
            return []
        if all(isinstance(r, Mapping) for r in inputs):
            return [dict(r) for r in inputs]
        if all(_is_number(v) for v in inputs):
            return [dict(zip(_names(len(inputs), model), inputs, strict=True))]
        if all(isinstance(r, list | tuple | np.ndarray) for r in inputs):
            widths = {len(r) for r in inputs}
            if len(widths) != 1:
                raise UnprocessableError("rows of different lengths in one batch")
            names = _names(widths.pop(), model)
            return [dict(zip(names, list(r), strict=True)) for r in inputs]
        raise UnprocessableError("a list mixing rows and scalars")
    if _is_number(inputs) or isinstance(inputs, str | bool):
        return [{"input": inputs}]
    raise UnprocessableError(f"inputs of type {type(inputs).__name__}")


def _column(values: Sequence[Any]) -> np.ndarray:
    """A 1-D column: float64 when all values are real numbers, bool when all bools, else object."""
    if values and all(_is_number(v) for v in values):
        try:
            return np.asarray(values, dtype=np.float64)
        except OverflowError:  # an int beyond float range: keep the values as they are (object column)
            pass
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return np.asarray(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def hash_value(value: Any, secret: str | None) -> str:
    """The pseudonym ``redact_hash`` gives a value: HMAC-SHA-256 with the secret (plain SHA-256 without), 16 hex."""
    data = str(value).encode()
    if secret:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()[:16]
    return hashlib.sha256(data).hexdigest()[:16]


def redact_columns(columns: dict[str, np.ndarray], model: ModelInfo) -> dict[str, np.ndarray]:
    """Apply the model's ``redact_drop`` and ``redact_hash`` to columns (in place; returned)."""
    drop = model.options.get("redact_drop", ())
    hashed = model.options.get("redact_hash", ())
    secret = model.options.get("redact_hash_secret")
    for name in drop:
        columns.pop(name, None)
    for name in hashed:
        if name in columns:
            col = columns[name]
            out = np.empty(len(col), dtype=object)
            out[:] = [None if v is None else hash_value(v, secret) for v in col.tolist()]
            columns[name] = out
    return columns


def redact_mapping(values: Mapping[str, Any], model: ModelInfo) -> dict[str, Any]:
    """A mapping (an output, feedback attributes) with the model's ``redact_drop``/``redact_hash`` applied."""
    drop = model.options.get("redact_drop", ())
    hashed = model.options.get("redact_hash", ())
    if not drop and not hashed:
        return dict(values)
    secret = model.options.get("redact_hash_secret")
    out = {k: v for k, v in values.items() if k not in drop}
    for name in hashed:
        if name in out and out[name] is not None:
            out[name] = hash_value(out[name], secret)
    return out


def _outputs(output: Any, n: int) -> list[Any]:
    """Per-row outputs of a call with ``n`` rows; a batch output must have ``n`` entries."""
    if output is None:  # a call whose output was not recorded: one missing output per row
        return [None] * n
    if n == 1:
        if isinstance(output, np.ndarray) and output.ndim == 2 and output.shape[0] == 1:
            return [output[0]]
        if isinstance(output, list | tuple) and len(output) == 1 and not _is_number(output[0]):
            return [output[0]]
        return [output]
    if isinstance(output, np.ndarray) and output.ndim >= 1 and output.shape[0] == n:
        return list(output)
    if isinstance(output, list | tuple) and len(output) == n:
        return list(output)
    if type(output).__name__ in ("Series", "DataFrame") and len(output) == n:
        return list(np.asarray(output))
    raise UnprocessableError(f"batch of {n} rows but output of length {_len(output)}")


def _len(obj: Any) -> str:
    try:
        return str(len(obj))
    except TypeError:
        return "none (scalar)"


def _stack_outputs(outputs: list[Any]) -> np.ndarray:
    if outputs and set(map(type, outputs)) <= _NUMERIC_TYPES:
        return np.asarray(outputs, dtype=np.float64)
    if outputs and all(isinstance(o, np.ndarray) and o.ndim == 1 for o in outputs):
        widths = {o.shape[0] for o in outputs}
        if len(widths) == 1 and all(o.dtype.kind in "fiu" for o in outputs):
            return np.vstack(outputs).astype(np.float64)
    out = np.empty(len(outputs), dtype=object)
    out[:] = outputs
    return out


def build_batch(captures: Sequence[Capture]) -> tuple[RecordBatch | None, dict[str, int]]:
    """Normalise the captures of one model into a RecordBatch; returns (batch, unprocessable counts by reason)."""
    bad: dict[str, int] = {}
    pids: list[str] = []
    row_index: list[int] = []
    stamps: list[float] = []
    traces: list[int] = []
    spans: list[int] = []
    outputs: list[Any] = []
    rows: list[dict[str, Any]] = []
    column_parts: list[tuple[int, dict[str, np.ndarray]]] = []
    with_outputs = bool(captures[0].model.options.get("capture_outputs", True)) if captures else True
    options = captures[0].model.options if captures else {}
    redacting = bool(options.get("redact_drop") or options.get("redact_hash"))
    for cap in captures:
        if type(cap.inputs) is dict:  # the common case, kept cheap: one call, one mapping
            out = cap.output
            rows.append(cap.inputs)
            pids.append(cap.prediction_id)
            row_index.append(0)
            stamps.append(cap.timestamp)
            traces.append(cap.trace_id)
            spans.append(cap.span_id)
            if with_outputs and type(out) not in _NUMERIC_TYPES:
                out = _outputs(out, 1)[0]
                if isinstance(out, Mapping) and redacting:
                    out = redact_mapping(out, cap.model)
            outputs.append(out)
            continue
        try:
            got = rows_of(cap.inputs, cap.model)
            n = len(next(iter(got.values()))) if isinstance(got, dict) and got else len(got)
            if isinstance(got, dict) and any(len(c) != n for c in got.values()):
                raise UnprocessableError("columns of different lengths")
            if n == 0:
                continue
            outs = _outputs(cap.output, n) if with_outputs else [None] * n
            if redacting:
                outs = [redact_mapping(o, cap.model) if isinstance(o, Mapping) else o for o in outs]
        except UnprocessableError as exc:
            reason = str(exc).split(" of length")[0][:60]
            bad[reason] = bad.get(reason, 0) + 1
            continue
        except Exception as exc:  # any odd object: counted, never raised
            reason = f"error {type(exc).__name__}"
            bad[reason] = bad.get(reason, 0) + 1
            continue
        if isinstance(got, dict):
            column_parts.append((len(pids), got))
            rows.extend({} for _ in range(n))
        else:
            rows.extend(got)
        pids.extend([cap.prediction_id] * n)
        row_index.extend(range(n))
        stamps.extend([cap.timestamp] * n)
        traces.extend([cap.trace_id] * n)
        spans.extend([cap.span_id] * n)
        outputs.extend(outs)
    if not pids:
        return None, bad
    columns = _assemble(rows, column_parts, len(pids))
    model = captures[0].model
    batch = RecordBatch(
        prediction_ids=tuple(pids),
        row_index=np.asarray(row_index, dtype=np.int64),
        timestamps=np.asarray(stamps, dtype=np.float64),
        columns=redact_columns(columns, model),
        outputs=_stack_outputs(outputs) if with_outputs else None,
        trace_ids=tuple(traces),
        span_ids=tuple(spans),
    )
    return batch, bad


def _uniform_numeric(rows: list[dict[str, Any]]) -> dict[str, np.ndarray] | None:
    """Fast path: every row has the same keys in the same order and only real numbers (the common case)."""
    if not rows:
        return {}
    keys = tuple(rows[0])
    if not keys or any(tuple(r) != keys for r in rows):
        return None
    values = [list(r.values()) for r in rows]
    # np.asarray would also accept bools and numeric strings ("1.5"): only real numbers take this path.
    if not set(map(type, itertools.chain.from_iterable(values))) <= _NUMERIC_TYPES:
        return None
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int beyond float range: the general path keeps it as an object value
        return None
    return {k: matrix[:, i] for i, k in enumerate(keys)}


def _assemble(
    rows: list[dict[str, Any]], parts: list[tuple[int, dict[str, np.ndarray]]], total: int
) -> dict[str, np.ndarray]:
    """Columns over all rows; a feature absent from a row is ``None`` (missing)."""
    if not parts:
        fast = _uniform_numeric(rows)
        if fast is not None:
            return fast
        names: dict[str, None] = {}
        for r in rows:
            names.update(dict.fromkeys(r))
        return {name: _column([r.get(name) for r in rows]) for name in names}
    if len(parts) == 1 and parts[0][0] == 0 and len(next(iter(parts[0][1].values()))) == total:
        return {k: np.asarray(v) for k, v in parts[0][1].items()}
    for start, cols in parts:
        n = len(next(iter(cols.values())))
        for i in range(n):
            rows[start + i] = {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in cols.items()}
    return _assemble(rows, [], total)
