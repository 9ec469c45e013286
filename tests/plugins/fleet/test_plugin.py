"""The live fleet plugin on the real host: aligned windows, one ml.drift.profile record per closed window."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from agent.plugin import ConfigError
from agent.testing import ManualClock, run_plugin
from plugins.fleet import Kind, from_bytes, make_plugin, names
from plugins.fleet.codec import FORMAT_VERSION, from_base64

START = 1_700_000_000.0  # ManualClock's default: 20 s into a minute (1_699_999_980 is a multiple of 60)


def _rows(rng: np.random.Generator, n: int) -> list[dict[str, object]]:
    return [{"x": float(v), "c": str(c)} for v, c in zip(rng.normal(size=n), rng.choice(["a", "b"], n), strict=True)]


def test_a_time_window_aligned_to_the_wall_clock_is_exported_once_when_it_closes() -> None:
    rng = np.random.default_rng(0)
    with run_plugin(make_plugin, config={"fleet": {"window": {"type": "time", "seconds": 60}}},
                    clock=ManualClock(START)) as h:
        for row in _rows(rng, 30):
            h.feed("fraud", row, 0.5, version="3")
        h.tick()
        assert h.events(names.PROFILE_EVENT) == []  # still open
        h.tick(advance=45)  # 1_700_000_045 >= the window's end 1_700_000_040
        events = h.events(names.PROFILE_EVENT)
        assert len(events) == 1
        h.tick(advance=60)  # nothing new: no empty window is exported
        assert len(h.events(names.PROFILE_EVENT)) == 1
        assert h.plugin_errors == 0
    e = events[0]
    assert e[names.ATTR_MODEL] == "fraud" and e[names.ATTR_VERSION] == "3"
    assert (e[names.ATTR_WINDOW_START], e[names.ATTR_WINDOW_END]) == (1_699_999_980.0, 1_700_000_040.0)
    assert e[names.ATTR_PROFILE_KIND] == "window" and e[names.ATTR_PROFILE_ROWS] == 30
    assert e[names.ATTR_PROFILE_FORMAT] == FORMAT_VERSION
    p = from_base64(e[names.ATTR_PROFILE_DATA])
    assert p.rows == 30 and p.features["x"].kind is Kind.NUMERIC and p.features["c"].kind is Kind.CATEGORICAL
    assert sum(p.features["c"].category_counts().values()) == 30 and len(p.sample) == 30


def test_the_reference_is_exported_as_a_reference_profile_and_open_windows_at_shutdown() -> None:
    rng = np.random.default_rng(1)
    with run_plugin(make_plugin, config={"fleet": {"sample_rows": 16}}, clock=ManualClock(START)) as h:
        h.set_reference("fraud", {"x": rng.normal(size=200), "c": rng.choice(["a", "b"], 200).astype(object)})
        for row in _rows(rng, 40):
            h.feed("fraud", row, 1.0)
        h.tick()
        refs = h.events(names.PROFILE_EVENT)
        agent_ = h.agent
        assert agent_ is not None
        agent_.stop()  # shutdown: the open window is exported as it is
        events = h.events(names.PROFILE_EVENT)
    assert [e[names.ATTR_PROFILE_KIND] for e in refs] == ["reference"]
    assert [e[names.ATTR_PROFILE_KIND] for e in events] == ["reference", "window"]
    ref, win = (from_base64(e[names.ATTR_PROFILE_DATA]) for e in events)
    assert ref.rows == 200 and len(ref.sample) == 16 and win.rows == 40 and len(win.sample) == 16


def test_count_windows_close_every_size_rows_across_batches() -> None:
    rng = np.random.default_rng(2)
    with run_plugin(make_plugin, config={"fleet": {"window": {"type": "count", "size": 25}}},
                    clock=ManualClock(START)) as h:
        h.feed("m", [{"x": float(v)} for v in rng.normal(size=60)], [0.0] * 60)
        h.tick()
        rows = [e[names.ATTR_PROFILE_ROWS] for e in h.events(names.PROFILE_EVENT)]
        assert h.plugin_errors == 0
    assert rows == [25, 25]


def test_a_profile_record_is_written_to_the_file_exporter_as_otlp_json(tmp_path: Path) -> None:
    with run_plugin(make_plugin, config={"fleet": {}}, clock=ManualClock(START),
                    exporter={"type": "file"}, agent={"data_dir": str(tmp_path), "stderr_level": "off"}) as h:
        h.feed("m", {"x": 1.0, "c": "a"}, 0.0)
        h.tick(advance=60)
        agent_ = h.agent
        assert agent_ is not None
        agent_.flush()
    lines = (tmp_path / "telemetry" / "logs.jsonl").read_text().splitlines()
    found = [(rl["resource"], rec) for line in lines for rl in json.loads(line)["resourceLogs"]
             for sl in rl["scopeLogs"] for rec in sl["logRecords"]
             if rec["body"]["stringValue"] == names.PROFILE_EVENT]
    assert len(found) == 1
    resource, record = found[0]
    assert names.RESOURCE_INSTANCE in {a["key"] for a in resource["attributes"]}
    data = next(a["value"]["stringValue"] for a in record["attributes"] if a["key"] == names.ATTR_PROFILE_DATA)
    assert from_bytes(base64.b64decode(data)).rows == 1


@pytest.mark.parametrize(("section", "key"), [
    ({"sketch_k": 2}, "fleet.sketch_k"),
    ({"window_seconds": 5}, "fleet.window_seconds"),
    ({"models": {"fraud": {"align": "yes"}}}, "fleet.models.fraud.align"),
    ({"sample_rows": 0}, "fleet.sample_rows"),
])
def test_a_bad_fleet_table_names_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")), run_plugin(make_plugin, config={"fleet": section}):
        pass
