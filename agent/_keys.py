"""One declarative way to check config tables, shared by the core and every plugin.

A table is declared as ``{key: Key(check, default)}``; ``parse_table`` rejects unknown
keys (naming the closest known one), points keys that moved to their new name, checks
each value and fills in defaults. ``parse_models`` adds the ``[<plugin>.models.NAME]``
per-model override convention. A check is ``check(key_path, value) -> value`` and
raises ``ConfigError(key_path, value, expected)``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal

from agent._errors import HIDDEN, ConfigError

Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Key:
    """One config key: its check, its default, and (core keys only) the environment variable that sets it."""

    check: Check
    default: Any = None
    env: str | None = None
    parse_env: Callable[[str], Any] | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A tumbling window: closed every ``size`` rows (``type = "count"``) or every ``seconds`` (``"time"``)."""

    type: Literal["count", "time"] = "count"
    size: int = 1000
    seconds: float = 60.0


# -- checks -------------------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def string(key: str, v: Any) -> str:
    """Any string."""
    if not isinstance(v, str):
        raise ConfigError(key, v, "a string")
    return v


def nonempty_string(key: str, v: Any) -> str:
    """A string with something other than white space in it."""
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(key, v, "a non-empty string")
    return v


def boolean(key: str, v: Any) -> bool:
    """``true`` or ``false`` (not 0/1, not "yes")."""
    if not isinstance(v, bool):
        raise ConfigError(key, v, "true or false")
    return v


def integer(key: str, v: Any) -> int:
    """Any integer (not a bool)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(key, v, "an integer")
    return v


def positive_int(key: str, v: Any) -> int:
    """An integer > 0."""
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ConfigError(key, v, "a positive integer")
    return v


def int_at_least(low: int) -> Check:
    """An integer >= ``low``."""

    def check(key: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(key, v, f"an integer >= {low}")
        return v

    return check


def positive_number(key: str, v: Any) -> float:
    """A finite number > 0."""
    if not _number(v) or not (v > 0 and math.isfinite(v)):
        raise ConfigError(key, v, "a positive number")
    return float(v)


def non_negative(key: str, v: Any) -> float:
    """A finite number >= 0."""
    if not _number(v) or not (v >= 0 and math.isfinite(v)):
        raise ConfigError(key, v, "a finite number >= 0")
    return float(v)


def number_between(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Check:
    """A number in [low, high] (open at either end on request)."""
    if open_low and open_high:
        expected = f"a number strictly between {low:g} and {high:g}"
    elif not open_low and not open_high:
        expected = f"a number between {low:g} and {high:g}"
    else:
        lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
        expected = f"a number in {lo}{low:g}, {high:g}{hi}"

    def check(key: str, v: Any) -> float:
        if not _number(v) or math.isnan(v):
            raise ConfigError(key, v, expected)
        if v < low or v > high or (open_low and v == low) or (open_high and v == high):
            raise ConfigError(key, v, expected)
        return float(v)

    return check


ratio = number_between(0.0, 1.0)
"""A number between 0 and 1, both included (a rate or a share)."""

probability = number_between(0.0, 1.0, open_low=True, open_high=True)
"""A number strictly between 0 and 1 (a significance level)."""


def seconds(maximum: float = 7 * 86400.0) -> Check:
    """A duration in seconds: > 0 and at most ``maximum`` (default a week), so timers stay representable."""

    def check(key: str, v: Any) -> float:
        if not _number(v) or not (0 < v <= maximum):
            raise ConfigError(key, v, f"a number of seconds > 0 and <= {maximum:g}")
        return float(v)

    return check


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_EXPECTED = "a duration: seconds as a number or a string such as '30s', '5m', '1h30m'"


def duration(key: str, v: Any) -> float:
    """Seconds >= 0 from a number or a Prometheus-style string (``"30s"``, ``"5m"``, ``"1h30m"``)."""
    if _number(v):
        if not math.isfinite(v) or v < 0:
            raise ConfigError(key, v, _DURATION_EXPECTED)
        return float(v)
    if isinstance(v, str):
        text = v.strip()
        pos, total = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text) and math.isfinite(total):
            return total
    raise ConfigError(key, v, _DURATION_EXPECTED)


def one_of(*options: str) -> Check:
    """One of the given strings."""
    expected = "one of " + ", ".join(repr(o) for o in options)

    def check(key: str, v: Any) -> str:
        if v not in options:
            raise ConfigError(key, v, expected)
        return str(v)

    return check


def enum_of(enum: type[Enum]) -> Check:
    """The value of a member of ``enum`` (case-insensitive); returns the member."""
    expected = "one of " + ", ".join(repr(e.value) for e in enum)

    def check(key: str, v: Any) -> Any:
        if not isinstance(v, str):
            raise ConfigError(key, v, expected)
        try:
            return enum(v.lower())
        except ValueError:
            raise ConfigError(key, v, expected) from None

    return check


def str_list(key: str, v: Any) -> tuple[str, ...]:
    """A list of strings."""
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ConfigError(key, v, "a list of strings")
    return tuple(v)


def str_table(key: str, v: Any) -> dict[str, str]:
    """A table of string keys to string values."""
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise ConfigError(key, v, "a table of string keys to string values")
    return dict(v)


def table_of(check: Check) -> Check:
    """A table whose every value passes ``check`` (keys are names: features, metrics, ...)."""

    def checked(key: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, Mapping):
            raise ConfigError(key, v, "a table")
        return {str(k): check(f"{key}.{k}", x) for k, x in v.items()}

    return checked


def optional(check: Check) -> Check:
    """``check``, or nothing (an absent key or ``None`` from a dict config)."""

    def opt(key: str, v: Any) -> Any:
        return None if v is None else check(key, v)

    return opt


def window(key: str, v: Any) -> dict[str, Any]:
    """A window table ``{type = "count"|"time", size, seconds}``: the keys given, checked.

    ``parse_table`` lays them over the default (or the parent table's) ``Window``, so
    ``window = {size = 500}`` keeps the inherited type and seconds.
    """
    if not isinstance(v, Mapping):
        raise ConfigError(key, v, 'a table {type = "count"|"time", size = rows, seconds = duration}')
    out: dict[str, Any] = {}
    for k, x in v.items():
        if k == "type":
            out["type"] = one_of("count", "time")(f"{key}.type", x)
        elif k == "size":
            out["size"] = positive_int(f"{key}.size", x)
        elif k == "seconds":
            out["seconds"] = seconds()(f"{key}.seconds", x)
        else:
            raise ConfigError(f"{key}.{k}", x, "one of the keys type, size, seconds")
    return out


# -- tables -------------------------------------------------------------------------


def unknown_key(key: str, value: Any, known: Mapping[str, Any] | frozenset[str] | set[str]) -> ConfigError:
    """The error for an unknown key: names the closest known key, and lists them all."""
    name = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConfigError(key, HIDDEN, hint + "one of the keys " + ", ".join(sorted(known)))


def parse_table(
    prefix: str,
    section: Mapping[str, Any],
    keys: Mapping[str, Key],
    *,
    base: Mapping[str, Any] | None = None,
    moved: Mapping[str, str] | None = None,
    ignore: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Check the table ``section`` (config path ``prefix``) against ``keys``; every key present in the result.

    Values missing from ``section`` come from ``base`` (a parent table's parsed values)
    or the key's default. A key listed in ``moved`` (old name -> new name) is an error
    that names its new place; other unknown keys name the closest known one. Keys in
    ``ignore`` are left to the caller (``models`` in ``parse_models``).
    """
    if not isinstance(section, Mapping):
        raise ConfigError(prefix, section, "a table")
    moved = moved or {}
    for k in section:
        if k in ignore:
            continue
        if k in moved and k not in keys:
            raise ConfigError(f"{prefix}.{k}", section[k], f"the key {moved[k]!r} (renamed; see the README)")
        if k not in keys:
            raise unknown_key(f"{prefix}.{k}", section[k], keys.keys() | ignore)
    out: dict[str, Any] = {}
    for k, spec in keys.items():
        prior = base[k] if base is not None and k in base else spec.default
        if k not in section:
            out[k] = prior
            continue
        value = spec.check(f"{prefix}.{k}", section[k])
        if isinstance(prior, Window) and isinstance(value, dict):
            value = replace(prior, **value)
        out[k] = value
    return out


def parse_models(
    prefix: str,
    section: Mapping[str, Any],
    keys: Mapping[str, Key],
    *,
    moved: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A plugin table with per-model overrides: ``(defaults, {model: values})``.

    ``[<plugin>]`` holds the defaults; each ``[<plugin>.models.NAME]`` table takes the
    same keys and is laid over them.
    """
    default = parse_table(prefix, section, keys, moved=moved, ignore=frozenset({"models"}))
    models = section.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigError(f"{prefix}.models", models, "a table of [<plugin>.models.NAME] tables")
    per_model: dict[str, dict[str, Any]] = {}
    for name, sub in models.items():
        where = f"{prefix}.models.{name}"
        if not isinstance(sub, Mapping):
            raise ConfigError(where, sub, "a table of per-model settings")
        per_model[str(name)] = parse_table(where, sub, keys, base=default, moved=moved)
    return default, per_model
