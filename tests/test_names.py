"""Every name a plugin emits is a constant in its package's names.py, namespaced, and listed in agent/semconv.py.

A plugin cannot emit a name this test does not see: string literals that look like
telemetry names (``ml.…``) are allowed only in names.py modules, so a new literal name in
plugin code fails here before it can reach a collector unlisted.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from agent.semconv import TABLE

ROOT = Path(__file__).resolve().parents[1]
# OpenTelemetry semantic-convention namespaces a plugin may use as they are.
OTEL_NAMESPACES = (
    "process.", "system.", "cpython.", "hw.", "cpu.", "error.", "exception.", "service.", "gen_ai.", "telemetry.",
)


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _looks_like_a_name(text: str) -> bool:
    return text.startswith("ml.") and " " not in text and len(text) > 3


def test_no_plugin_module_spells_a_telemetry_name_outside_names_py() -> None:
    offenders = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        if path.name == "names.py":
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line} {text!r}" for line, text in _literals(path)
                      if _looks_like_a_name(text)]
    assert not offenders, "telemetry names spelled outside a names.py:\n" + "\n".join(offenders)


def _names_modules() -> list[tuple[str, dict[str, object]]]:
    out = []
    for path in sorted((ROOT / "plugins").glob("*/names.py")):
        module = importlib.import_module(f"plugins.{path.parent.name}.names")
        out.append((path.parent.name, vars(module)))
    return out


def test_every_attribute_key_is_namespaced() -> None:
    bad = []
    for plugin, names in _names_modules():
        for const, value in names.items():
            if const.startswith("ATTR_") and isinstance(value, str) and not value.startswith(("ml.", *OTEL_NAMESPACES)):
                bad.append(f"{plugin}.{const} = {value!r}")
    assert not bad, f"attribute keys outside ml.<area>.* or an OpenTelemetry namespace: {bad}"


def test_every_emitted_name_is_in_the_semconv_table() -> None:
    table = {n.name for n in TABLE}
    missing = []
    for plugin, names in _names_modules():
        for const, value in names.items():
            if not const.isupper() or not isinstance(value, str) or not value.startswith(("ml.", *OTEL_NAMESPACES)):
                continue
            if value not in table:
                missing.append(f"{plugin}.{const} = {value!r}")
    assert not missing, f"names emitted by plugins but missing from agent/semconv.py and the README: {missing}"


def test_every_plugin_that_emits_telemetry_has_a_names_module() -> None:
    packages = {p.parent.name for p in (ROOT / "plugins").glob("*/__init__.py")}
    with_names = {p.parent.name for p in (ROOT / "plugins").glob("*/names.py")}
    emitting = {"drift", "validation", "feedback", "recsys", "alerts", "notifiers", "health"}
    assert emitting <= packages
    assert emitting <= with_names, f"plugins without names.py: {sorted(emitting - with_names)}"


def test_the_table_lists_no_name_that_nothing_emits() -> None:
    from agent import semconv

    emitted = {v for _, names in _names_modules() for k, v in names.items() if k.isupper() and isinstance(v, str)}
    core = {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)}
    stale = [n.name for n in TABLE if "<" not in n.name and n.name not in emitted | core]
    assert not stale, f"names in agent/semconv.py that no module emits any more: {stale}"
