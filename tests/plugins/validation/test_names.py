"""Every name the plugin emits comes from ``names.py``: no ``ml.`` literal elsewhere, attribute keys namespaced."""

from __future__ import annotations

import ast
from pathlib import Path

import plugins.validation
from plugins.validation import names

PACKAGE = Path(plugins.validation.__file__).parent
CORE_KEYS = {"ml.model.name", "ml.model.version", "ml.feature.name", "error.type"}


def test_no_ml_string_literal_outside_names_py() -> None:
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ml."):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert found == []


def test_emitted_names_live_under_ml_validation_or_are_shared_core_keys() -> None:
    for const, value in vars(names).items():
        if not const.isupper() or not isinstance(value, str) or "." not in value:
            continue
        assert value.startswith("ml.validation.") or value in CORE_KEYS, f"{const} = {value!r}"
