"""Fleet evaluation: merge replicas' profiles per model, version and aligned window, test each against a reference.

The reference of a model version is, in order of preference:

1. an explicit reference profile (``infersight fleet --reference``: a profile file, or a
   dataset profiled with the same code), used for every model version;
2. the ``reference`` profile the agents exported (``[models.NAME] reference`` /
   ``agent.set_reference``): every replica exports the same one, so the latest is taken,
   not merged (merging copies would multiply its counts); a version without one uses the
   model's latest reference of any version;
3. otherwise the model version's earliest window, merged across replicas; later windows
   are tested against it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plugins.drift import DriftConfig, OfflineReport, format_table, report_to_json
from plugins.fleet import codec, names
from plugins.fleet.evaluate import compare_profiles
from plugins.fleet.otlp import ProfileRecord
from plugins.fleet.profiles import Profile, merge_profiles


@dataclass(frozen=True, slots=True)
class FleetWindow:
    """One model version's window, merged across replicas, tested against its reference."""

    model: str
    version: str
    start: float
    end: float
    replicas: tuple[str, ...]
    rows: int
    reference: str  # what the reference was: "exported", "given", "earliest window"
    report: OfflineReport

    @property
    def drifted(self) -> bool:
        """Whether any feature (or the joint test) drifted."""
        return self.report.drifted


def dedupe(records: Iterable[ProfileRecord]) -> list[ProfileRecord]:
    """One record per (instance, model, version, kind, window): the last one read wins."""
    out: dict[tuple[str, str, str, str, float, float], ProfileRecord] = {}
    for r in records:
        out[r.key] = r
    return list(out.values())


def evaluate_fleet(
    records: Iterable[ProfileRecord],
    config_for: Callable[[str], DriftConfig] | None = None,
    *,
    reference: Profile | None = None,
    model: str | None = None,
    version: str | None = None,
    skip: Callable[[str, str, float, float], bool] | None = None,
) -> list[FleetWindow]:
    """Merge and test every window in ``records`` (module docs for the reference); ordered by model, then time.

    ``skip(model, version, start, end)`` leaves a window out (``--follow`` evaluates each once).
    Raises ``codec.ProfileFormatError`` for undecodable profile bytes and ``ValueError`` for
    profiles that cannot be merged (a feature numeric in one replica and categorical in another).
    """
    cfg_for = config_for or (lambda _m: DriftConfig())
    windows: dict[tuple[str, str], dict[tuple[float, float], list[ProfileRecord]]] = defaultdict(
        lambda: defaultdict(list))
    exported: dict[tuple[str, str], ProfileRecord] = {}
    for r in dedupe(records):
        if (model is not None and r.model != model) or (version is not None and r.version != version):
            continue
        if r.kind == names.KIND_REFERENCE:
            prev = exported.get((r.model, r.version))
            if prev is None or (r.start, r.instance) > (prev.start, prev.instance):
                exported[(r.model, r.version)] = r
        else:
            windows[(r.model, r.version)][(r.start, r.end)].append(r)
    out: list[FleetWindow] = []
    for (m, v), by_window in sorted(windows.items()):
        ordered = sorted(by_window.items(), key=lambda kv: (_sort(kv[0][0]), _sort(kv[0][1])))
        ref_profile, ref_name = _reference(m, v, reference, exported)
        if ref_profile is None:
            (_, first), ordered = ordered[0], ordered[1:]
            ref_profile, ref_name = merge_profiles(codec.from_base64(r.data) for r in first), "earliest window"
        for (start, end), recs in ordered:
            if skip is not None and skip(m, v, start, end):
                continue
            merged = merge_profiles(codec.from_base64(r.data) for r in recs)
            report = compare_profiles(ref_profile, merged, cfg_for(m), model=m)
            out.append(FleetWindow(m, v, start, end, tuple(sorted({r.instance for r in recs})), merged.rows,
                                   ref_name, report))
    return out


def _sort(x: float) -> float:
    return x if not math.isnan(x) else math.inf


def _reference(model: str, version: str, given: Profile | None,
               exported: Mapping[tuple[str, str], ProfileRecord]) -> tuple[Profile | None, str]:
    if given is not None:
        return given, "given"
    rec = exported.get((model, version))
    if rec is None:
        others = [r for (m, _), r in exported.items() if m == model]
        rec = max(others, key=lambda r: (r.start, r.version), default=None)
    if rec is None:
        return None, ""
    return codec.from_base64(rec.data), f"exported by {rec.instance or 'an agent'}"


def _when(t: float) -> str:
    if math.isnan(t):
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_fleet(windows: list[FleetWindow]) -> str:
    """A header line per fleet window followed by drift's per-feature table; a closing verdict line."""
    parts: list[str] = []
    for w in windows:
        parts.append(f"model {w.model or '-'} version {w.version or '-'} window {_when(w.start)} .. {_when(w.end)}: "
                     f"{len(w.replicas)} replica(s), {w.rows} rows; reference: {w.reference}")
        parts.append(format_table(w.report))
        parts.append("")
    drifted = [w for w in windows if w.drifted]
    if not windows:
        parts.append("fleet verdict: no window to test (need a reference and at least one window)")
    elif drifted:
        parts.append(f"fleet verdict: drift in {len(drifted)} of {len(windows)} window(s)")
    else:
        parts.append(f"fleet verdict: no drift in {len(windows)} window(s)")
    return "\n".join(parts)


def fleet_to_json(windows: list[FleetWindow]) -> dict[str, Any]:
    """A JSON-ready dict: the verdict and every window with drift's report JSON."""
    return {
        "drifted": any(w.drifted for w in windows),
        "windows": [{
            "model": w.model, "version": w.version,
            "start": w.start if math.isfinite(w.start) else None, "end": w.end if math.isfinite(w.end) else None,
            "replicas": list(w.replicas), "rows": w.rows, "reference": w.reference,
            "report": report_to_json(w.report),
        } for w in windows],
    }
