"""Fleet-wide and dataset-scale drift on mergeable profiles.

Profiles (``profiles``: counts, moments, DataSketches KLL and frequent-items sketches, a
bottom-k row sample; ``codec``: the versioned byte format) are built by the live plugin
(``plugin``: one ``ml.drift.profile`` log record per closed, wall-clock-aligned window), by
the dataset engines (``engines``: local pyarrow, Dask, Spark) and merged by
``infersight fleet`` (``fleet``, ``otlp``, ``commands``, ``follow``). ``evaluate`` runs the
drift tests on profiles with the drift plugin's records, correction and verdict rule.
"""

from __future__ import annotations

from plugins.fleet.codec import FORMAT_VERSION, ProfileFormatError, from_bytes, to_bytes
from plugins.fleet.config import FleetConfig, parse_config
from plugins.fleet.engines import (
    ENGINES,
    DatasetInputError,
    ProfileOptions,
    compare_datasets,
    profile_arrow,
    profile_dataset,
)
from plugins.fleet.evaluate import ProfileSummary, compare_profiles, summarize
from plugins.fleet.fleet import FleetWindow, evaluate_fleet, fleet_to_json, format_fleet
from plugins.fleet.moments import Moments
from plugins.fleet.otlp import ProfileRecord, read_profiles
from plugins.fleet.plugin import FleetPlugin, make_plugin
from plugins.fleet.profiles import FeatureProfile, Kind, Profile, ProfileBuilder, merge_profiles
from plugins.fleet.sample import RowSample

__all__ = [
    "ENGINES",
    "FORMAT_VERSION",
    "DatasetInputError",
    "FeatureProfile",
    "FleetConfig",
    "FleetPlugin",
    "FleetWindow",
    "Kind",
    "Moments",
    "Profile",
    "ProfileBuilder",
    "ProfileFormatError",
    "ProfileOptions",
    "ProfileRecord",
    "ProfileSummary",
    "RowSample",
    "compare_datasets",
    "compare_profiles",
    "evaluate_fleet",
    "fleet_to_json",
    "format_fleet",
    "from_bytes",
    "make_plugin",
    "merge_profiles",
    "parse_config",
    "profile_arrow",
    "profile_dataset",
    "read_profiles",
    "summarize",
    "to_bytes",
]
