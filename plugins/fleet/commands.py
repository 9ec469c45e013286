"""``infersight fleet``: fleet-wide drift from replicas' exported profiles, or two datasets on an engine.

    infersight fleet PATHS...                 # OTLP/JSON files, directories, globs (agents' or a Collector's)
    infersight fleet PATHS... --follow        # keep reading; publish fleet Signals to the alert rules
    infersight fleet --dataset REF CUR --engine local|dask|spark

Exit codes: 0 no drift, 1 drift found, 2 bad input (a missing or unreadable file, no
profiles, an option out of range), with one line on stderr naming the file or option.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.plugin import ConfigError, InputError, describe_exception, resolve_config
from plugins.drift import DriftConfig, format_table, report_to_json
from plugins.drift import parse_config as parse_drift_config
from plugins.drift.commands import html_path, write_html


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight fleet``."""
    p = subparsers.add_parser(
        "fleet", help="merge replicas' drift profiles (or profile two datasets) and test them; exit 1 on drift",
        description="Fleet-wide drift: read ml.drift.profile records from OTLP/JSON files (the agent's or the "
                    "OpenTelemetry Collector's file exporter), merge them per model, version and aligned window "
                    "across replicas, and test each window against the reference. With --dataset, profile two "
                    "Parquet datasets (files, directories, globs) on an engine and compare them. "
                    "Exit 0: no drift; 1: drift found; 2: bad input.",
    )
    p.add_argument("paths", nargs="+", help="telemetry files/directories/globs; with --dataset: REFERENCE CURRENT")
    p.add_argument("--reference", default=None,
                   help="reference: a profile file or a Parquet dataset (default: the reference the agents "
                        "exported, else each model version's earliest window)")
    p.add_argument("--model", default=None, help="only this model")
    p.add_argument("--version", dest="model_version", default=None, help="only this model version")
    p.add_argument("--config", default=None, help="agent config file: [drift] settings (alpha, correction, "
                                                   "thresholds) and, with --follow, the alert rules and channels")
    p.add_argument("--alpha", default=None, help="significance level, strictly between 0 and 1 ([drift] alpha)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--html", default=None, help="also write an HTML report of the latest window (one model) here")
    p.add_argument("--dataset", action="store_true", help="compare two Parquet datasets: PATHS are REF CUR")
    p.add_argument("--engine", default="local", help="with --dataset: local (default), dask or spark")
    p.add_argument("--scheduler", default=None, help="with --engine dask: a scheduler address (default LocalCluster)")
    p.add_argument("--master", default=None, help="with --engine spark: a master URL (default local[*])")
    p.add_argument("--follow", action="store_true", help="keep reading new profiles and publish fleet Signals")
    p.add_argument("--interval", default="10", help="with --follow: seconds between reads (10)")
    p.add_argument("--grace", default="30", help="with --follow: seconds after a window's end before it is "
                                                 "tested, for late replicas (30)")
    p.add_argument("--max-polls", default="0", help="with --follow: stop after this many reads (0: never)")
    p.set_defaults(func=run_fleet)


def _number(text: Any, option: str, check: Callable[[float], bool], expected: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and check(value)):
        raise InputError(f"{option}: got {text!r}, expected {expected}")
    return value


def drift_configs(config: str | None, alpha: float | None) -> Callable[[str], DriftConfig]:
    """The ``[drift]`` settings per model from the agent config (``ConfigError`` -> bad input)."""
    try:
        raw = resolve_config(config).raw
        default, per_model = parse_drift_config(dict(raw.get("drift", {})))
    except ConfigError as exc:
        raise InputError(f"--config: {exc}") from None
    if alpha is not None:
        default = replace(default, alpha=alpha)
        per_model = {m: replace(c, alpha=alpha) for m, c in per_model.items()}
    return lambda model: per_model.get(model, default)


def load_reference(path: str) -> Any:
    """A reference ``Profile`` from a profile file or a Parquet dataset; ``InputError`` naming the path."""
    from plugins.fleet import codec, engines

    p = Path(path)
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                head = fh.read(4)
        except OSError as exc:
            raise InputError(f"cannot read the reference {path!r}: {describe_exception(exc)}") from None
        if head == codec.MAGIC:
            try:
                return codec.from_bytes(p.read_bytes())
            except (OSError, codec.ProfileFormatError) as exc:
                raise InputError(f"cannot read the reference profile {path!r}: {exc}") from None
    try:
        return engines.profile_dataset(path, "local", kinds=None)
    except engines.DatasetInputError as exc:
        raise InputError(f"--reference: {exc}") from None


def run_fleet(args: argparse.Namespace) -> int:
    """0 no drift, 1 drift found, 2 bad input (an ``InputError``: one line on stderr)."""
    from plugins.fleet import codec, engines, fleet, otlp

    try:
        alpha = None if args.alpha is None else _number(args.alpha, "--alpha", lambda a: 0 < a < 1,
                                                        "a number strictly between 0 and 1")
        html = html_path(args.html) if args.html else None
        config_for = drift_configs(args.config, alpha)
        if args.dataset:
            return _dataset(args, config_for, html)
        if args.engine != "local" or args.scheduler or args.master:
            raise InputError("--engine, --scheduler and --master go with --dataset")
        reference = load_reference(args.reference) if args.reference else None
        if args.follow:
            from plugins.fleet.follow import Follow

            interval = _number(args.interval, "--interval", lambda x: x > 0, "a number of seconds > 0")
            grace = _number(args.grace, "--grace", lambda x: x >= 0, "a number of seconds >= 0")
            polls = _number(args.max_polls, "--max-polls", lambda x: x >= 0 and x == int(x), "an integer >= 0")
            files = otlp.telemetry_files(args.paths)  # checked now: bad paths are bad input
            del files
            return Follow(args.paths, config_for, reference=reference, model=args.model,
                          version=args.model_version, config=args.config, interval=interval, grace=grace,
                          max_polls=int(polls), json_output=args.json).run()
        records = otlp.read_profiles(args.paths)
        if not records:
            raise InputError(f"no {PROFILE_HINT} in {' '.join(args.paths)}")
        windows = fleet.evaluate_fleet(records, config_for, reference=reference, model=args.model,
                                       version=args.model_version)
        if html is not None:
            _html(windows, html)
    except (otlp.TelemetryInputError, codec.ProfileFormatError, engines.DatasetInputError) as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:  # profiles that cannot be merged (a feature's kind differs between replicas)
        raise InputError(str(exc)) from None
    if args.json:
        print(json.dumps(fleet.fleet_to_json(windows), indent=2, default=str))
    else:
        print(fleet.format_fleet(windows))
    return 1 if any(w.drifted for w in windows) else 0


PROFILE_HINT = "ml.drift.profile records (run the agents with the fleet plugin and a file or OTLP log exporter)"


def _dataset(args: argparse.Namespace, config_for: Callable[[str], DriftConfig], html: Path | None) -> int:
    from plugins.fleet import engines

    if len(args.paths) != 2:
        raise InputError(f"--dataset takes two datasets, REFERENCE CURRENT; got {len(args.paths)}")
    if args.engine not in engines.ENGINES:
        raise InputError(f"--engine: got {args.engine!r}, expected one of {', '.join(engines.ENGINES)}")
    if args.follow or args.reference:
        raise InputError("--follow and --reference do not go with --dataset")
    try:
        report = engines.compare_datasets(args.paths[0], args.paths[1], args.engine, config=config_for(""),
                                          scheduler=args.scheduler, master=args.master)
    except ImportError as exc:
        extra = {"dask": "infersight[dask]", "spark": "infersight[spark]"}.get(args.engine, "infersight[pandas]")
        raise InputError(f"--engine {args.engine}: {exc.name or exc} is not installed "
                            f"(pip install '{extra}')") from None
    if html is not None:
        write_html(report, html)
    if args.json:
        print(json.dumps(report_to_json(report), indent=2, default=str))
    else:
        print(format_table(report))
    return 1 if report.drifted else 0


def _html(windows: list[Any], path: Path) -> None:
    groups = {(w.model, w.version) for w in windows}
    if len(groups) != 1:
        raise InputError(f"--html: writes one model version's latest window; {len(groups)} found "
                            "(choose one with --model and --version)")
    write_html(windows[-1].report, path)


