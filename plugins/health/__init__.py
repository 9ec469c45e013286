"""Operational health: deployment identity, dependency inventory, path checks, heartbeat, machine metrics.

Enable it with ``health`` in ``[plugins] enabled``; configure it in ``[health]`` and
in each ``[models.NAME]`` table (``artifact``, ``expected_version``,
``expected_digest``, ``reference``). ``infersight doctor`` runs the same checks from
the command line through ``run_doctor``.
"""

from __future__ import annotations

from plugins.health.doctor import run_doctor
from plugins.health.identity import ArtifactIdentity
from plugins.health.plugin import HealthPlugin, artifact_identity, record_artifact

__all__ = [
    "ArtifactIdentity",
    "HealthPlugin",
    "artifact_identity",
    "make_plugin",
    "record_artifact",
    "run_doctor",
]


def make_plugin() -> HealthPlugin:
    """A new health plugin instance for the plugin manager."""
    return HealthPlugin()
