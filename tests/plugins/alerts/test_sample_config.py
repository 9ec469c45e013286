"""``config/alerts.toml`` loads through the real plugin config, and its rules select what the plugins emit.

The drift plugin runs on a numeric and a categorical feature; the sample drift rule must
select both results (categorical results are labelled ``chi2``, not ``psi``). Every rule's
signal is one a built-in plugin or the core emits, and every matcher names a label that
signal carries.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from agent import semconv
from agent.plugin import load_config_file
from agent.testing import ManualClock, run_plugin
from plugins.alerts.config import AlertsConfig
from plugins.alerts.redact import redacted_channel_config

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "config" / "alerts.toml"
PLUGINS = {"enabled": ["drift", "alerts", "notifiers"], "entry_points": False}


def emitted_signal_names() -> set[str]:
    """Signal names in the core's table and in every built-in plugin's ``names.py``."""
    names = {n.name for n in semconv.TABLE if n.kind == "signal"}
    for path in sorted((ROOT / "plugins").glob("*/names.py")):
        module = importlib.import_module(f"plugins.{path.parent.name}.names")
        names |= {v for k, v in vars(module).items() if k.startswith("SIGNAL_") and isinstance(v, str)}
    return names


def drift_rows(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, object]]:
    """Rows with one numeric and one categorical feature; ``shift`` moves both."""
    amount = rng.normal(shift, 1.0, size=n)
    country = rng.choice(["US", "DE", "FR"], size=n, p=[0.6 - shift / 4, 0.2, 0.2 + shift / 4])
    return [{"amount": float(a), "country": str(c)} for a, c in zip(amount, country, strict=True)]


def test_sample_rules_load_and_select_what_the_plugins_emit() -> None:
    config = load_config_file(str(SAMPLE))
    config["drift"] = {"window": {"type": "count", "size": 400}}
    config["models"] = {"fraud": {"capture": True}}
    rng = np.random.default_rng(7)
    with run_plugin("alerts", config, plugins=PLUGINS, clock=ManualClock()) as h:
        cfg: AlertsConfig = h.plugin("alerts").config
        h.set_reference("fraud", drift_rows(rng, 1000, 0.0))
        for row in drift_rows(rng, 400, 0.8):
            h.feed("fraud", row)
        signals = h.tick(advance=1)
        assert h.plugin_errors == 0
    assert {r.name for r in cfg.rules} >= {"feature-drift", "drift-detected", "high-error-rate"}
    assert "CHANGE-ME" not in repr(redacted_channel_config(cfg.channels))

    known = emitted_signal_names()
    assert {r.signal for r in cfg.rules} <= known
    drift = [s for s in signals if s.name == "ml.drift.effect_size" and s.labels["feature"] in ("amount", "country")]
    assert {s.labels["feature"]: s.labels["test"] for s in drift} == {"amount": "ks", "country": "chi2"}
    for rule in cfg.rules:
        emitted = [s for s in signals if s.name == rule.signal]
        for m in rule.matchers:
            assert emitted, f"rule {rule.name!r} has matchers but its signal was not seen"
            assert all(m.label in s.labels for s in emitted), f"{rule.name}: no label {m.label!r} on {rule.signal}"
    (feature_drift,) = [r for r in cfg.rules if r.name == "feature-drift"]
    assert all(feature_drift.matches(s.labels) for s in drift)  # numeric and categorical alike
