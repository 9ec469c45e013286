"""A bounded, mergeable, uniform sample of whole rows: bottom-k by a 64-bit hash of each row's key.

Every row gets a pseudo-random priority from a hash of a key that names it (the
prediction id and the row's index in its call; for a dataset, the file and the row's
offset). A sample keeps the ``k`` rows of smallest priority. Because the priority
depends only on the row, the bottom-k of a union is the bottom-k of the bottom-k's of
its parts: merging the samples of replicas or partitions, in any order and grouping,
gives exactly the sample of the pooled rows, and that sample is uniform without
replacement (each k-subset equally likely) as long as the hash behaves randomly. Rows
seen twice (the same key) are kept once, so merging is also idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on an array of uint64 (a bijection that scatters nearby keys)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def stable_hash(text: str, seed: int = 0) -> int:
    """A 64-bit hash of ``text`` that is the same in every process (unlike ``hash``)."""
    key = int(seed).to_bytes(8, "little", signed=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, key=key).digest(), "little")


def id_priorities(prediction_ids: Sequence[str], row_index: np.ndarray, seed: int = 0) -> np.ndarray:
    """Priorities of live rows from their prediction id and index in the call (batch calls share an id)."""
    cache: dict[str, int] = {}
    for p in prediction_ids:
        if p not in cache:
            cache[p] = stable_hash(p, seed)
    base = np.fromiter(map(cache.__getitem__, prediction_ids), dtype=np.uint64, count=len(prediction_ids))
    return splitmix64(base ^ splitmix64(np.asarray(row_index, dtype=np.uint64)))


def offset_priorities(stream: str, start: int, count: int, seed: int = 0) -> np.ndarray:
    """Priorities of ``count`` consecutive rows of a named stream (a file) from row ``start`` on."""
    base = np.uint64(stable_hash(stream, seed))
    return splitmix64(base ^ splitmix64(np.arange(start, start + count, dtype=np.uint64)))


@dataclass(frozen=True, slots=True)
class RowSample:
    """At most ``k`` rows with the smallest priorities, sorted by priority; columns aligned with them.

    Numeric columns are float64 (NaN for missing); categorical ones are object arrays of
    ``str`` or ``None``.
    """

    k: int
    priorities: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.priorities.size)

    @classmethod
    def of(cls, k: int, priorities: np.ndarray, columns: Mapping[str, np.ndarray]) -> RowSample:
        """The bottom-k of a batch of rows (``columns`` aligned with ``priorities``)."""
        p = np.asarray(priorities, dtype=np.uint64)
        if p.size > k:
            keep = np.argpartition(p, k - 1)[:k] if k else np.empty(0, dtype=np.int64)
        else:
            keep = np.arange(p.size)
        return _finish(k, p[keep], {f: np.asarray(c)[keep] for f, c in columns.items()})

    def merge(self, other: RowSample) -> RowSample:
        """The bottom-k of the union (k is the smaller of the two); rows with the same priority are kept once."""
        k = min(self.k, other.k)
        names = list(dict.fromkeys([*self.columns, *other.columns]))
        cols = {f: np.concatenate([_column(self, f, other), _column(other, f, self)]) for f in names}
        return _finish(k, np.concatenate([self.priorities, other.priorities]), cols)


def _column(s: RowSample, name: str, other: RowSample) -> np.ndarray:
    """``s``'s column ``name``, or a missing-valued one typed like ``other``'s."""
    col = s.columns.get(name)
    if col is not None:
        return col
    like = other.columns[name]
    if like.dtype.kind == "f":
        return np.full(len(s), np.nan)
    return np.full(len(s), None, dtype=object)


def _finish(k: int, priorities: np.ndarray, columns: Mapping[str, np.ndarray]) -> RowSample:
    uniq, first = np.unique(priorities, return_index=True)  # sorted, duplicates (the same row) once
    take = first[:k]
    return RowSample(k, uniq[:k], {f: c[take] for f, c in columns.items()})


_NAN_BITS = np.float64(np.nan).view(np.uint64)


def numeric_hashes(values: np.ndarray) -> np.ndarray:
    """The 64 bits of each float64 value (all NaNs alike); ``combine`` mixes them."""
    v = np.asarray(values, dtype=np.float64)
    bits = v.view(np.uint64)
    nan = np.isnan(v)
    if nan.any():
        bits = bits.copy()
        bits[nan] = _NAN_BITS
    return bits


def label_hashes(labels: Sequence[str | None], seed: int = 0) -> np.ndarray:
    """A 64-bit hash per category label (None hashes to 0)."""
    return np.fromiter((0 if s is None else stable_hash(s, seed) for s in labels), dtype=np.uint64,
                       count=len(labels))


def combine(hashes: Sequence[np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """Row priorities from per-column hashes (in a fixed column order): a row's content decides its priority.

    Used for datasets, where partitions carry no row identity an engine would keep (Spark splits
    files as it likes): every engine then samples exactly the same rows. Each column is folded in
    with an xor and a multiply by an odd constant (a multiply moves every bit upwards only), and
    one splitmix64 finaliser at the end mixes the high bits back down. Identical rows share a
    priority and are sampled at most once.
    """
    h = np.full(n, np.uint64(stable_hash("row", seed)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in hashes:
            h ^= col
            h *= _M1
            h ^= h >> np.uint64(29)
    return splitmix64(h)
