"""Every name the feedback plugin emits is a constant in names.py, and every attribute key is namespaced."""

from __future__ import annotations

import ast
from pathlib import Path

from plugins.feedback import names

PACKAGE = Path(names.__file__).parent
CORE_KEYS = {"ml.model.name", "ml.model.version", "ml.prediction.id", "exception.type", "exception.message"}


def test_no_ml_name_literal_outside_names_py() -> None:
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ml."):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not found


def test_attribute_keys_are_namespaced() -> None:
    attrs = {k: v for k, v in vars(names).items() if k.startswith("ATTR_")}
    assert attrs
    bad = {k: v for k, v in attrs.items()
           if v not in CORE_KEYS and not v.startswith(("ml.feedback.", "ml.performance."))}
    assert not bad
    assert names.custom_attribute("pscore") == "ml.feedback.pscore"
    assert names.custom_attribute("app.tenant") == "app.tenant"
