"""Feature validation: schemas (declared or inferred), vectorised checks, outliers and edge cases.

Public surface for the core and the CLI: ``make_plugin`` (the built-in plugin),
``validate_file``/``infer_schema_text`` (offline checks), and the schema types.
"""

from __future__ import annotations

from plugins.validation.offline import OfflineReport, infer_schema_text, validate_file
from plugins.validation.plugin import ValidationPlugin
from plugins.validation.schema import FeatureSchema, Schema, ValueType, infer_schema, schema_to_toml
from plugins.validation.validate import ValidationResult, Violation, validate_columns

__all__ = [
    "FeatureSchema",
    "OfflineReport",
    "Schema",
    "ValidationPlugin",
    "ValidationResult",
    "ValueType",
    "Violation",
    "infer_schema",
    "infer_schema_text",
    "make_plugin",
    "schema_to_toml",
    "validate_columns",
    "validate_file",
]


def make_plugin() -> ValidationPlugin:
    """A fresh validation plugin instance, for the agent's plugin manager."""
    return ValidationPlugin()
