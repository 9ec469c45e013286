"""Heartbeat: ``ml.agent.up`` = 1 while the agent runs, so a backend can alert when it goes missing.

The gauge is observed at each export; when the process dies or hangs, points stop
arriving and a no-data rule fires. The ``ml.agent.start_time`` attribute (unix
seconds) changes at each restart, which also makes restarts visible. The gauge has
no unit so the Prometheus name stays ``ml_agent_up`` (a unit of ``1`` would add
``_ratio``). Prometheus rules, per replica and for the whole service::

    - alert: InferSightAgentMissing      # a replica that reported in the last 15 m is silent now
      expr: max by (service_name, service_instance_id) (max_over_time(ml_agent_up[15m]))
            unless max by (service_name, service_instance_id) (ml_agent_up)
      for: 2m
    - alert: InferSightServiceDown       # no replica at all
      expr: absent(ml_agent_up{service_name="fraud-api"})
      for: 2m

(``service_name``/``service_instance_id`` are the labels the collector's Prometheus
exporter or Prometheus' OTLP receiver derive from the resource with resource-to-label
promotion on; use ``job``/``instance`` where those are what is promoted.)
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, ObservableGauge, Observation

from plugins.health import names as n

__all__ = ["register_heartbeat"]


def register_heartbeat(meter: Meter, start_time: float) -> ObservableGauge:
    """Register ``ml.agent.up`` = 1 with attribute ``ml.agent.start_time`` (whole unix seconds)."""
    attrs = {n.ATTR_START_TIME: int(start_time)}

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(1, attrs)]

    return meter.create_observable_gauge(
        n.AGENT_UP, callbacks=[observe], unit="", description="1 while the InferSight agent is running."
    )
