"""Operational health: deployment identity, dependency inventory, path checks, heartbeat, machine metrics.

Enable it with ``health`` in ``[plugins] enabled``; configure it in ``[health]``; it reads
each ``[models.NAME]`` table's ``artifact``, ``expected_version`` and ``expected_digest``
(core keys). ``infersight doctor`` runs the same checks from the command line.
"""

from __future__ import annotations

from plugins.health.config import HealthConfig, ModelPins, parse_config
from plugins.health.doctor import run_doctor
from plugins.health.plugin import HealthPlugin, make_plugin

__all__ = ["HealthConfig", "HealthPlugin", "ModelPins", "make_plugin", "parse_config", "run_doctor"]
