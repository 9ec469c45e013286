"""OpenInference span attributes, so Arize Phoenix (and other OpenInference backends) render model spans.

Off unless asked for, per model: ``[models.NAME] openinference = true`` (``info.options``),
or for every model ``INFERSIGHT_OPENINFERENCE=1`` (``1``/``true``/``yes``/``on``; the model's
own option wins). The attribute names are OpenInference's semantic conventions, spelled
here so the core does not depend on ``openinference-semantic-conventions`` (a test checks
they equal that package's constants).

What is added, and when:

- at bind time, once per model (no per-call cost): ``openinference.span.kind``
  (``LLM`` for ``task = "generation"``, ``EMBEDDING`` for ``task = "embedding"``, else
  ``CHAIN``), ``metadata`` (model name, version, task as JSON) and ``llm.model_name`` /
  ``embedding.model_name`` for those kinds;
- per call, only when the model also has ``capture`` on: ``input.value`` /
  ``input.mime_type`` and ``output.value`` / ``output.mime_type`` after the model's
  redaction (``redact_drop`` fields left out, ``redact_hash`` fields pseudonymised, as in
  captured rows), and for ``EMBEDDING`` spans the output vectors
  (``embedding.embeddings.N.embedding.vector``). Span attributes must be set before the
  span ends, so this runs on the caller's thread in ``_finish``: it is bounded by hard caps
  (``MAX_VALUE_CHARS`` characters per value, the first ``MAX_ROWS`` rows of a batch, at
  most ``MAX_EMBEDDINGS`` vectors of at most ``MAX_VECTOR_DIM`` numbers) and never raises.
  When a model's redaction cannot be applied to an input (an unnamed array whose columns
  cannot be matched to ``feature_names``), ``input.value`` is left out rather than risk a
  redacted field appearing.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from agent import semconv
from agent._capture import hash_value, redact_mapping
from agent._types import ModelInfo

ENV_OPENINFERENCE = "INFERSIGHT_OPENINFERENCE"
OPTION = "openinference"  # [models.NAME] openinference = true|false

# OpenInference semantic conventions (openinference.semconv.trace), spelled out.
SPAN_KIND = semconv.OI_SPAN_KIND
INPUT_VALUE = semconv.OI_INPUT_VALUE
INPUT_MIME_TYPE = semconv.OI_INPUT_MIME_TYPE
OUTPUT_VALUE = semconv.OI_OUTPUT_VALUE
OUTPUT_MIME_TYPE = semconv.OI_OUTPUT_MIME_TYPE
METADATA = semconv.OI_METADATA
LLM_MODEL_NAME = semconv.OI_LLM_MODEL_NAME
EMBEDDING_MODEL_NAME = semconv.OI_EMBEDDING_MODEL_NAME
EMBEDDING_EMBEDDINGS = "embedding.embeddings"
EMBEDDING_VECTOR = "embedding.vector"
EMBEDDING_TEXT = "embedding.text"
KIND_CHAIN = "CHAIN"
KIND_LLM = "LLM"
KIND_EMBEDDING = "EMBEDDING"
MIME_JSON = "application/json"
MIME_TEXT = "text/plain"

MAX_VALUE_CHARS = 4096  # per input.value / output.value
MAX_ROWS = 8  # rows of a batch serialised (the rest summarised as a count)
MAX_EMBEDDINGS = 8  # vectors per span
MAX_VECTOR_DIM = 4096  # numbers per vector; longer vectors are left out
MAX_ARRAY_ITEMS = 1024  # an array nested inside a value is shown in full only up to this size

_TRUE = frozenset({"1", "true", "yes", "on"})
_INPUT_FIELD = "input"  # the feature name a scalar input gets in captured rows (redaction applies to it)

Writer = Callable[[Any, Any, Any, int], None]  # (span, inputs, output, rows in the call)


def enabled(info: ModelInfo, environ: Mapping[str, str] | None = None) -> bool:
    """Whether OpenInference attributes are on for ``info``: its ``openinference`` option, else the env default."""
    own = info.options.get(OPTION)
    if isinstance(own, bool):
        return own
    text = (os.environ if environ is None else environ).get(ENV_OPENINFERENCE, "").strip().lower()
    return text in _TRUE


def span_kind(info: ModelInfo) -> str:
    """The OpenInference span kind of a model's call: LLM for generation, EMBEDDING for embedding, else CHAIN."""
    if info.task == "generation":
        return KIND_LLM
    if info.task == "embedding":
        return KIND_EMBEDDING
    return KIND_CHAIN


def static_attributes(info: ModelInfo, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Attributes set on every span of the model when OpenInference is on ({} when off); built once per bind."""
    if not enabled(info, environ):
        return {}
    kind = span_kind(info)
    out: dict[str, Any] = {
        SPAN_KIND: kind,
        METADATA: json.dumps({"ml.model.name": info.name, "ml.model.version": info.version, "ml.task": info.task},
                             sort_keys=True),
    }
    if kind == KIND_LLM:
        out[LLM_MODEL_NAME] = info.name
    elif kind == KIND_EMBEDDING:
        out[EMBEDDING_MODEL_NAME] = info.name
    return out


def call_writer(info: ModelInfo, fast: bool = False, environ: Mapping[str, str] | None = None) -> Writer | None:
    """The per-call attribute writer for ``info``, or None unless OpenInference and capture are both on.

    Calls are sampled at the model's ``sample_rate``, as captures are. ``fast``: the hot
    path may write attributes straight into the SDK span (``ModelRuntime.fast_attributes``);
    then so does the writer, when the span has no attribute length limit to apply.
    """
    if not info.capture or not enabled(info, environ):
        return None
    embedding = span_kind(info) == KIND_EMBEDDING
    with_outputs = bool(info.options.get("capture_outputs", True))
    rate = info.sample_rate

    def write(span: Any, inputs: Any, output: Any, rows: int) -> None:
        try:
            if rate < 1.0 and random.random() >= rate:
                return
            if not span.is_recording():
                return
            attrs: dict[str, Any] = {}
            text = input_value(inputs, info)
            if text is not None:
                attrs[INPUT_VALUE], attrs[INPUT_MIME_TYPE] = text
            if with_outputs:
                text = output_value(output, info, rows)
                if text is not None:
                    attrs[OUTPUT_VALUE], attrs[OUTPUT_MIME_TYPE] = text
                if embedding:
                    attrs.update(embedding_attributes(inputs, output, info))
            if not attrs:
                return
            store = getattr(span, "_attributes", None) if fast else None
            if store is not None and getattr(span, "_limits", None) is not None and \
                    span._limits.max_span_attribute_length is None:
                store._dict.update(attrs)  # values built here: strings and float lists the SDK would accept
            else:
                span.set_attributes(attrs)
        except Exception:
            pass  # never on the caller's path: a value we cannot show is left out

    return write


# -- values -----------------------------------------------------------------------------


def _redacting(info: ModelInfo) -> bool:
    return bool(info.options.get("redact_drop") or info.options.get("redact_hash"))


def _scalar_field(value: Any, info: ModelInfo) -> Any:
    """A scalar input under the model's redaction (it is the feature ``input`` in captured rows)."""
    if _INPUT_FIELD in info.options.get("redact_drop", ()):
        return _Omit
    if _INPUT_FIELD in info.options.get("redact_hash", ()) and value is not None:
        return hash_value(value, info.options.get("redact_hash_secret"))
    return value


class _Omit:
    """Marks a value that redaction forbids showing."""


def _named_rows(rows: Any, names: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """Rows of an unnamed 2-D array (or list of rows) as mappings, when ``names`` matches their width."""
    out = []
    for r in rows:
        values = r.tolist() if isinstance(r, np.ndarray) else list(r)
        if len(values) != len(names):
            return None
        out.append(dict(zip(names, values, strict=True)))
    return out


def _shown(value: Any, info: ModelInfo) -> Any:
    """What may be shown of one call's inputs: a JSON-able value after redaction, or ``_Omit``."""
    redacting = _redacting(info)
    names = info.feature_names
    if isinstance(value, Mapping):
        return redact_mapping(value, info) if redacting else value
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            if not redacting:
                return _head(value)
            return redact_mapping(dict(zip(names, value.tolist(), strict=True)), info) if len(names) == len(
                value) else _Omit
        if value.ndim == 2:
            first = value[:MAX_ROWS]
            if not redacting:
                return _batch(first.tolist(), value.shape[0])
            rows = _named_rows(first, names)
            return _Omit if rows is None else _batch([redact_mapping(r, info) for r in rows], value.shape[0])
        return _Omit if redacting else f"ndarray(shape={value.shape}, dtype={value.dtype})"
    if type(value).__name__ == "DataFrame" and hasattr(value, "head"):
        rows = value.head(MAX_ROWS).to_dict("records")
        return _batch([redact_mapping(r, info) for r in rows] if redacting else rows, len(value))
    if isinstance(value, list | tuple):
        if not value:
            return []
        head = list(value[:MAX_ROWS])
        if all(isinstance(r, Mapping) for r in head):
            return _batch([redact_mapping(r, info) if redacting else dict(r) for r in head], len(value))
        if all(isinstance(r, list | tuple | np.ndarray) for r in head):
            if not redacting:
                return _batch(head, len(value))
            rows = _named_rows(head, names)
            return _Omit if rows is None else _batch([redact_mapping(r, info) for r in rows], len(value))
        if not redacting:  # a flat list: one row of unnamed values, or a list of texts
            return _batch(head, len(value))
        rows = _named_rows([value], names)
        return _Omit if rows is None else redact_mapping(rows[0], info)
    if isinstance(value, str | int | float | bool) or value is None:
        return _scalar_field(value, info)
    return _Omit if redacting else str(value)[:MAX_VALUE_CHARS]


def _batch(rows: list[Any], total: int) -> Any:
    """A batch's first rows; a batch larger than ``MAX_ROWS`` says how many rows it had."""
    return rows if total <= len(rows) else {"rows": total, "head": rows}


def _head(arr: np.ndarray) -> Any:
    return arr.tolist() if arr.size <= MAX_ARRAY_ITEMS else f"ndarray(shape={arr.shape}, dtype={arr.dtype})"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _head(obj)
    return str(obj)


_ENCODE = json.JSONEncoder(default=_json_default, allow_nan=True, separators=(",", ":")).encode
_PLAIN = frozenset({int, float, bool})


def _text(value: Any) -> tuple[str, str] | None:
    """(value, mime type) capped at ``MAX_VALUE_CHARS``: plain text for a string, JSON otherwise."""
    if value is _Omit:
        return None
    if isinstance(value, str):
        return _cap(value), MIME_TEXT
    if type(value) in _PLAIN and (type(value) is not float or math.isfinite(value)):
        # the common scalar output, without the encoder's set-up (repr of a finite float or an int is JSON)
        return ("true" if value else "false") if type(value) is bool else repr(value), MIME_JSON
    try:
        text = _ENCODE(value)
    except (TypeError, ValueError):
        return _cap(str(value)), MIME_TEXT
    if len(text) > MAX_VALUE_CHARS:
        return _cap(text), MIME_TEXT  # cut JSON is no longer JSON: say so with the mime type
    return text, MIME_JSON


_CUT = "…[truncated]"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - len(_CUT)] + _CUT


def input_value(inputs: Any, info: ModelInfo) -> tuple[str, str] | None:
    """``(input.value, input.mime_type)`` of one call after the model's redaction, or None when not showable."""
    return _text(_shown(inputs, info))


def output_value(output: Any, info: ModelInfo, rows: int = 1) -> tuple[str, str] | None:
    """``(output.value, output.mime_type)`` of one call of ``rows`` rows: mappings redacted as captured outputs are.

    A batch call's output (one entry per row) shows its first ``MAX_ROWS`` entries and its size.
    """
    if isinstance(output, Mapping):
        return _text(redact_mapping(output, info) if _redacting(info) else output)
    if isinstance(output, list | tuple) and output and all(isinstance(o, Mapping) for o in output[:MAX_ROWS]):
        head = [redact_mapping(o, info) if _redacting(info) else o for o in output[:MAX_ROWS]]
        return _text(_batch(head, len(output)))
    if isinstance(output, np.ndarray):
        if output.ndim == 2 or (output.ndim == 1 and rows > 1 and output.shape[0] == rows):
            return _text(_batch(output[:MAX_ROWS].tolist(), output.shape[0]))
        return _text(_head(output) if output.ndim == 1 else f"ndarray(shape={output.shape})")
    if isinstance(output, list | tuple):
        if rows > 1 and len(output) == rows:
            return _text(_batch(list(output[:MAX_ROWS]), len(output)))
        return _text(list(output[:MAX_ARRAY_ITEMS]) if len(output) > MAX_ARRAY_ITEMS else output)
    if type(output).__name__ in ("DataFrame", "Series") and hasattr(output, "head"):
        return _text(_batch(np.asarray(output.head(MAX_ROWS)).tolist(), len(output)))
    return _text(output)


def embedding_attributes(inputs: Any, output: Any, info: ModelInfo) -> dict[str, Any]:
    """``embedding.embeddings.N.embedding.vector`` (and ``.text`` for text inputs) of an embedding call."""
    arr = output if isinstance(output, np.ndarray) else None
    if arr is None and isinstance(output, list | tuple) and output:
        try:
            arr = np.asarray(output[:MAX_EMBEDDINGS] if not isinstance(output[0], int | float) else output,
                             dtype=np.float64)
        except (TypeError, ValueError):
            return {}
    if arr is None or arr.dtype.kind not in "fiu":
        return {}
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] > MAX_VECTOR_DIM:
        return {}
    vectors = [tuple(float(v) for v in row) for row in arr[:MAX_EMBEDDINGS].tolist()]
    texts: list[Any] = []
    if isinstance(inputs, str):
        texts = [inputs]
    elif isinstance(inputs, list | tuple) and inputs and all(isinstance(t, str) for t in inputs[:MAX_EMBEDDINGS]):
        texts = list(inputs[:MAX_EMBEDDINGS])
    out: dict[str, Any] = {}
    for i, vec in enumerate(vectors):
        prefix = f"{EMBEDDING_EMBEDDINGS}.{i}."
        out[prefix + EMBEDDING_VECTOR] = vec
        if i < len(texts):
            shown = _scalar_field(texts[i], info)
            if shown is not _Omit and shown is not None:
                out[prefix + EMBEDDING_TEXT] = _cap(str(shown))
    return out
