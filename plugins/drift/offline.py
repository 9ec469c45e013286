"""Offline comparison of two datasets (behind ``infersight drift REFERENCE CURRENT``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from plugins.drift import names
from plugins.drift.config import NUMERIC_TESTS, DriftConfig, Multivariate
from plugins.drift.detector import SchemaChange, build_profile, evaluate
from plugins.drift.results import MULTIVARIATE, DriftResult
from plugins.drift.summary import FeatureSummary
from plugins.drift.verdict import label

_TEST_ALIASES = {"ks": "ks", "cvm": "cvm", "chi2": "chi2", "mmd": "mmd", "lsdd": "lsdd"}


@dataclass(frozen=True, slots=True)
class OfflineReport:
    """Per-feature results, summaries of both samples, the joint result, schema changes and the rule's settings."""

    results: tuple[DriftResult, ...]
    reference_summaries: Mapping[str, FeatureSummary]
    current_summaries: Mapping[str, FeatureSummary]
    schema: tuple[SchemaChange, ...]
    config: DriftConfig = field(default_factory=DriftConfig)

    @property
    def rule(self) -> str:
        """The verdict rule with its α, family split and thresholds, in words."""
        return rule_text(self.config, joint=self.multivariate is not None, vectors=self.has_vectors)

    @property
    def has_vectors(self) -> bool:
        """True when a vector (embedding) feature was tested (its threshold is then part of the rule)."""
        return any(r.effect_name == names.EFFECT_AUC_ABOVE_CHANCE for r in self.results)

    @property
    def drifted(self) -> bool:
        """True when any feature or the joint test drifted (the CLI exits 1)."""
        return any(r.drifted for r in self.results)

    @property
    def multivariate(self) -> DriftResult | None:
        """The joint test's result, when it ran."""
        return next((r for r in self.results if r.feature == MULTIVARIATE), None)


def compare(
    reference_columns: Mapping[str, np.ndarray],
    current_columns: Mapping[str, np.ndarray],
    features: Sequence[str] | None = None,
    tests: Sequence[str] | None = None,
    config: DriftConfig | None = None,
    *,
    model: str = "",
) -> OfflineReport:
    """Compare a current dataset with a reference: tests chosen by ``tests`` (e.g. ["cvm", "lsdd"]).

    ``tests`` may name one numeric test (ks, cvm) and one joint test (mmd, lsdd, or "none"
    to skip it); unknown names raise ValueError naming them. The whole
    current dataset is one window (min_window is lowered to 2 so small files still run).
    """
    cfg = config or DriftConfig()
    cfg = replace(cfg, min_window=min(cfg.min_window, 2))
    for t in tests or ():
        if t == "none":
            cfg = replace(cfg, multivariate=Multivariate.OFF)
        elif t not in _TEST_ALIASES:
            raise ValueError(f"unknown test {t!r}: expected one of {', '.join(sorted(_TEST_ALIASES))} or none")
        elif t in NUMERIC_TESTS:
            cfg = replace(cfg, numeric_test=t)
        elif t != "chi2":
            cfg = replace(cfg, multivariate=Multivariate(t))
    ref = dict(reference_columns)
    cur = dict(current_columns)
    if features:
        unknown = [f for f in features if f not in ref]
        if unknown:
            raise ValueError(f"features not in the reference: {', '.join(unknown)}")
        ref = {f: ref[f] for f in features}
        cur = {f: cur[f] for f in features if f in cur}
    profile = build_profile(ref, cfg)
    window = evaluate(profile, cur, cfg, model=model)
    return OfflineReport(window.results, dict(profile.summaries), dict(window.summaries), window.schema, cfg)


def rule_text(config: DriftConfig, *, joint: bool, vectors: bool = False) -> str:
    """How the verdict was reached: α, how it is shared, and the effect thresholds with their units
    (``vectors``: with the rule of vector (embedding) features)."""
    corr = {"bonferroni": "Bonferroni", "bh": "Benjamini-Hochberg", "none": "no"}[config.correction.value]
    if joint:
        family = (f"alpha {config.alpha:g}: joint permutation test at {config.alpha:g}; features at {config.alpha:g} "
                  f"with {corr} correction, counted only when the joint test rejects (no split of alpha)")
    else:
        family = f"alpha {config.alpha:g}: features at {config.alpha:g} with {corr} correction (no joint test)"
    thresholds = (f"drift = significant and effect net of sampling noise (its root mean square with no drift at "
                  f"these sizes, removed in quadrature) >= threshold: numeric Wasserstein >= "
                  f"{config.threshold_numeric:g} sd; categorical, "
                  f"boolean, discrete TVD >= {config.threshold_categorical:g} (share of rows); joint >= "
                  f"{config.threshold_multivariate:g} sd (as a one-feature mean shift) or a relative change of the "
                  f"features' sd >= {config.threshold_multivariate:g}")
    if vectors:
        thresholds += (f"; vector features (own permutation test, in the correction family, not gated by the joint "
                       f"test): held-out AUC above chance >= {config.threshold_vector:g}")
    return family + "\n" + thresholds


def _fmt(x: float, digits: int = 4) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if abs(x) != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.2e}"
    return f"{x:.{digits}f}"


def format_table(report: OfflineReport) -> str:
    """A plain-text table: one row per feature plus the joint test, and the verdict."""
    header = ("feature", "ref mean", "cur mean", "test", "statistic", "p-value", "corr. p", "effect", "size",
              "noise", "corrected", "verdict")
    rows: list[tuple[str, ...]] = [header]
    for r in report.results:
        ref_s = report.reference_summaries.get(r.feature)
        cur_s = report.current_summaries.get(r.feature)
        rows.append((
            r.feature,
            _fmt(ref_s.mean) if ref_s else "-",
            _fmt(cur_s.mean) if cur_s else "-",
            r.test,
            _fmt(r.statistic),
            _fmt(r.p_value),
            _fmt(r.corrected_p_value),
            r.effect_name,
            _fmt(r.effect_size),
            _fmt(r.null_effect),
            _fmt(r.corrected_effect),
            label(r),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines[:0] = report.rule.splitlines()
    for ch in report.schema:
        extra = f" ({ch.count} rows: {', '.join(ch.examples)})" if ch.kind == "new_category" else ""
        lines.append(f"schema: {ch.kind} {ch.feature}{extra}")
    drifted = [r.feature for r in report.results if r.drifted]
    lines.append(f"verdict: drift in {', '.join(drifted)}" if drifted else "verdict: no drift")
    return "\n".join(lines)


def _json_num(x: float) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def report_to_json(report: OfflineReport) -> dict[str, Any]:
    """A JSON-ready dict (nan/inf become null)."""
    def result(r: DriftResult) -> dict[str, Any]:
        return {
            "feature": r.feature, "test": r.test, "statistic": _json_num(r.statistic),
            "p_value": _json_num(r.p_value), "corrected_p_value": _json_num(r.corrected_p_value),
            "effect_size": _json_num(r.effect_size), "effect_name": r.effect_name, "threshold": r.threshold,
            "null_effect": _json_num(r.null_effect), "corrected_effect": _json_num(r.corrected_effect),
            "level": _json_num(r.level), "verdict": r.verdict,
            "significant": r.significant, "drifted": r.drifted, "skipped": r.skipped,
            "n_reference": r.n_reference, "n_window": r.n_window,
            "effects": {k: _json_num(v) for k, v in r.effects.items()},
        }

    def summary(s: FeatureSummary) -> dict[str, Any]:
        out: dict[str, Any] = {k: _json_num(v) for k, v in s.numeric_stats().items()}
        if s.frequencies:
            out["frequencies"] = dict(s.frequencies)
        return out

    cfg = report.config
    return {
        "drifted": report.drifted,
        "rule": {"alpha": cfg.alpha, "correction": cfg.correction.value,
                 "joint": report.multivariate is not None, "noise": "rms",
                 "thresholds": {"numeric": cfg.threshold_numeric, "categorical": cfg.threshold_categorical,
                                "multivariate": cfg.threshold_multivariate,
                                **({"vector": cfg.threshold_vector} if report.has_vectors else {})}},
        "results": [result(r) for r in report.results],
        "summaries": {
            "reference": {k: summary(v) for k, v in report.reference_summaries.items()},
            "current": {k: summary(v) for k, v in report.current_summaries.items()},
        },
        "schema": [{"kind": c.kind, "feature": c.feature, "count": c.count, "examples": list(c.examples)}
                   for c in report.schema],
    }
