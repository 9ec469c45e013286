"""Offline validation for the CLI: check a data file against a schema file, infer a schema file.

``infersight validate DATA --schema schema.toml [--json]`` checks a file (``check_columns``)
and exits 1 on violations; ``infersight schema infer REFERENCE -o schema.toml`` writes
``schema_text`` (bounds widened as ``schema.py`` says, ``--tolerance``). The whole file
is one window (so ``max_missing_rate`` applies to the file). Thresholds are rates of violating rows per (feature, kind):
``0`` by default (any violation fails), overridable in the schema file::

    [thresholds]
    default = 0.001
    missing_rate = 0.0
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.plugin import ConfigError, Key, load_table, optional, parse_table, ratio
from plugins.validation.schema import DEFAULT_TOLERANCE, Schema, infer_schema, schema_from_mapping, schema_to_toml
from plugins.validation.validate import Violation, missing_rate_breaches, validate_columns

__all__ = [
    "FileViolation",
    "OfflineReport",
    "check_columns",
    "infer_schema_text",
    "load_schema",
    "schema_text",
    "validate_file",
]

EXIT_OK = 0
EXIT_VIOLATIONS = 1

# A schema file's ``[thresholds]``: a rate per violation kind, and ``default`` for the others.
THRESHOLD_KEYS: dict[str, Key] = {
    "default": Key(optional(ratio), None),
    **{kind.value: Key(optional(ratio), None) for kind in Violation if kind is not Violation.OUTLIER},
}


@dataclass(frozen=True, slots=True)
class FileViolation:
    """Violations of one kind on one feature over the whole file."""

    feature: str
    kind: str
    count: int
    rate: float
    threshold: float
    examples: tuple[Any, ...]

    @property
    def exceeded(self) -> bool:
        """Whether this violation's rate is above its threshold (and so fails the check)."""
        return self.rate > self.threshold


@dataclass(frozen=True, slots=True)
class OfflineReport:
    """Result of validating a file: rows checked and every violation found."""

    data: str
    schema: str
    rows: int
    violations: tuple[FileViolation, ...]

    @property
    def failed(self) -> bool:
        """True when any violation rate exceeds its threshold."""
        return any(v.exceeded for v in self.violations)

    @property
    def exit_code(self) -> int:
        """1 when the check failed, else 0 (the CLI's exit status)."""
        return EXIT_VIOLATIONS if self.failed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (for ``--json``)."""
        return {
            "data": self.data,
            "schema": self.schema,
            "rows": self.rows,
            "failed": self.failed,
            "violations": [
                {
                    "feature": v.feature, "kind": v.kind, "count": v.count, "rate": v.rate,
                    "threshold": v.threshold, "exceeded": v.exceeded, "examples": list(v.examples),
                }
                for v in self.violations
            ],
        }  # fmt: skip

    def to_json(self) -> str:
        """JSON text of ``to_dict``."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def format_text(self) -> str:
        """Human-readable summary, one line per violation."""
        status = "FAILED" if self.failed else "ok"
        lines = [f"{self.data}: {self.rows} rows checked against {self.schema}: {status}"]
        for v in self.violations:
            mark = "!" if v.exceeded else " "
            ex = ", ".join(repr(e) for e in v.examples)
            lines.append(
                f" {mark} {v.feature:<24} {v.kind:<16} {v.count:>8} rows  rate {v.rate:.4g}"
                f" (threshold {v.threshold:g})" + (f"  e.g. {ex}" if ex else "")
            )
        if not self.violations:
            lines.append("   no violations")
        return "\n".join(lines)


def load_schema(path: str | Path, key: str = "schema") -> tuple[Schema, dict[str, float]]:
    """Read a schema TOML file and its optional ``[thresholds]`` table.

    ConfigError names ``key`` when the file is unreadable, else the path inside the file.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(key, str(p), f"a readable schema file ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ConfigError(key, str(p), "a UTF-8 text schema file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(key, str(p), f"valid TOML ({exc})") from None
    raw = data.get("thresholds", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{p}:thresholds", raw, "a table of violation kind -> rate")
    parsed = parse_table(f"{p}:thresholds", raw, THRESHOLD_KEYS)
    thresholds = {kind: rate for kind, rate in parsed.items() if rate is not None}
    return schema_from_mapping(data, f"{p}:"), thresholds


def validate_file(
    data: str | Path, schema: str | Path, *, max_rate: float | None = None, max_examples: int = 3
) -> OfflineReport:
    """Validate every row of ``data`` (.csv/.parquet/.npz/.npy) against the schema file ``schema``.

    ``max_rate`` replaces the default threshold (per-kind thresholds in the file still win).
    Raises ConfigError for a bad schema, FileNotFoundError/ValueError for unreadable data.
    """
    parsed, thresholds = load_schema(schema)
    columns = load_table(data)
    return check_columns(
        columns, parsed, thresholds, data=str(data), schema_name=str(schema), max_rate=max_rate,
        max_examples=max_examples,
    )  # fmt: skip


def check_columns(
    columns: Mapping[str, Any],
    schema: Schema,
    thresholds: Mapping[str, float],
    *,
    data: str,
    schema_name: str,
    max_rate: float | None = None,
    max_examples: int = 3,
) -> OfflineReport:
    """Validate loaded ``columns`` (the whole table is one window) against a parsed schema and its thresholds."""
    n = len(next(iter(columns.values()))) if columns else 0
    default = thresholds.get("default", 0.0) if max_rate is None else max_rate
    res = validate_columns(schema, columns, n, max_examples=max_examples)
    out: list[FileViolation] = []
    for (feature, kind), count in sorted(res.counts.items()):
        out.append(FileViolation(
            feature, kind.value, count, count / n if n else 0.0, thresholds.get(kind.value, default),
            tuple(res.examples.get((feature, kind), ())),
        ))  # fmt: skip
    for feature, rate in sorted(missing_rate_breaches(schema, res.missing, n).items()):
        mr = Violation.MISSING_RATE.value
        out.append(FileViolation(feature, mr, res.missing[feature], rate, thresholds.get(mr, default), ()))
    return OfflineReport(data, schema_name, n, tuple(out))


def infer_schema_text(
    reference: str | Path, *, allow_unknown: bool = False, tolerance: float = DEFAULT_TOLERANCE
) -> str:
    """Infer a schema from a reference data file and render it as editable TOML."""
    return schema_text(load_table(reference), Path(reference).name, allow_unknown=allow_unknown, tolerance=tolerance)


def schema_text(
    columns: Mapping[str, Any], source: str, *, allow_unknown: bool = False, tolerance: float = DEFAULT_TOLERANCE
) -> str:
    """The schema inferred from loaded reference ``columns`` (read from ``source``), as editable TOML."""
    schema = infer_schema(columns, allow_unknown=allow_unknown, tolerance=tolerance)
    n = len(next(iter(columns.values()))) if columns else 0
    header = (
        f"Inferred by InferSight from {source} ({n} rows).\n"
        f"Numeric bounds: observed extreme + {tolerance:g} x (extreme - median), never crossing zero\n"
        "when the reference did not (infersight schema infer --tolerance; 0 pins the observed range)."
    )
    return schema_to_toml(schema, header=header)
