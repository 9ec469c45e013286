"""Config resolution (explicit > env > file > default) and ConfigError for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent
from agent._config import parse_kv_list, redact_url, resolve
from agent._errors import ConfigError

CLEAN_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_input_use_the_file_exporter() -> None:
    s = resolve(None, None, CLEAN_ENV)
    assert s.exporter_type == "file"
    assert s.service["name"] == "infersight-service"
    assert len(s.service["instance_id"]) == 32
    assert s.agent["queue_size"] == 10_000
    assert s.exporter["protocol"] == "http/protobuf"


def test_file_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[service]\nname = "fraud-api"\n[agent]\nqueue_size = 50\n[models.fraud]\ncapture = true\n')
    s = resolve(path, None, CLEAN_ENV)
    assert s.service["name"] == "fraud-api"
    assert s.agent["queue_size"] == 50
    assert s.models["fraud"]["capture"] is True


def test_environment_overrides_file_and_explicit_overrides_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[service]\nname = "from-file"\n')
    env = {"OTEL_SERVICE_NAME": "from-env"}
    assert resolve(path, None, env).service["name"] == "from-env"
    assert resolve(path, {"service": {"name": "explicit"}}, env).service["name"] == "explicit"


def test_infersight_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[agent]\nbatch_size = 7\n')
    assert resolve(None, None, {"INFERSIGHT_CONFIG": str(path)}).agent["batch_size"] == 7


def test_otel_variables_follow_the_specification() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc,x-tenant=t1",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,team=ml",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    }
    s = resolve(None, None, env)
    assert s.exporter_type == "otlp"
    assert s.exporter["protocol"] == "grpc"
    assert s.exporter["headers"] == {"authorization": "Bearer abc", "x-tenant": "t1"}
    assert s.exporter["timeout"] == 2.5
    assert s.service["attributes"] == {"deployment.environment.name": "prod", "team": "ml"}
    assert s.traces == {"sampler": "parentbased_traceidratio", "sampler_arg": 0.25}
    assert s.metrics["export_interval"] == 5.0


@pytest.mark.parametrize("env", [{"OTEL_SDK_DISABLED": "true"}, {"INFERSIGHT_DISABLED": "1"}])
def test_disabled_by_environment(env: dict[str, str]) -> None:
    assert resolve(None, None, env).disabled


def test_headers_and_url_query_secrets_are_redacted() -> None:
    s = resolve(
        None,
        {"exporter": {"endpoint": "https://collector:4318/?token=abc", "headers": {"api-key": "s3cr3t"}}},
        CLEAN_ENV,
    )
    text = repr(s.redacted())
    assert "s3cr3t" not in text and "abc" not in text
    assert "collector:4318" in text


@pytest.mark.parametrize("where", ["config", "env", "signal-env"])
def test_endpoint_with_credentials_is_rejected_before_any_exporter_sees_it(where: str) -> None:
    url = "https://user:pw@collector:4318"
    overrides: dict = {"exporter": {"endpoint": url}} if where == "config" else {}
    env = {**CLEAN_ENV, **({"OTEL_EXPORTER_OTLP_ENDPOINT": url} if where == "env" else {}),
           **({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url} if where == "signal-env" else {})}
    with pytest.raises(ConfigError) as info:
        resolve(None, overrides, env)
    assert "pw" not in str(info.value) and "user:password@" in str(info.value)


def test_secret_values_never_appear_in_config_errors() -> None:
    cases = [
        ({"exporter": {"headers": {"authorization": 12345}}}, "12345"),
        ({"exporter": {"headers": "Bearer TOMLHDR_S3CR3T"}}, "TOMLHDR_S3CR3T"),
        ({"exporter": {"api_key": "TOMLHDR_S3CR3T"}}, "TOMLHDR_S3CR3T"),  # an unknown key: never echoed
        ({"exporter": {"signals": {"traces": {"headers": "S3CR3T-TRACES"}}}}, "S3CR3T-TRACES"),
    ]
    for overrides, secret in cases:
        with pytest.raises(ConfigError) as info:
            resolve(None, overrides, CLEAN_ENV)
        assert secret not in str(info.value), info.value
    with pytest.raises(ConfigError) as info:
        resolve(None, {}, {**CLEAN_ENV, "OTEL_EXPORTER_OTLP_HEADERS": "x", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"})
    assert "soon" in str(info.value)  # a non-secret value is still shown, to help


def test_per_signal_exporters_from_otel_variables() -> None:
    env = {**CLEAN_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
           "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "console",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:6006/v1/traces",
           "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500"}
    s = resolve(None, {}, env)
    traces = s.signal_exporter("traces")
    assert traces["type"] == ("otlp",) and traces["endpoint"] == "http://127.0.0.1:6006/v1/traces"
    assert traces["endpoint_is_full"] and traces["timeout"] == 2.5
    assert s.signal_exporter("metrics")["type"] == ("none",)
    assert s.signal_exporter("logs")["type"] == ("console",)
    assert s.exporter_types == ("otlp", "console")
    with pytest.raises(ConfigError) as info:
        resolve(None, {}, {**CLEAN_ENV, "OTEL_TRACES_EXPORTER": "zipkin"})
    assert info.value.key.startswith("OTEL_TRACES_EXPORTER")


def test_several_exporters_at_once() -> None:
    s = resolve(None, {"exporter": {"type": ["otlp", "file"], "endpoint": "http://127.0.0.1:4318"}}, CLEAN_ENV)
    assert s.exporter_type == "otlp+file"
    assert all(s.signal_exporter(sig)["type"] == ("otlp", "file") for sig in ("traces", "metrics", "logs"))
    with pytest.raises(ConfigError):
        resolve(None, {"exporter": {"type": ["none", "file"]}}, CLEAN_ENV)


def test_otel_resource_attributes_merge_with_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('[service.attributes]\n"deployment.environment" = "prod"\nteam = "fraud"\n')
    s = resolve(path, {}, {**CLEAN_ENV, "OTEL_RESOURCE_ATTRIBUTES": "team=risk,region=eu"})
    assert s.service["attributes"] == {"deployment.environment": "prod", "team": "risk", "region": "eu"}


def test_redact_url_keeps_host_and_path() -> None:
    assert redact_url("https://u:p@h:1/x?token=t&a=b") == "https://***@h:1/x?token=***&a=***"
    assert redact_url("https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/XXXXyyyyZZZZ1234") == (
        "https://hooks.slack.com/services/***/***/***"
    )


def test_kv_list_parsing_decodes_percent_escapes() -> None:
    assert parse_kv_list("a=1, b = x%2Cy ,bad,=") == {"a": "1", "b": "x,y", "": ""}


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"agent": {"queue_sise": 5}}, "agent.queue_sise", "one of the keys"),
        ({"agent": {"queue_size": "big"}}, "agent.queue_size", "a positive integer"),
        ({"agent": {"queue_size": -1}}, "agent.queue_size", "a positive integer"),
        ({"agent": {"disabled": "yes"}}, "agent.disabled", "true or false"),
        ({"exporter": {"type": "kafka"}}, "exporter.type", "one of 'otlp'"),
        ({"exporter": {"protocol": "http/json"}}, "exporter.protocol", "one of 'grpc'"),
        ({"exporter": {"endpoint": "collector:4317"}}, "exporter.endpoint", "http:// or https://"),
        ({"exporter": {"type": "otlp"}}, "exporter.endpoint", "an OTLP endpoint URL"),
        ({"exporter": {"headers": {"a": 1}}}, "exporter.headers", "string values"),
        ({"traces": {"sampler_arg": 2}}, "traces.sampler_arg", "between 0 and 1"),
        ({"traces": {"sampler": "sometimes"}}, "traces.sampler", "one of"),
        ({"metrics": {"export_interval": 0}}, "metrics.export_interval", "a positive number"),
        ({"models": {"fraud": {"sample_rate": 1.5}}}, "models.fraud.sample_rate", "between 0 and 1"),
        ({"models": {"fraud": {"captur": True}}}, "models.fraud.captur", "one of the keys"),
        ({"models": {"fraud": {"task": "magic"}}}, "models.fraud.task", "one of"),
        ({"plugins": {"enabled": "drift"}}, "plugins.enabled", "a list of strings"),
        ({"agent": 3}, "agent", "a dict"),
    ],
)
def test_each_mistake_raises_config_error_naming_the_key(overrides: dict, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(None, overrides, CLEAN_ENV)
    assert info.value.key == key
    assert expected in str(info.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(None, None, {"INFERSIGHT_QUEUE_SIZE": "lots"})
    assert "INFERSIGHT_QUEUE_SIZE" in info.value.key
    assert "'lots'" in str(info.value)


def test_missing_and_malformed_files_raise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="an existing TOML file"):
        resolve(tmp_path / "nope.toml", None, CLEAN_ENV)
    with pytest.raises(ConfigError, match="valid TOML"):
        resolve(write(tmp_path, "[agent\n"), None, CLEAN_ENV)


def test_unknown_top_level_section_fails_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        agent.init({"driftt": {"alpha": 0.1}}, agent={"data_dir": str(tmp_path)}, plugins={"enabled": []})
    assert info.value.key == "driftt"
    assert not agent.is_running()


def test_unknown_builtin_plugin_fails_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        agent.init(agent={"data_dir": str(tmp_path)}, plugins={"enabled": ["nonexistent"]})
    assert info.value.key == "plugins.enabled"


def test_example_config_file_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "config" / "agent.toml"
    s = resolve(path, None, CLEAN_ENV)
    assert s.service["name"]


def test_init_is_idempotent_for_the_same_config(tmp_path: Path) -> None:
    from agent import _state

    agent.init(agent={"data_dir": str(tmp_path), "stderr_level": "off"}, plugins={"enabled": []})
    first = _state.AGENT
    agent.init(agent={"data_dir": str(tmp_path), "stderr_level": "off"}, plugins={"enabled": []})
    assert _state.AGENT is first
    agent.init(agent={"data_dir": str(tmp_path), "stderr_level": "off", "batch_size": 3}, plugins={"enabled": []})
    assert _state.AGENT is not first
    agent.shutdown()
    assert not agent.is_running()
    agent.shutdown()  # twice is fine


@pytest.mark.parametrize(("key", "value"), [
    ("shutdown_timeout", 1e300), ("shutdown_timeout", float("nan")), ("tick_interval", float("inf")),
    ("plugin_configure_timeout", 0), ("notify_timeout", -1), ("file_mode", 0o777), ("file_mode", 0o200),
])
def test_durations_and_modes_out_of_range_are_rejected(key: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(None, {"agent": {key: value}}, CLEAN_ENV)
    assert info.value.key == f"agent.{key}"


@pytest.mark.parametrize(("content", "expected"), [
    (b"\xff\xfe[agent]\n", "a UTF-8 text file"),
    (b"[agent\n", "valid TOML"),
    (None, "not a directory"),
])
def test_unreadable_config_files_name_the_path(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "conf.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        resolve(path, {}, CLEAN_ENV)
    assert str(path) in str(info.value) and expected in str(info.value)
