"""``infersight retrain MODEL [DATA_DIR]``: the decay history and the recommended retraining interval, offline.

Reads the history the performance plugin keeps in the data directory
(``performance/history.json`` by default). Prints per version its training time, age,
performance at release (the fit's intercept) and at its latest window, its own decay per
day, then the pooled decay, the age at which each version reached (or will reach) the
floor and the recommended interval (their median), and the projection for the newest
version. It recommends; it never retrains. ``--record VERSION --trained-at T`` adds a
retrain to the file instead (a running agent keeps it when it next saves).

Exit codes: 0 printed (also when there is not yet enough evidence for a fit), 2 bad input
(unreadable history, unknown model, bad option), one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from agent.plugin import ConfigError, InputError, describe_exception, resolve_config
from plugins.performance.names import LOWER_IS_BETTER
from plugins.performance.retrain import (
    DAY,
    DecayFit,
    History,
    ModelHistory,
    Recommendation,
    decay_json,
    fit_decay,
    iso,
    recommend,
    to_epoch,
    training_record,
)

DEFAULT_HISTORY = "performance/history.json"



def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight retrain``."""
    p = subparsers.add_parser(
        "retrain", help="show a model's decay across retrains and the recommended retraining interval",
        description="Performance against model age per version, the pooled decay per day and the recommended "
                    "retraining interval (it recommends, it never retrains). Exit 0: printed; 2: bad input.",
    )
    p.add_argument("model", help="model name")
    p.add_argument("data_dir", nargs="?", default=None, help="the agent's data directory (default: from the config)")
    p.add_argument("--config", default=None, help="agent config file, for the data directory")
    p.add_argument("--history", default=DEFAULT_HISTORY, help=f"history file inside DATA_DIR ({DEFAULT_HISTORY})")
    p.add_argument("--floor", default=None, help="the floor of the metric (default: the one the agent recorded)")
    p.add_argument("--now", default=None, help="evaluate at this time (ISO-8601; default: now)")
    p.add_argument("--json", action="store_true", help="print the fit and recommendation as JSON")
    p.add_argument("--record", default=None, metavar="VERSION", help="record a retrain of VERSION instead")
    p.add_argument("--trained-at", default=None, help="with --record: when it was trained (ISO-8601)")
    p.add_argument("--data-until", default=None, help="with --record: its training data ends here (ISO-8601)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME=VALUE",
                   help="with --record: an offline metric of the version (repeatable)")
    p.set_defaults(func=run_retrain)


def run_retrain(args: argparse.Namespace) -> int:
    """0 printed, 2 bad input (an ``InputError``: one line on stderr)."""
    try:
        path = _history_path(args)
        if args.record is not None:
            return _record(args, path)
        history = _load(path)
        mh = history.models.get(args.model)
        if mh is None:
            known = ", ".join(sorted(history.models)) or "none"
            raise InputError(f"model {args.model!r} has no history in {str(path)!r} (models: {known})")
        floor = _floor(args.floor, mh)
        now = to_epoch("--now", args.now) if args.now else time.time()
    except ValueError as exc:  # a malformed time or history value
        raise InputError(str(exc)) from None
    fit = fit_decay(mh)
    newest = max(mh.trainings.values(), key=lambda r: r.trained_at).version if mh.trainings else None
    rec = None
    if fit is not None and floor is not None:
        rec = recommend(mh, fit, floor, now=now, lead_s=0.0, version=newest, model=args.model)
    if args.json:
        print(json.dumps({"model": args.model, "metric": mh.metric, "floor": floor,
                          "fit": None if fit is None else decay_json(fit, rec)}, indent=2))
    else:
        print(format_history(args.model, mh, fit, rec, floor, now))
    return 0


def _history_path(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        base = Path(args.data_dir).expanduser()
    else:
        try:
            base = resolve_config(args.config).data_dir
        except ConfigError as exc:
            raise InputError(f"--config: {exc}") from None
    if not base.is_dir():
        raise InputError(f"data directory {str(base)!r} does not exist")
    return base / args.history


def _load(path: Path) -> History:
    if not path.exists():
        raise InputError(f"no performance history at {str(path)!r} (the performance plugin writes it)")
    try:
        return History.load(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {describe_exception(exc)}") from None


def _floor(text: str | None, mh: ModelHistory) -> float | None:
    if text is None:
        return mh.floor
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputError(f"--floor: got {text!r}, expected a number >= 0")
    return value


def _record(args: argparse.Namespace, path: Path) -> int:
    if args.trained_at is None:
        raise InputError("--record needs --trained-at")
    metrics: dict[str, float] = {}
    for item in args.metric:
        name, sep, value = item.partition("=")
        try:
            metrics[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--metric: got {item!r}, expected NAME=NUMBER") from None
        if not sep or not name.strip():
            raise InputError(f"--metric: got {item!r}, expected NAME=NUMBER")
    rec = training_record(args.model, args.record, args.trained_at, args.data_until, metrics)
    history = _load(path) if path.exists() else History(path)
    history.add_training(rec)
    try:
        history.save(0o600, 0o700)
    except OSError as exc:
        raise InputError(f"cannot write {str(path)!r}: {describe_exception(exc)}") from None
    print(f"recorded {args.model} {rec.version} trained at {iso(rec.trained_at)} in {path}")
    return 0


def _fmt(value: float | None, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4g}" if metric in LOWER_IS_BETTER else f"{value:.4f}"


def format_history(model: str, mh: ModelHistory, fit: DecayFit | None, rec: Recommendation | None,
                   floor: float | None, now: float) -> str:
    """The history table, the pooled decay and the recommendation, as printed."""
    metric = mh.metric
    lines = [f"{model}: {metric} against model age ({len(mh.trainings)} recorded retrain(s))", ""]
    header = ("version", "trained at", "data until", "age (d)", "at release", "recorded", "latest", "decay/day",
              "windows")
    rows: list[tuple[str, ...]] = [header]
    order = sorted(mh.trainings.values(), key=lambda r: r.trained_at)
    for i, r in enumerate(order):
        pts = [p for p in mh.points.get(r.version, []) if p.value is not None]
        retired = order[i + 1].trained_at if i + 1 < len(order) else None
        last_t = pts[-1].t if pts else None
        age = ((retired or now) - r.trained_at) / DAY
        latest = f"{_fmt(pts[-1].value, metric)} @ {(last_t - r.trained_at) / DAY:.1f}d" if pts and last_t else "-"
        release = _fmt(fit.intercepts.get(r.version), metric) if fit is not None else "-"
        own = fit.version_slopes.get(r.version) if fit is not None else None
        rows.append((r.version, iso(r.trained_at), "-" if r.data_until is None else iso(r.data_until),
                     f"{age:.1f}" + ("" if retired is None else " (retired)"), release,
                     _fmt(r.metrics.get(metric), metric), latest,
                     "-" if own is None else f"{own:+.4g}", str(len(pts))))
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    if fit is None:
        lines.append("not enough evidence for a decay fit yet: it needs a version with windows at two different ages")
        return "\n".join(lines)
    per_day = fit.slope_per_day
    se = "" if math.isnan(fit.slope_std) else f" ± {fit.slope_std:.2g}"
    points = "" if metric in LOWER_IS_BETTER else f" ({100 * per_day:+.2f} points/day)"
    lines.append(f"pooled decay: {per_day:+.5g}{se} {metric}/day{points}, "
                 f"from {fit.points} window(s) over {fit.versions} version(s)")
    if floor is None or rec is None:
        lines.append("no floor recorded: pass --floor to get a recommended interval")
        return "\n".join(lines)
    lines.append(f"floor: {metric} {'<=' if metric in LOWER_IS_BETTER else '>='} {floor:g}")
    if rec.crossing_days:
        ages = ", ".join(f"{v} {d:.1f}d" for v, d in rec.crossing_days.items())
        lines.append(f"reaches the floor at age: {ages}")
    if rec.interval_days is not None:
        lines.append(f"recommended retraining interval: {rec.interval_days:.1f} days "
                     f"(median over {len(rec.crossing_days)} version(s))")
    else:
        lines.append("recommended retraining interval: none (no version decays toward the floor)")
    lines.append(rec.description.split("; ")[0])
    lines.append("this is a recommendation: nothing is retrained")
    return "\n".join(lines)
