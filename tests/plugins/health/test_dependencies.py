"""Dependency inventory, pin matching and import checks."""

from __future__ import annotations

import platform

import numpy
import pytest

from plugins.health.dependencies import Inventory, check_pins, import_names, take_inventory, version_matches
from plugins.health.identity import Mismatch


def test_default_inventory_lists_the_installed_ml_stack_only() -> None:
    inv = take_inventory()
    assert inv.python == platform.python_version()
    assert inv.packages["numpy"] == numpy.__version__
    assert "tensorflow-not-a-real-name" not in inv.packages
    assert inv.errors == ()  # absent defaults are not errors


def test_declared_packages_missing_or_broken_are_errors_naming_them() -> None:
    inv = take_inventory(["numpy", "definitely-not-installed-pkg"])
    assert list(inv.packages) == ["numpy"]
    [err] = inv.errors
    assert err.package == "definitely-not-installed-pkg" and "not installed" in err.error


def test_pinned_packages_are_inventoried_even_with_the_default_list() -> None:
    inv = take_inventory(None, pinned=["pluggy"])
    assert "pluggy" in inv.packages


@pytest.mark.parametrize(
    ("pin", "actual", "ok"),
    [("1.2.3", "1.2.3", True), ("==1.2.3", "1.2.3", True), ("1.2.3", "1.2.4", False),
     ("1.2.*", "1.2.9", True), ("1.2.*", "1.20.0", False), ("1.2.*", "1.2", True)],
)  # fmt: skip
def test_version_matches_exact_or_star_prefix(pin: str, actual: str, ok: bool) -> None:
    assert version_matches(pin, actual) is ok


def test_check_pins_covers_python_and_skips_missing_packages() -> None:
    inv = Inventory(python="3.11.7", packages={"numpy": "2.4.6"})
    pins = {"numpy": "2.3.0", "python": "3.12.*", "absent": "1.0"}
    assert check_pins(pins, inv) == [
        Mismatch("dependency", "numpy", "2.3.0", "2.4.6"),
        Mismatch("dependency", "python", "3.12.*", "3.11.7"),
    ]


def test_import_names_map_distributions_to_modules() -> None:
    assert import_names("scikit-learn")[0] == "sklearn"
    assert import_names("numpy")[0] == "numpy"
