"""``infersight demo``: a scenario that serves simulated models through the agent and its built-in plugins.

Not part of the core: it is a plugin that contributes the ``demo`` command and uses the
drift, validation, alerts, recsys and report plugins the way an application would.
"""

from __future__ import annotations

from plugins.demo.plugin import DemoPlugin, make_plugin
from plugins.demo.scenario import demo_config, run_demo

__all__ = ["DemoPlugin", "demo_config", "make_plugin", "run_demo"]
