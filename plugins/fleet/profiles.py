"""Mergeable window profiles: what a replica's window or a dataset partition says about each feature.

A ``Profile`` summarises the rows of one (model, version, window) — or one dataset — per feature:

- numeric: the count of finite values, mergeable moments (mean, variance, skewness,
  kurtosis; ``moments``) and an Apache DataSketches KLL quantile sketch of the values;
- categorical: exact category counts while there are at most ``max_categories`` distinct
  values, above that a DataSketches frequent-items sketch (bounded memory, estimated counts);
- for the joint test, a bottom-k uniform sample of whole rows (``sample``).

The row count is the profile's; a feature's missing count is rows minus its present
values (None, NaN, ±inf and values of the wrong kind are missing). ``merge`` is
associative and commutative: counts, category counts and the row sample exactly, moments
up to float rounding, and the KLL sketch in distribution (its merge is randomised, so two
merge orders give sketches whose quantiles differ, both within the sketch's rank error).

KLL randomness: the ``datasketches`` Python package seeds KLL's compaction coin from
``std::random_device`` and exposes no way to seed it, so sketches in estimation mode
(more values than ``k`` can hold) are not bit-reproducible between runs; a sketch that
holds every value (``n`` within its capacity, at least ``k``) is exact and deterministic.
Tests on profiles account for the sketch's documented rank error (``rank_error``), so a
verdict can change between runs only when a statistic lies within that error of its
critical value.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import datasketches  # ships no type information (mypy override in pyproject.toml)
import numpy as np

from agent.plugin import FeatureType, infer_feature_types, to_numeric
from plugins.fleet.moments import Moments
from plugins.fleet.sample import RowSample

SKETCH_K = 2000
"""KLL ``k``: normalised rank error ≈ 0.14% (99th percentile); a window of up to ~2,000 values stays exact."""
MAX_CATEGORIES = 1000
"""Distinct categories counted exactly; above this a frequent-items sketch takes over."""
SAMPLE_ROWS = 500
"""Rows kept in the bottom-k sample for the joint test."""


class Kind(Enum):
    """How a feature is profiled and tested."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


def _lg_map_size(max_categories: int) -> int:
    """Frequent-items map size (log2) that tracks about ``max_categories`` items (75% load)."""
    return max(3, math.ceil(math.log2(max(max_categories, 6) / 0.75)))


def new_kll(k: int) -> Any:
    """An empty KLL sketch of doubles."""
    return datasketches.kll_doubles_sketch(k)


def copy_kll(sketch: Any) -> Any:
    """An independent copy of a KLL sketch (merging mutates the receiver)."""
    return datasketches.kll_doubles_sketch.deserialize(sketch.serialize())


def kll_rank_error(sketch: Any) -> float:
    """The sketch's normalised rank error bound: 0 while exact, else DataSketches' 99th-percentile bound."""
    if sketch is None or sketch.is_empty() or not sketch.is_estimation_mode():
        return 0.0
    return float(datasketches.kll_doubles_sketch.get_normalized_rank_error(sketch.k, False))


@dataclass(frozen=True, slots=True)
class FeatureProfile:
    """One feature's summary. Sketch objects held here are never mutated (merges copy them)."""

    kind: Kind
    moments: Moments = field(default_factory=Moments)
    sketch: Any = None  # datasketches.kll_doubles_sketch (numeric)
    counts: Mapping[str, int] | None = None  # exact category counts (categorical, at most max_categories)
    frequent: Any = None  # datasketches.frequent_strings_sketch once the counts passed max_categories

    @property
    def present(self) -> int:
        """Values present (finite numbers; non-missing categories)."""
        if self.kind is Kind.NUMERIC:
            return self.moments.n
        if self.frequent is not None:
            return int(self.frequent.total_weight)
        return sum((self.counts or {}).values())

    @property
    def rank_error(self) -> float:
        """The KLL sketch's normalised rank error (0 while it holds every value)."""
        return kll_rank_error(self.sketch)

    @property
    def exact_counts(self) -> bool:
        """Whether the category counts are exact (no frequent-items sketch)."""
        return self.frequent is None

    def category_counts(self) -> dict[str, int]:
        """Category counts, most frequent first: exact, or the sketch's estimates of its frequent items."""
        if self.frequent is not None:
            items = self.frequent.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES)
            return {str(item): int(est) for item, est, _, _ in sorted(items, key=lambda t: (-t[1], str(t[0])))}
        return dict(sorted((self.counts or {}).items(), key=lambda kv: (-kv[1], kv[0])))

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """The KLL sketch's retained values (sorted) and their weights (all 1 while exact)."""
        if self.sketch is None or self.sketch.is_empty():
            return np.empty(0), np.empty(0)
        flat = np.fromiter(itertools.chain.from_iterable(self.sketch), np.float64, 2 * int(self.sketch.num_retained))
        values, weights = flat[0::2], flat[1::2]
        order = np.argsort(values, kind="stable")
        return values[order], weights[order]


@dataclass(frozen=True, slots=True)
class Profile:
    """The summary of the rows of one model version over one window (or of one dataset)."""

    model: str = ""
    version: str = ""
    start: float = math.nan
    end: float = math.nan
    rows: int = 0
    features: Mapping[str, FeatureProfile] = field(default_factory=dict)
    sample: RowSample = field(default_factory=lambda: RowSample(SAMPLE_ROWS))
    kind: str = "window"  # "window" | "reference"

    def missing(self, feature: str) -> int:
        """Rows in which ``feature`` had no usable value (absent columns count as missing)."""
        fp = self.features.get(feature)
        return self.rows - (fp.present if fp is not None else 0)

    def merge(self, other: Profile) -> Profile:
        """Both profiles together (same model and version); associative and commutative."""
        return merge_profiles([self, other])


class ProfileBuilder:
    """Accumulates rows (or whole profiles) into one profile in bounded memory; ``build`` snapshots it."""

    def __init__(self, *, model: str = "", version: str = "", sketch_k: int = SKETCH_K,
                 max_categories: int = MAX_CATEGORIES, sample_rows: int = SAMPLE_ROWS,
                 feature_types: Mapping[str, FeatureType] | None = None, kind: str = "window") -> None:
        self.model, self.version, self.kind = model, version, kind
        self.sketch_k = sketch_k
        self.max_categories = max_categories
        self.feature_types = dict(feature_types or {})
        self.rows = 0
        self.start, self.end = math.inf, -math.inf
        self._moments: dict[str, Moments] = {}
        self._kll: dict[str, Any] = {}
        self._counts: dict[str, Counter[str]] = {}
        self._frequent: dict[str, Any] = {}
        self.sample = RowSample(sample_rows)

    # -- rows --------------------------------------------------------------------------------

    def add_columns(self, columns: Mapping[str, np.ndarray], priorities: np.ndarray, *,
                    start: float | None = None, end: float | None = None) -> None:
        """Add a batch of rows: ``columns`` (1-D arrays of equal length) and each row's sample priority."""
        n = int(np.asarray(priorities).size)
        sampled: dict[str, np.ndarray] = {}
        for name, raw in columns.items():
            col = np.asarray(raw)
            if self.kind_of(name, col) is Kind.NUMERIC:
                values, _ = to_numeric(col)
                self.add_numeric(name, values)
                sampled[name] = values
            else:
                cats = categories(col)
                self.add_counts(name, Counter(c for c in cats.tolist() if c is not None))
                sampled[name] = cats
        self.add_sample(priorities, sampled)
        self.add_rows(n, start, end)

    def kind_of(self, name: str, col: np.ndarray) -> Kind:
        """A feature's kind: fixed by what was profiled before, else the config's type, else the column's."""
        if name in self._moments:
            return Kind.NUMERIC
        if name in self._counts or name in self._frequent:
            return Kind.CATEGORICAL
        return column_kind(col, self.feature_types.get(name))

    def add_rows(self, n: int, start: float | None = None, end: float | None = None) -> None:
        """Count ``n`` rows (features not given for them count them as missing) and widen the time span."""
        self.rows += int(n)
        if start is not None:
            self.start = min(self.start, float(start))
        if end is not None:
            self.end = max(self.end, float(end))

    def add_numeric(self, name: str, values: np.ndarray) -> None:
        """Add a numeric feature's values (float64; non-finite ones are missing). Rows are counted apart."""
        v = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(v)
        # Sorted once here (numpy's SIMD sort): KLL's compactions then sort already-sorted runs, which makes
        # updates ~3x faster; KLL's error bound holds for any arrival order, sorted included.
        v = np.sort(v if finite.all() else v[finite])
        if name in self._counts or name in self._frequent:
            raise ValueError(f"feature {name!r} was profiled as categorical; got numbers")
        m = Moments.of(v)
        self._moments[name] = self._moments[name].merge(m) if name in self._moments else m
        sk = self._kll.get(name)
        if sk is None:
            sk = self._kll[name] = new_kll(self.sketch_k)
        if v.size:
            sk.update(v)

    def add_counts(self, name: str, counts: Mapping[str, int]) -> None:
        """Add a categorical feature's category counts. Rows are counted apart."""
        if name in self._moments:
            raise ValueError(f"feature {name!r} was profiled as numeric; got categories")
        fi = self._frequent.get(name)
        if fi is not None:
            for c, w in counts.items():
                fi.update(str(c), int(w))
            return
        tally = self._counts.setdefault(name, Counter())
        tally.update({str(c): int(w) for c, w in counts.items()})
        if len(tally) > self.max_categories:
            fi = self._frequent[name] = datasketches.frequent_strings_sketch(_lg_map_size(self.max_categories))
            for c, w in sorted(tally.items()):  # sorted: the same input order, whatever the hashing
                fi.update(c, w)
            del self._counts[name]

    def add_sample(self, priorities: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Offer rows to the bottom-k sample (only rows below the current k-th priority are kept)."""
        p = np.asarray(priorities, dtype=np.uint64)
        if p.size == 0:
            return
        if len(self.sample) >= self.sample.k:
            below = p < self.sample.priorities[-1]
            if not below.any():
                return
            if not below.all():
                p = p[below]
                columns = {f: np.asarray(c)[below] for f, c in columns.items()}
        self.sample = self.sample.merge(RowSample.of(self.sample.k, p, columns))

    # -- profiles ----------------------------------------------------------------------------

    def add_profile(self, profile: Profile) -> None:
        """Merge a whole profile in (its features, rows, time span and sample)."""
        for name, fp in profile.features.items():
            if fp.kind is Kind.NUMERIC:
                if name in self._counts or name in self._frequent:
                    if fp.present == 0:
                        continue
                    raise ValueError(f"feature {name!r} is numeric in one profile and categorical in another")
                self._moments[name] = self._moments[name].merge(fp.moments) if name in self._moments \
                    else fp.moments
                if fp.sketch is not None:
                    if name in self._kll:
                        self._kll[name].merge(fp.sketch)
                    else:
                        self._kll[name] = _kll_like(fp.sketch, self.sketch_k)
            else:
                if name in self._moments:
                    if fp.present == 0:
                        continue
                    raise ValueError(f"feature {name!r} is categorical in one profile and numeric in another")
                if fp.frequent is not None:
                    mine = self._frequent.get(name)
                    if mine is None:
                        mine = self._frequent[name] = datasketches.frequent_strings_sketch(
                            _lg_map_size(self.max_categories))
                        for c, w in sorted(self._counts.pop(name, Counter()).items()):
                            mine.update(c, w)
                    mine.merge(fp.frequent)
                else:
                    self.add_counts(name, fp.counts or {})
        self.sample = self.sample.merge(profile.sample)
        self.add_rows(profile.rows,
                      None if math.isnan(profile.start) else profile.start,
                      None if math.isnan(profile.end) else profile.end)

    def build(self) -> Profile:
        """The profile so far (sketches copied: the builder can go on)."""
        features: dict[str, FeatureProfile] = {}
        for name in sorted({*self._moments, *self._counts, *self._frequent}):
            if name in self._moments:
                features[name] = FeatureProfile(Kind.NUMERIC, self._moments[name], copy_kll(self._kll[name]))
            elif name in self._frequent:
                fi = datasketches.frequent_strings_sketch.deserialize(self._frequent[name].serialize())
                features[name] = FeatureProfile(Kind.CATEGORICAL, frequent=fi)
            else:
                features[name] = FeatureProfile(Kind.CATEGORICAL, counts=dict(sorted(self._counts[name].items())))
        return Profile(
            model=self.model, version=self.version,
            start=self.start if math.isfinite(self.start) else math.nan,
            end=self.end if math.isfinite(self.end) else math.nan,
            rows=self.rows, features=features, sample=self.sample, kind=self.kind,
        )


def _kll_like(sketch: Any, k: int) -> Any:
    """A fresh KLL of ``k`` (or the sketch's smaller k) holding ``sketch``'s values."""
    out = new_kll(min(k, int(sketch.k)))
    out.merge(sketch)
    return out


def merge_profiles(profiles: Iterable[Profile], *, sketch_k: int | None = None,
                   max_categories: int = MAX_CATEGORIES) -> Profile:
    """Merge profiles of one model and version (replicas of a window, partitions of a dataset).

    Raises ``ValueError`` naming the feature when one is numeric in a profile and
    categorical in another, and when models or versions differ.
    """
    items = list(profiles)
    if not items:
        return Profile()
    first = items[0]
    for p in items[1:]:
        if (p.model, p.version) != (first.model, first.version):
            raise ValueError(f"cannot merge profiles of {first.model}/{first.version} and {p.model}/{p.version}")
    k = sketch_k or max((int(fp.sketch.k) for p in items for fp in p.features.values() if fp.sketch is not None),
                        default=SKETCH_K)
    builder = ProfileBuilder(model=first.model, version=first.version, sketch_k=k, max_categories=max_categories,
                             sample_rows=min(p.sample.k for p in items), kind=first.kind)
    for p in items:
        builder.add_profile(p)
    return builder.build()


def column_kind(col: np.ndarray, override: FeatureType | None = None) -> Kind:
    """Numbers (any numeric dtype, or objects that are all numbers) are numeric; the rest categorical.

    A numeric column of 0/1 stays numeric (unlike drift's boolean inference) so its kind does not
    change from one window to the next; booleans and text are categorical.
    """
    if override is not None:
        return Kind.NUMERIC if override is FeatureType.NUMERIC else Kind.CATEGORICAL
    if col.dtype.kind in "iuf":
        return Kind.NUMERIC
    if col.dtype.kind != "O":
        return Kind.CATEGORICAL
    inferred = infer_feature_types({"c": col})["c"]
    return Kind.NUMERIC if inferred is FeatureType.NUMERIC else Kind.CATEGORICAL


def categories(col: np.ndarray) -> np.ndarray:
    """A column as category labels: ``str`` values, ``None`` for missing (None, NaN) and unhashable values."""
    arr = np.asarray(col)
    if arr.dtype.kind == "U":
        return arr.astype(object)
    if arr.dtype.kind == "f":
        out = arr.astype(str).astype(object)
        out[np.isnan(arr)] = None
        return out
    if arr.dtype.kind in "biu":
        return arr.astype(str).astype(object)
    return np.array([_label(v) for v in arr.tolist()], dtype=object)


def _label(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, list | dict | set | np.ndarray):
        return None
    return str(v)
