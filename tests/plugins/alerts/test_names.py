"""One alerts namespace: every emitted name is a constant in a ``names.py``, every attribute key ``ml.alerts.*``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from plugins.alerts import names as alerts_names
from plugins.notifiers import names as notifier_names

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("alerts", "notifiers")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_telemetry_name_is_spelled_outside_names_py(package: str) -> None:
    found = []
    for path in sorted((ROOT / "plugins" / package).glob("*.py")):
        if path.name == "names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ml."):
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not found


@pytest.mark.parametrize("module", [alerts_names, notifier_names], ids=PACKAGES)
def test_every_name_is_under_the_one_alerts_namespace(module: object) -> None:
    values = {k: v for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and "." in v}
    assert values
    assert all(v.startswith("ml.alerts.") for v in values.values()), values


def test_keys_both_packages_emit_have_the_same_names() -> None:
    def attrs(module: object) -> dict[str, str]:
        return {k: v for k, v in vars(module).items() if k.startswith("ATTR_")}

    shared = attrs(alerts_names).keys() & attrs(notifier_names).keys()
    assert shared >= {"ATTR_CHANNEL", "ATTR_STATUS", "ATTR_RULE", "ATTR_SEVERITY", "ATTR_GROUP_KEY"}
    assert {k: attrs(alerts_names)[k] for k in shared} == {k: attrs(notifier_names)[k] for k in shared}
    assert notifier_names.label_attribute("feature") == "ml.alerts.label.feature"
