"""Living next to an application's own OpenTelemetry and structlog setup."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import structlog

import agent
from agent.testing import capture_telemetry

ROOT = Path(__file__).resolve().parents[2]


def test_application_global_providers_are_reused_without_duplicate_export(tmp_path: Path) -> None:
    # Global providers can be set once per process, so this runs in a fresh interpreter.
    script = textwrap.dedent(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import agent
        from agent import _state

        app_exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(app_exporter))
        trace.set_tracer_provider(provider)

        agent.init(agent={{"data_dir": {str(tmp_path)!r}, "stderr_level": "off"}},
                   plugins={{"enabled": [], "entry_points": False}})
        assert _state.AGENT.pipelines.reused == ["traces"], _state.AGENT.pipelines.reused

        @agent.monitor(model="m")
        def predict(x):
            return x

        predict(1)
        agent.shutdown()
        names = [s.name for s in app_exporter.get_finished_spans()]
        assert names == ["predict m"], names
        print("OK")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OK"
    traces = tmp_path / "telemetry" / "traces.jsonl"
    # the agent's own file exporter got no spans: the application's pipeline exports them
    assert not traces.exists() or "predict m" not in traces.read_text()


def test_application_structlog_configuration_is_left_alone() -> None:
    seen: list[dict[str, object]] = []

    def keep(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        seen.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(processors=[agent.add_trace_context, keep])
    before = structlog.get_config()
    try:
        with capture_telemetry() as tel:

            @agent.monitor(model="m")
            def predict(x: int) -> int:
                structlog.get_logger().info("inside the model")
                return x

            predict(1)
            tel.flush()
            span = tel.spans()[0]
        assert structlog.get_config() == before
        assert seen[0]["event"] == "inside the model"
        assert seen[0]["trace_id"] == format(span.context.trace_id, "032x")
        assert seen[0]["span_id"] == format(span.context.span_id, "016x")
        assert seen[0]["model"] == "m"
        assert seen[0]["prediction_id"] == span.attributes["ml.prediction.id"]  # type: ignore[index]
    finally:
        structlog.reset_defaults()


def test_capture_telemetry_exposes_spans_metrics_events_and_plugin_inputs() -> None:
    with capture_telemetry(models={"m": {"capture": True}}) as tel:

        @agent.monitor(model="m", version="2")
        def predict(x: dict[str, float]) -> float:
            return x["a"]

        predict({"a": 1.5})
        pid = tel.spans()[0].attributes["ml.prediction.id"]  # type: ignore[index]
        agent.log_feedback(str(pid), "label", 1, model="m")
        tel.flush()
        assert [p.value for p in tel.metric_points("ml.inference.calls")] == [1.0]
        assert [p.count for p in tel.metric_points("ml.inference.duration")] == [1]
        assert tel.events("ml.agent.started")
        assert tel.records[0][1].columns["a"].tolist() == [1.5]
        assert [(e.kind, e.value) for e in tel.feedback] == [("label", 1)]
        assert any(s.name == "ml.inference.throughput" for s in tel.signals)
    assert not agent.is_running()


def test_durations_reach_an_application_owned_meter_provider_exactly(tmp_path: Path) -> None:
    # The worker adds each batch of durations to the application's histogram in one step;
    # the count, sum and buckets the application's reader collects are those of every call.
    script = textwrap.dedent(
        f"""
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import agent
        from agent import _state

        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        agent.init(agent={{"data_dir": {str(tmp_path)!r}, "stderr_level": "off"}},
                   plugins={{"enabled": [], "entry_points": False}})
        assert _state.AGENT.pipelines.reused == ["metrics"], _state.AGENT.pipelines.reused

        @agent.monitor(model="m", capture=False)
        def predict(x):
            return x

        calls = 0
        for batch in range(4):
            for i in range(500):
                predict(i)
                calls += 1
            assert agent.flush(10)
        recorder = _state.AGENT.duration_recorder
        data = reader.get_metrics_data()
        points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                  if m.name == "ml.inference.duration" for p in m.data.data_points]
        assert len(points) == 1, points
        p = points[0]
        assert p.count == calls == sum(p.bucket_counts), (p.count, calls, sum(p.bucket_counts))
        assert 0 < p.min <= p.max < 1 and p.sum > 0
        assert recorder.bulk, "the batch path was not taken"
        agent.shutdown()
        print("OK")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OK"
