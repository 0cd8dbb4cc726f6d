"""devtools.local_invoke: the template rules of `sam local invoke`, and real cold invokes through the Lambda
Runtime Interface Emulator and awslambdaric."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devtools import lambda_emulator, local_invoke
from devtools.local_invoke import (
    FunctionSpec,
    TemplateError,
    apply_env_overrides,
    build_environment,
    function_spec,
    invoke,
    load_template,
    parse_parameter_overrides,
)

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
REAL_TEMPLATE = REPO / "template.yaml"
EVENTS = REPO / "events"


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Children inherit AWS_*: make sure that is only dummy credentials and no endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing leaves loopback


@pytest.fixture(scope="module")
def fixture_template() -> dict[str, Any]:
    return load_template(FIXTURE_TEMPLATE)


@pytest.fixture(scope="module")
def echo(fixture_template: dict[str, Any]) -> FunctionSpec:
    return function_spec(fixture_template, "EchoFunction")


# ------------------------------------------------------------------------------------------------
# Template loading
# ------------------------------------------------------------------------------------------------

SHORT_TAGS = [
    ("!Ref Thing", {"Ref": "Thing"}),
    ("!Sub 'x-${Thing}'", {"Fn::Sub": "x-${Thing}"}),
    ("!GetAtt Thing.Arn", {"Fn::GetAtt": ["Thing", "Arn"]}),
    ("!GetAtt [Thing, Arn]", {"Fn::GetAtt": ["Thing", "Arn"]}),
    ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
    ("!If [Cond, a, b]", {"Fn::If": ["Cond", "a", "b"]}),
    ("!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
    ("!Select [0, [a]]", {"Fn::Select": [0, ["a"]]}),
    ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
    ("!FindInMap [M, k, v]", {"Fn::FindInMap": ["M", "k", "v"]}),
    ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
    ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Condition C", {"Condition": "C"}),
    ("!ImportValue exported", {"Fn::ImportValue": "exported"}),
    ("!Base64 text", {"Fn::Base64": "text"}),
    ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
    ("!GetAZs ''", {"Fn::GetAZs": ""}),
    ("!Sub\n    - '${A}'\n    - A: !Ref B", {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
]


@pytest.mark.parametrize(("yaml_text", "expected"), SHORT_TAGS)
def test_short_tags_become_long_forms(tmp_path: Path, yaml_text: str, expected: dict[str, Any]) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"Value: {yaml_text}\n")
    assert load_template(path)["Value"] == expected


def test_fixture_template_keeps_version_string_and_long_forms(fixture_template: dict[str, Any]) -> None:
    assert fixture_template["AWSTemplateFormatVersion"] == "2010-09-09"  # unquoted date stays text
    variables = fixture_template["Resources"]["EchoFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["TOPIC_ARN"] == {"Ref": "Topic"}
    assert variables["TOPIC_NAME"] == {"Fn::GetAtt": ["Topic", "TopicName"]}
    assert fixture_template["Conditions"]["NotProd"] == {"Fn::Not": [{"Condition": "IsProd"}]}


# ------------------------------------------------------------------------------------------------
# Function specs: Globals, resolution
# ------------------------------------------------------------------------------------------------


def test_globals_merge_function_wins(echo: FunctionSpec) -> None:
    assert echo.code_dir == FIXTURES / "echo_fn"
    assert echo.code_dir.is_absolute()
    assert echo.handler == "app.lambda_handler"
    assert echo.timeout == 2  # function's own Timeout beats Globals' 5
    assert echo.memory_size == 256  # from Globals
    assert echo.runtime == "python3.13"
    assert echo.environment["SHARED"] == "from-globals"
    assert echo.environment["OVERRIDDEN_BY_FUNCTION"] == "function"
    assert echo.layer_dirs == [FIXTURES / "layer"]
    assert echo.remote_layers == ["arn:aws:lambda:us-east-1:017000801446:layer:Remote:1"]


def test_globals_layers_concatenate(fixture_template: dict[str, Any]) -> None:
    other = function_spec(fixture_template, "OtherFunction")
    assert other.layer_dirs == [FIXTURES / "layer"]
    assert other.remote_layers == [
        "arn:aws:lambda:us-east-1:017000801446:layer:Remote:1",
        "arn:aws:lambda:us-east-1:123456789012:layer:Extra:3",
    ]
    assert (other.timeout, other.memory_size) == (30, 512)
    assert other.environment["STAGE"] == "dev"  # Globals' variables apply to every function


def test_intrinsics_resolve_like_sam_local(echo: FunctionSpec) -> None:
    env = echo.environment
    assert env["STAGE"] == "dev"  # Ref to a parameter: its Default
    assert env["INTERVAL"] == "10"  # numbers become strings
    assert env["FLAG"] == "yes"
    assert env["TABLE"] == "Table"  # Ref to a resource: the logical id
    assert env["TOPIC_ARN"] == "Topic"
    assert env["TOPIC_NAME"] == "Topic.TopicName"
    assert env["SUBBED"] == "dev-us-east-1-123456789012-Table-Topic.TopicName-${Literal}"
    assert env["SUB_WITH_VARIABLES"] == "a-dev/dev"
    assert env["SELECTED"] == "y"
    assert env["CONDITIONAL"] == "other-value"
    assert env["NOT_PROD"] == "yes"
    assert env["MEMORY_FROM_MAP"] == "128"
    assert env["ENCODED"] == "aGVsbG8="
    assert env["IMPORTED"] == ""  # not resolvable without a stack
    assert env["ENABLED"] == "true"
    assert env["RATIO"] == "3.5"


def test_parameter_overrides_flow_into_conditions_and_maps(fixture_template: dict[str, Any]) -> None:
    env = function_spec(fixture_template, "EchoFunction", parameter_overrides={"Stage": "prod"}).environment
    assert env["STAGE"] == "prod"
    assert env["CONDITIONAL"] == "prod-value"
    assert env["NOT_PROD"] == "no"
    assert env["MEMORY_FROM_MAP"] == "1024"
    assert env["SUB_WITH_VARIABLES"] == "a-prod/prod"


def test_unknown_function_is_an_error(fixture_template: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="EchoFunction"):
        function_spec(fixture_template, "Table")


# ------------------------------------------------------------------------------------------------
# --env-vars overrides and the child environment
# ------------------------------------------------------------------------------------------------


def test_env_overrides_apply_only_declared_variables(echo: FunctionSpec) -> None:
    env = apply_env_overrides(
        echo,
        {
            "Parameters": {"STAGE": "from-parameters", "TABLE": "jobs", "UNDECLARED": "x", "INTERVAL": 0},
            "EchoFunction": {"STAGE": "from-function", "ALSO_UNDECLARED": "y", "ENABLED": False},
            "OtherFunction": {"SHARED": "not-for-echo"},
        },
    )
    assert env["STAGE"] == "from-function"  # the function's own section wins
    assert env["TABLE"] == "jobs"  # Parameters apply to every function
    assert env["INTERVAL"] == "0"
    assert env["ENABLED"] == "false"
    assert env["SHARED"] == "from-globals"  # another function's section does not apply
    assert "UNDECLARED" not in env
    assert "ALSO_UNDECLARED" not in env
    assert echo.environment["STAGE"] == "dev"  # the spec itself is untouched


def test_child_environment_layers(echo: FunctionSpec) -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "SECRET_OF_THE_SHELL": "nope",
        "STAGE": "from-shell",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }
    env = build_environment(
        echo,
        env_overrides={"Parameters": {"TABLE": "jobs"}},
        extra_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:6000", "TABLE": "extra-loses"},
        base_env=base,
    )
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/home/x"
    assert "SECRET_OF_THE_SHELL" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:6000"  # extra_env beats the caller's AWS_*
    assert env["TABLE"] == "jobs"  # declared variables beat extra_env
    assert env["STAGE"] == "dev"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "2"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES / "echo_fn")


def test_region_from_the_caller_is_kept(echo: FunctionSpec) -> None:
    env = build_environment(echo, base_env={"AWS_DEFAULT_REGION": "eu-west-1"})
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_parameter_overrides_cli_forms() -> None:
    assert parse_parameter_overrides(["Stage=prod Interval=5", "ParameterKey=Flag,ParameterValue=a=b"]) == {
        "Stage": "prod",
        "Interval": "5",
        "Flag": "a=b",
    }


# ------------------------------------------------------------------------------------------------
# The real template.yaml
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_template() -> dict[str, Any]:
    return load_template(REAL_TEMPLATE)


def test_real_poller_declares_its_variables(real_template: dict[str, Any]) -> None:
    poller = function_spec(real_template, "PollerFunction")
    assert {"JOBS_TABLE", "PROVIDERS", "POLL_INTERVAL_SECONDS"} <= poller.environment.keys()
    assert poller.environment["JOBS_TABLE"] == "JobsTable"
    assert poller.environment["POLL_INTERVAL_SECONDS"] == "10"
    providers = json.loads(poller.environment["PROVIDERS"])
    assert {"hingnet", "skyengine"} <= providers.keys()
    assert poller.code_dir == REPO / "functions" / "poller"
    assert poller.handler == "app.lambda_handler"
    assert poller.layer_dirs == [REPO / "layers" / "common"]
    assert all(arn.startswith("arn:aws:lambda:us-east-1:") for arn in poller.remote_layers)
    assert poller.timeout == 62


def test_real_api_function(real_template: dict[str, Any]) -> None:
    api = function_spec(real_template, "ApiFunction")
    assert api.code_dir == REPO / "functions" / "api"
    assert api.layer_dirs == [REPO / "layers" / "common"]
    assert "JOBS_TABLE" in api.environment


def test_real_overrides_only_touch_declared_names(real_template: dict[str, Any]) -> None:
    poller = function_spec(real_template, "PollerFunction")
    env = apply_env_overrides(
        poller,
        {"Parameters": {"JOBS_TABLE": "t1", "NOT_DECLARED": "x"}, "PollerFunction": {"POLL_INTERVAL_SECONDS": 0}},
    )
    assert env["JOBS_TABLE"] == "t1"
    assert env["POLL_INTERVAL_SECONDS"] == "0"
    assert "NOT_DECLARED" not in env


def test_real_parameter_override(real_template: dict[str, Any]) -> None:
    poller = function_spec(real_template, "PollerFunction", parameter_overrides={"PollIntervalSeconds": "3"})
    assert poller.environment["POLL_INTERVAL_SECONDS"] == "3"


# ------------------------------------------------------------------------------------------------
# Sample events
# ------------------------------------------------------------------------------------------------


def test_poller_schedule_event() -> None:
    event = json.loads((EVENTS / "poller-schedule.json").read_text())
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:123456789012:rule/")


@pytest.mark.parametrize(
    ("name", "method", "route", "path_parameters"),
    [
        ("api-track-job.json", "POST", "/v1/jobs", {}),
        (
            "api-get-job.json",
            "GET",
            "/v1/jobs/{provider}/{video_id}",
            {"provider": "hingnet", "video_id": "video_abc123"},
        ),
        (
            "api-stop-job.json",
            "DELETE",
            "/v1/jobs/{provider}/{video_id}",
            {"provider": "hingnet", "video_id": "video_abc123"},
        ),
    ],
)
def test_api_events_are_http_api_v2(name: str, method: str, route: str, path_parameters: dict[str, str]) -> None:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    raw = json.loads((EVENTS / name).read_text())
    event = APIGatewayProxyEventV2(raw)
    assert event.version == "2.0"
    assert event.route_key == f"{method} {route}"
    assert event.http_method == method
    assert event.path_parameters == path_parameters
    assert event.request_context.authorizer.iam.account_id == "123456789012"
    assert event.request_context.authorizer.iam.user_arn.startswith("arn:aws:iam::123456789012:")
    assert raw["isBase64Encoded"] is False
    if method == "POST":
        assert event.headers["content-type"] == "application/json"
        assert event.json_body == {"provider": "hingnet", "video_id": "video_abc123", "metadata": {"order": "42"}}


def test_api_events_route_through_powertools_resolver() -> None:
    """The events reach the right route of an APIGatewayHttpResolver, as ApiFunction would route them."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    app = APIGatewayHttpResolver()

    @app.post("/v1/jobs")
    def track() -> dict[str, Any]:
        return {"route": "track", "body": app.current_event.json_body}

    @app.get("/v1/jobs/<provider>/<video_id>")
    def get(provider: str, video_id: str) -> dict[str, Any]:
        return {"route": "get", "id": [provider, video_id]}

    @app.delete("/v1/jobs/<provider>/<video_id>")
    def stop(provider: str, video_id: str) -> dict[str, Any]:
        return {"route": "stop", "id": [provider, video_id]}

    context: Any = local_invoke.LambdaContext("ApiFunction", 256, 10, "local")
    answers = {
        name: json.loads(app.resolve(json.loads((EVENTS / name).read_text()), context)["body"])
        for name in ("api-track-job.json", "api-get-job.json", "api-stop-job.json")
    }
    assert answers["api-track-job.json"]["route"] == "track"
    assert answers["api-track-job.json"]["body"]["video_id"] == "video_abc123"
    assert answers["api-get-job.json"] == {"route": "get", "id": ["hingnet", "video_abc123"]}
    assert answers["api-stop-job.json"] == {"route": "stop", "id": ["hingnet", "video_abc123"]}


# ------------------------------------------------------------------------------------------------
# Real invokes: the Lambda Runtime Interface Emulator running awslambdaric, on loopback
# ------------------------------------------------------------------------------------------------

# The emulator's own function ARN (its account and region are fixed, whatever the environment says).
EMULATOR_ARN = "arn:aws:lambda:us-east-1:012345678912:function:{}"


def _invoke(logical_id: str, event: dict[str, Any], **kwargs: Any) -> local_invoke.InvokeResult:
    return invoke(logical_id, event, template_path=FIXTURE_TEMPLATE, **kwargs)


def _gone(pid: int) -> bool:
    """No such process any more (or only its zombie, waiting for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_invoke_returns_env_context_and_remaining_time() -> None:
    result = _invoke(
        "EchoFunction",
        {"action": "echo", "n": 1},
        env_overrides={"Parameters": {"TABLE": "jobs-x", "UNDECLARED": "x"}, "EchoFunction": {"STAGE": "test"}},
        extra_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:5999"},
    )
    assert result.error is None, result.logs
    assert result.returncode == 0
    payload = result.payload
    assert payload["event"] == {"action": "echo", "n": 1}
    env = payload["env"]
    assert env["TABLE"] == "jobs-x"
    assert env["STAGE"] == "test"
    assert env["SHARED"] == "from-globals"
    assert "UNDECLARED" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"  # the template's Runtime, as Lambda names it
    assert env["_HANDLER"] == "app.lambda_handler"
    # the emulator's Runtime API, on loopback, is what awslambdaric talked to
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    # awslambdaric's context: the emulator's deadline (the function's 2 s Timeout) and request id
    assert 0 < payload["remaining_ms"] <= 2000
    assert payload["function_name"] == "EchoFunction"
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"] == EMULATOR_ARN.format("EchoFunction")
    assert payload["memory_limit_in_mb"] == "256"  # the runtime reads it from the environment: a string
    assert len(payload["aws_request_id"]) == 36
    assert payload["log_group_name"] == "/aws/lambda/EchoFunction"
    assert payload["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # Lambda's layout: the task root is the working directory and first on the path, then /opt/python with
    # the layers' code, then the runtime's packages
    assert payload["cwd"] == str(FIXTURES / "echo_fn")
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES / "echo_fn")
    assert payload["sys_path"][0] == str(FIXTURES / "echo_fn")
    opt_python = Path(payload["sys_path"][2])
    assert (opt_python.name, opt_python.parent.name) == ("python", "opt")
    assert payload["sys_path"][1] == str(
        opt_python / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    )
    assert payload["layer"] == "fixture-layer"
    assert Path(payload["layer_file"]).parent == opt_python
    assert payload["layer_real_file"] == str(FIXTURES / "layer" / "fixture_layer.py")  # linked, not copied
    assert str(REPO) not in payload["sys_path"]  # the repository (devtools, tests...) is not importable
    # What the handler printed is in the logs, not in the payload.
    assert "echo_fn handling echo" in result.logs
    assert "echo_fn handling" not in json.dumps(payload)
    assert f"START RequestId: {payload['aws_request_id']}" in result.logs
    assert f"END RequestId: {payload['aws_request_id']}" in result.logs
    assert "Memory Size: 256 MB" in result.logs  # the emulator's REPORT line
    assert _gone(payload["pid"])  # the runtime was stopped with the emulator


def test_each_invoke_is_cold_and_app_modules_stay_apart() -> None:
    first = _invoke("EchoFunction", {})
    other = _invoke("OtherFunction", {})
    second = _invoke("EchoFunction", {})
    assert first.payload["invocations"] == second.payload["invocations"] == 1
    assert first.payload["pid"] != second.payload["pid"]
    assert first.payload["file"] == str(FIXTURES / "echo_fn" / "app.py")
    assert other.payload == {
        "which": "other",
        "file": str(FIXTURES / "other_fn" / "app.py"),
        "function_name": "OtherFunction",
    }


def test_raising_handler_gives_the_runtimes_error_payload() -> None:
    result = _invoke("EchoFunction", {"action": "raise"})
    assert result.payload is None
    assert result.error is not None
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "boom from echo_fn"
    assert any("echo_fn/app.py" in line and "lambda_handler" in line for line in result.error["stackTrace"])
    assert not any("awslambdaric" in line for line in result.error["stackTrace"])  # the runtime's frames cut
    assert result.error["requestId"] in result.logs  # awslambdaric's document, for this invoke
    assert result.returncode == 1
    assert "[ERROR] ValueError: boom from echo_fn" in result.logs


def test_handler_past_its_timeout_is_stopped_by_the_emulator() -> None:
    # local_invoke's own kill deadline is pushed far out, so only the function's 2 s Timeout can end the invoke
    result = _invoke("EchoFunction", {"action": "sleep", "seconds": 30}, timeout=60)
    assert result.error is not None
    # the emulator's answer ("Task timed out after 2.00 seconds"), under Lambda's error type for it
    assert result.error["errorType"] == "Sandbox.Timedout"
    assert result.error["errorMessage"] == "Task timed out after 2.00 seconds"
    assert result.returncode == 1
    # the handler had started, and the emulator ended the invoke at 2 s, while it still slept
    assert result.logs.index("echo_fn handling sleep") < result.logs.index("END RequestId")
    assert "Duration: 2000.00 ms" in result.logs


def test_local_invoke_kills_an_emulator_past_the_given_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    result = _invoke("EchoFunction", {"action": "sleep", "seconds": 30, "pid_file": str(pid_file)}, timeout=1.5)
    assert result.error is not None
    # local_invoke's kill at the given 1.5 s, before the function's own 2 s Timeout could end it
    assert result.error["errorType"] == "Sandbox.Timedout"
    assert result.error["errorMessage"] == "Task timed out after 1.50 seconds (killed by local_invoke)"
    assert result.returncode == -signal.SIGKILL
    # neither the sleeping runtime nor the emulator outlived the invoke
    assert all(_gone(int(pid)) for pid in pid_file.read_text().split())


def test_an_invoke_that_fails_on_this_side_still_stops_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []

    def broken_post(port: int, body: bytes, deadline: float) -> Any:
        started.extend(lambda_emulator._live)
        raise RuntimeError("the invoker failed mid-invoke")

    monkeypatch.setattr(lambda_emulator, "_post", broken_post)
    with pytest.raises(RuntimeError, match="mid-invoke"):
        _invoke("EchoFunction", {})
    (process,) = started
    assert process.poll() is not None
    assert lambda_emulator._session_members(process.pid) == []
    assert process not in lambda_emulator._live


def test_a_port_taken_before_the_emulator_binds_it_means_other_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    real_free_ports = lambda_emulator.free_ports
    handed: list[list[int]] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()

        def first_one_taken(count: int) -> list[int]:
            ports = real_free_ports(count)
            if not handed:
                ports[0] = taken.getsockname()[1]  # someone else got there first
            handed.append(ports)
            return ports

        monkeypatch.setattr(lambda_emulator, "free_ports", first_one_taken)
        result = _invoke("EchoFunction", {"action": "echo"})
    assert result.error is None, result.logs
    assert len(handed) == 2
    assert "address already in use" not in result.logs  # the logs are the invoke that ran


def test_an_emulator_whose_invoker_was_killed_ends_by_itself(tmp_path: Path) -> None:
    """The safety net: coreutils' timeout ends each emulator a few seconds past the invoke's limit."""
    pid_file = tmp_path / "pid"
    script = (
        "from devtools.local_invoke import invoke\n"
        f"invoke('EchoFunction', {{'action': 'sleep', 'seconds': 60, 'pid_file': {str(pid_file)!r}}}, "
        f"template_path={str(FIXTURE_TEMPLATE)!r}, timeout=3)\n"
    )
    # its scratch directory (left behind: the invoker never gets to remove it) goes under tmp_path
    invoker = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or len(pid_file.read_text().split()) < 2:
            assert time.monotonic() < deadline and invoker.poll() is None
            time.sleep(0.05)
    finally:
        invoker.kill()  # no chance to stop its emulator
        invoker.wait()
    emulator = int(pid_file.read_text().split()[1])
    assert not _gone(emulator)
    deadline = time.monotonic() + 3 + lambda_emulator.OUTLIVE_S + lambda_emulator.STOP_TIMEOUT_S + 5
    while not _gone(emulator) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(emulator)


def test_threads_left_running_do_not_hold_the_invoke() -> None:
    # The handler leaves a thread sleeping 30 s; local_invoke would kill an emulator still waiting at 25 s
    result = _invoke("EchoFunction", {"action": "linger"}, timeout=25)
    assert result.error is None, result.logs
    assert result.returncode == 0, result.logs
    assert "END RequestId" in result.logs
    assert _gone(result.payload["pid"])


def test_runtime_errors() -> None:
    marshal = _invoke("EchoFunction", {"action": "unserializable"})
    assert marshal.error is not None
    assert marshal.error["errorType"] == "Runtime.MarshalError"
    exited = _invoke("EchoFunction", {"action": "exit"})
    assert exited.error is not None
    assert exited.error["errorType"] == "Runtime.ExitError"  # the emulator's own document
    assert "Runtime exited with error: exit status 3" in exited.error["errorMessage"]
    assert exited.returncode == 3
    missing = _invoke("MissingHandlerFunction", {})
    assert missing.error is not None
    assert missing.error["errorType"] == "Runtime.HandlerNotFound"
    assert missing.error["errorMessage"] == "Handler 'no_such_handler' missing on module 'app'"


def test_init_errors() -> None:
    raised = _invoke("BrokenInitFunction", {})
    assert raised.error is not None
    assert raised.error["errorType"] == "RuntimeError"
    assert raised.error["errorMessage"] == "broken_fn cannot start"
    assert any("broken_fn/app.py" in line for line in raised.error["stackTrace"])
    assert raised.error["requestId"] == ""  # posted to the init error endpoint, before any invoke
    # the runtime exits at import without posting anything: the emulator's log says what happened
    exited = _invoke("BrokenInitFunction", {}, env_overrides={"BrokenInitFunction": {"BROKEN_MODE": "exit"}})
    assert exited.error is not None
    assert exited.error["errorType"] == "Sandbox.Failure"
    assert exited.error["errorMessage"] == "Runtime exited with error: exit status 4"
    assert exited.returncode == 4


def test_a_missing_emulator_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(lambda_emulator.RIE_VARIABLE, str(tmp_path / "aws-lambda-rie"))
    with pytest.raises(lambda_emulator.EmulatorUnavailable, match=r"VIDEOHOOK_LAMBDA_RIE=.* is not an executable"):
        _invoke("EchoFunction", {})


def test_cli_prints_response_on_stdout_and_logs_on_stderr(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "echo"}))
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"EchoFunction": {"STAGE": "cli"}}))
    command = [sys.executable, "-m", "devtools.local_invoke", "EchoFunction", "-e", str(event)]
    command += ["--env-vars", str(env_vars), "-t", str(FIXTURE_TEMPLATE), "--parameter-overrides", "Interval=7"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["env"]["STAGE"] == "cli"
    assert payload["env"]["INTERVAL"] == "7"
    assert "echo_fn handling echo" in done.stderr
    assert "START RequestId" in done.stderr

    event.write_text(json.dumps({"action": "raise"}))
    failed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValueError"

    missing = {**os.environ, lambda_emulator.RIE_VARIABLE: str(tmp_path / "nothing")}
    unavailable = subprocess.run(
        command, cwd=REPO, env=missing, capture_output=True, text=True, timeout=60, check=False
    )
    assert unavailable.returncode == 2
    assert unavailable.stdout == ""
    assert unavailable.stderr.count("\n") == 1 and "is not an executable file" in unavailable.stderr
