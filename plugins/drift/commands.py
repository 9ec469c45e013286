"""``infersight drift REF CUR``: the offline comparison, contributed to the command line by the drift plugin.

Exit codes: 0 no drift, 1 drift found, 2 bad input (a missing or unreadable file, an
option out of range, an unwritable ``--html`` path), with one line on stderr naming the
file or option, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.plugin import ConfigError, InputError, describe_exception, load_table
from plugins.drift.config import DriftConfig, parse_config
from plugins.drift.offline import compare, format_table, report_to_json


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``infersight drift``."""
    drift = subparsers.add_parser(
        "drift", help="compare a reference and a current dataset; exit 1 on drift, 2 on bad input",
        description="Compare a current dataset with a reference (.npz, .npy, .csv, .parquet or .jsonl). "
                    "Exit 0: no drift; 1: drift found; 2: bad input.",
    )
    drift.add_argument("reference", help="reference (training) data file")
    drift.add_argument("current", help="current data file")
    drift.add_argument("--features", nargs="*", default=None, help="only these features")
    drift.add_argument("--tests", nargs="*", default=None,
                       help="ks or cvm, and mmd, lsdd or none for the joint test")
    drift.add_argument("--json", action="store_true", help="print the results as JSON")
    drift.add_argument("--html", default=None, help="also write an HTML report to this path")
    drift.add_argument("--alpha", default="0.05", help="significance level, strictly between 0 and 1 (0.05)")
    drift.add_argument("--joint", default=None, metavar="TEST",
                       help="the joint test over all features: mmd (default), lsdd or off")
    drift.add_argument("--correction", default=None, metavar="METHOD",
                       help="per-feature correction: bonferroni (default), bh or none")
    drift.add_argument("--threshold-numeric", default=None, metavar="SD",
                       help="Wasserstein distance in reference standard deviations (0.1)")
    drift.add_argument("--threshold-categorical", default=None, metavar="SHARE",
                       help="total variation distance, a share of rows, for categorical/boolean/discrete (0.1)")
    drift.add_argument("--threshold-joint", default=None, metavar="SD",
                       help="joint effect as a one-feature mean shift in standard deviations (0.1)")
    drift.add_argument("--threshold-vector", default=None, metavar="AUC",
                       help="vector (embedding) features: held-out AUC above chance, 0 to 0.5 (0.05)")
    drift.add_argument("--feature-type", action="append", default=[], metavar="NAME=TYPE",
                       help="numeric, discrete, categorical or boolean (repeat for several features)")
    drift.add_argument("--permutations", default=None, metavar="N",
                       help="relabelings of the joint test, at least (100; more for small samples)")
    drift.add_argument("--reduction", default=None, metavar="METHOD",
                       help="auto (default: full standardised data up to 128 columns), none, pca or random_projection")
    drift.add_argument("--seed", default=None, metavar="N", help="seed of the permutations (0)")
    drift.set_defaults(func=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    """0 no drift, 1 drift found, 2 bad input (an ``InputError``: one line on stderr)."""
    alpha = _alpha(args.alpha)
    html = html_path(args.html) if args.html else None
    config = replace(_options(args), alpha=alpha)
    reference = _load(args.reference, "reference")
    current = _load(args.current, "current")
    try:
        report = compare(reference, current, features=args.features, tests=args.tests, config=config)
    except ValueError as exc:  # unknown test or feature names
        raise InputError(str(exc)) from None
    if html is not None:
        write_html(report, html)
    if args.json:
        print(json.dumps(report_to_json(report), indent=2, default=str))
    else:
        print(format_table(report))
    if html is not None:
        print(f"HTML report written to {html}", file=sys.stderr if args.json else sys.stdout)
    return 1 if report.drifted else 0


def _alpha(text: Any) -> float:
    try:
        alpha = float(text)
    except (TypeError, ValueError):
        alpha = math.nan
    if not (math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise InputError(f"--alpha: got {text!r}, expected a number strictly between 0 and 1")
    return alpha


def _options(args: argparse.Namespace) -> DriftConfig:
    """The drift settings from the command line, each checked by the ``[drift]`` key table (one line on error)."""
    section: dict[str, Any] = {}
    options: dict[str, tuple[str, type]] = {
        "joint": ("multivariate", str), "correction": ("correction", str), "permutations": ("permutations", int),
        "reduction": ("reduction", str), "seed": ("seed", int)}
    for opt, (key, kind) in options.items():
        text = getattr(args, opt)
        if text is not None:
            section[key] = _typed(f"--{opt}", text, kind)
    thresholds = {k: _typed(f"--threshold-{k.replace('multivariate', 'joint')}", v, float)
                  for k, v in (("numeric", args.threshold_numeric), ("categorical", args.threshold_categorical),
                               ("multivariate", args.threshold_joint), ("vector", args.threshold_vector))
                  if v is not None}
    if thresholds:
        section["thresholds"] = thresholds
    types: dict[str, str] = {}
    for item in args.feature_type:
        name, sep, type_name = str(item).partition("=")
        if not sep or not name:
            raise InputError(f"--feature-type: got {item!r}, expected NAME=TYPE")
        types[name] = type_name
    if types:
        section["feature_types"] = types
    option_of = {"multivariate": "--joint"}
    try:
        default, _ = parse_config(section)
    except ConfigError as exc:
        key = exc.key.removeprefix("drift.")
        head = key.split(".")[0]
        where = option_of.get(head, f"--{head}")
        if head == "thresholds":
            where = "--threshold-" + key.split(".")[-1].replace("multivariate", "joint")
        elif head == "feature_types":
            where = f"--feature-type {key.split('.', 1)[-1]}"
        raise InputError(f"{where}: got {exc.value!r}, expected {exc.expected}") from None
    return default


def _typed(option: str, text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise InputError(f"{option}: got {text!r}, expected a {'number' if kind is float else 'whole number'}"
                            if kind is not str else f"{option}: got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise InputError(f"{option}: got {text!r}, expected a finite number")
    return value


def _load(path: str, what: str) -> dict[str, Any]:
    if not Path(path).exists():
        raise InputError(f"the {what} file {path!r} does not exist")
    try:
        return load_table(path)
    except Exception as exc:  # any file we cannot read is bad input (exit 2), whatever failed inside
        raise InputError(f"cannot read the {what} file {path!r}: {describe_exception(exc)}") from None


def html_path(path: str) -> Path:
    """The ``--html`` path, checked before any work: missing directories can be created, the file written.

    (``infersight drift`` and ``infersight fleet``.)
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise InputError(f"--html: {path!r} is a directory, expected a file path")
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"--html: cannot write {path!r}: {str(ancestor)!r} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"--html: cannot write {path!r}: permission denied")
    return p


def write_html(report: Any, path: Path) -> None:
    """The drift report page of ``report`` at ``path``; ``InputError`` when it cannot be written."""
    from plugins.report import PlotlyMissingError, build_drift_report

    try:
        build_drift_report(report, path)
    except PlotlyMissingError as exc:
        raise InputError(f"--html: {exc}") from None
    except OSError as exc:
        raise InputError(f"--html: cannot write {str(path)!r}: {describe_exception(exc)}") from None
