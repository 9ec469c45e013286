"""Feature validation: schemas (declared or inferred), vectorised checks, outliers and edge cases.

Public surface: ``make_plugin`` (the ``validation`` entry point), ``validate_file`` and
``infer_schema_text`` (the offline checks behind ``infersight validate`` and
``infersight schema infer``), and the schema types.
"""

from __future__ import annotations

from plugins.validation.offline import OfflineReport, infer_schema_text, validate_file
from plugins.validation.plugin import ValidationPlugin, make_plugin
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
