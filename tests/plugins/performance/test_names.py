"""Every name the performance plugin emits comes from names.py, and its attribute keys are namespaced."""

from __future__ import annotations

import ast
from pathlib import Path

from plugins.performance import names

PACKAGE = Path(names.__file__).resolve().parent
OTEL = ("exception.",)


def test_no_module_but_names_py_spells_a_telemetry_name() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ml.") \
                    and " " not in node.value:
                offenders.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not offenders


def test_attribute_keys_are_namespaced_and_every_estimate_has_its_band() -> None:
    attrs = {k: v for k, v in vars(names).items() if k.startswith("ATTR_")}
    assert all(v.startswith(("ml.", *OTEL)) for v in attrs.values()), attrs
    for metric in (*names.CLASSIFICATION_METRICS, *names.REGRESSION_METRICS):
        value, lower, upper = names.ESTIMATED[metric]
        assert (lower, upper) == (f"{value}.lower", f"{value}.upper")
        assert value == f"ml.performance.estimated.{metric}"
