"""`videohook` driven as a user would: its console script (.venv/bin/videohook, what `make setup` installs), a
real process per command, against a local stack that `videohook local up` runs in its own process (moto, the
simulated gateway, the API and the poller, all on 127.0.0.1), found through its state file. Track, watch to the
end, events tail, ls, get, redeliver, local env and secret, errors (one line, JSON under --json), Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from videohook_cli import main

from devtools.local_invoke import load_template
from devtools.webhook_receiver import WebhookReceiver
from tests.cli.conftest import START_TIMEOUT_S, Cli, LocalStack, cli_env

ROOT = Path(__file__).resolve().parents[2]
STATUS_LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] poller run (\d+): ")


def wait_for_line(stream: Any, needle: str, timeout: float) -> str:
    """Read lines from a child's pipe until one contains `needle` (bounded: the child has its own timeouts)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} within {timeout}s; got {''.join(seen)!r}")


def vid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def aws(stack: LocalStack, service: str):
    state = stack.state
    return boto3.client(
        service,
        endpoint_url=state["aws_endpoint_url"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def script(stack: LocalStack, provider: str, video: str, timeline: list[dict[str, Any]]) -> None:
    """Put `video` on a timeline of the test's own that moves by polls, not by seconds, so what the test does
    next decides when the video moves on, however slow the machine. The stack's gateway scripts an id at the
    first request about it (its own timeline, in seconds): make that request, then replace the timeline."""
    sim_url = stack.state["sim_url"]
    httpx.get(f"{sim_url}/{provider}/v1/videos/{video}", timeout=30)  # no token: it only makes the id known
    job = {"provider": provider, "video_id": video, "style": provider, "clock": "polls", "timeline": timeline}
    answer = httpx.post(f"{sim_url}/_sim/jobs", json=job, timeout=30)
    assert answer.status_code == 201, answer.text


def tail_queues(stack: LocalStack) -> list[str]:
    return aws(stack, "sqs").list_queues(QueueNamePrefix="videohook-tail-").get("QueueUrls", [])


def sqs_subscriptions(stack: LocalStack) -> list[dict]:
    answer = aws(stack, "sns").list_subscriptions_by_topic(TopicArn=stack.state["topic_arn"])
    return [s for s in answer["Subscriptions"] if s["Protocol"] == "sqs" and "videohook-tail-" in s["Endpoint"]]


def test_track_watch_and_tail_a_video_to_its_event(local_stack):
    cli = local_stack.cli
    video = vid("video_cli")
    # Given a tail of the topic, subscribed before anything happens
    tail = cli.start("events", "tail", "--json", "--count", "1", "--timeout", "90", "--filter", "provider=hingnet")
    try:
        wait_for_line(tail.stderr, "listening on", timeout=60)
        assert len(tail_queues(local_stack)) == 1

        # When a video is tracked and watched, and it completes only once watch has seen it in progress
        script(local_stack, "hingnet", video, [{"status": "in_progress", "progress": 40}])
        tracked = cli.json("track", "hingnet", video, "--meta", "order=42", "--meta", "team=a=b", "--duration", "6")
        watch = cli.start("watch", "hingnet", video, "--interval", "0.3", "--timeout", "120", "--json")
        try:
            assert watch.stdout is not None
            states: list[dict[str, Any]] = []
            ending = False
            for line in watch.stdout:  # each state watch prints, until it ends (bounded by its own --timeout)
                states.append(json.loads(line))
                if states[-1]["status"] == "in_progress" and not ending:
                    script(local_stack, "hingnet", video, [{"status": "completed"}])  # seen in progress: now end
                    ending = True
            watch_err = watch.stderr.read() if watch.stderr is not None else ""
            watch.wait(timeout=30)
        finally:
            if watch.poll() is None:
                watch.kill()

        # Then track answered the job, watch saw it through to completed, and the tail printed its event
        assert tracked["id"] == video and tracked["status"] == "queued"
        assert tracked["metadata"] == {"order": "42", "team": "a=b"}
        assert tracked["tracking"]["duration"] == 6
        assert watch.returncode == 0, watch_err
        assert states[-1]["status"] == "completed" and states[-1]["progress"] == 100
        assert states[-1]["video_url"].startswith("http://127.0.0.1:")
        assert "in_progress" in [state["status"] for state in states[:-1]]  # it watched the video progress
        out, err = tail.communicate(timeout=90)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["type"] == "video.completed" and event["object"] == "event"
    assert event["data"]["id"] == video and event["data"]["metadata"] == {"order": "42", "team": "a=b"}
    # And the temporary queue and its subscription are gone
    assert tail_queues(local_stack) == []
    assert sqs_subscriptions(local_stack) == []


def test_a_failing_video_is_watched_to_exit_code_3_and_listed(local_stack):
    cli = local_stack.cli
    video = vid("video_fail")
    assert cli.run("track", "skyengine", video).returncode == 0
    watched = cli.run("watch", "skyengine", video, "--interval", "0.3", "--timeout", "60")
    assert watched.returncode == 3, watched.stderr
    assert "failed" in watched.stdout.splitlines()[-1] and "generation_failed" in watched.stdout

    job = cli.json("get", "skyengine", video)
    assert job["status"] == "failed" and job["error"]["code"] == "generation_failed"
    listed = cli.json("ls")
    assert listed["object"] == "list" and video in [j["id"] for j in listed["data"]]
    assert video not in [j["id"] for j in cli.json("ls", "--pending")["data"]]
    human = cli.run("ls")
    assert human.returncode == 0 and human.stdout.startswith("PROVIDER") and video in human.stdout


def test_pending_lists_a_job_still_polled_and_stop_ends_it(local_stack):
    cli = local_stack.cli
    video = vid("video_stop")
    script(local_stack, "hingnet", video, [{"status": "in_progress", "progress": 40}])  # pending until stopped
    tracked = cli.json("track", "hingnet", video, "--progress-events")
    assert tracked["tracking"]["events"] == ["progress"]
    assert video in [j["id"] for j in cli.json("ls", "--pending")["data"]]
    stopped = cli.json("stop", "hingnet", video)
    assert stopped["tracking"]["active"] is False
    assert video not in [j["id"] for j in cli.json("ls", "--pending")["data"]]
    watched = cli.run("watch", "hingnet", video, "--interval", "0.2")
    assert watched.returncode == 1 and "stopped before it ended" in watched.stderr


def test_errors_are_one_line_with_honest_exit_codes(local_stack, tmp_path):
    cli = local_stack.cli
    missing = cli.run("get", "hingnet", "video_nobody_tracked")
    assert missing.returncode == 4
    assert missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("videohook: error: HTTP 404")

    refused = cli.run("track", "nosuchprovider", "v1")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "HTTP 400" in refused.stderr

    bad_usage = cli.run("track", "hingnet", "v1", "--duration", "-3")
    assert bad_usage.returncode == 2 and bad_usage.stdout == ""
    assert bad_usage.stderr == (
        "videohook: error: argument --duration: expected a positive integer, got '-3' (see `videohook track --help`)\n"
    )

    no_stack = Cli(cli_env(tmp_path / "none.json"), tmp_path).run("ls")
    assert no_stack.returncode == 1
    assert no_stack.stderr == (
        "videohook: error: no stack: pass --stack-name NAME (a deployed stack) or start one with `videohook local up`\n"
    )
    again = cli.run("local", "up", "--max-seconds", "5")
    assert again.returncode == 1 and "already running" in again.stderr


def test_tail_removes_its_queue_on_ctrl_c(local_stack):
    tail = local_stack.cli.start("events", "tail", "--timeout", "90")
    try:
        wait_for_line(tail.stderr, "listening on", timeout=60)
        assert len(tail_queues(local_stack)) == 1
        tail.send_signal(signal.SIGINT)
        _, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 130, err
    assert tail_queues(local_stack) == [] and sqs_subscriptions(local_stack) == []


def test_a_tracked_callback_gets_the_signed_webhook(local_stack):
    video = vid("video_hook")
    with WebhookReceiver() as receiver:
        tracked = local_stack.cli.json("track", "hingnet", video, "--callback", receiver.url("/hooks/videohook"))
        assert tracked["callback_url"] == receiver.url("/hooks/videohook")
        watched = local_stack.cli.run("watch", "hingnet", video, "--interval", "0.3", "--timeout", "60")
        assert watched.returncode == 0, watched.stderr
        deadline = time.monotonic() + 60
        while not receiver.received() and time.monotonic() < deadline:
            time.sleep(0.2)
        hooks = receiver.received("/hooks/videohook")
        assert len(hooks) == 1, (len(hooks), local_stack.log.read_text()[-5000:])
        (hook,) = hooks
    secrets = aws(local_stack, "secretsmanager")
    (entry,) = [e for e in secrets.list_secrets()["SecretList"] if e["Name"].startswith("videohook/webhook-signing")]
    secret = secrets.get_secret_value(SecretId=entry["ARN"])["SecretString"]
    event = hook.verify("whsec_" + secret)
    assert event["type"] == "video.completed" and event["data"]["id"] == video


def test_help_everywhere(capsys):
    for command in (
        [],
        ["track"],
        ["get"],
        ["stop"],
        ["redeliver"],
        ["ls"],
        ["watch"],
        ["events"],
        ["events", "tail"],
        ["local"],
        ["local", "up"],
        ["local", "down"],
        ["local", "env"],
        ["local", "secret"],
    ):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
        assert capsys.readouterr().out.startswith("usage: videohook"), command

    def help_of(*command: str) -> str:
        return Cli(cli_env(ROOT / "no-state.json"), ROOT).run(*command, "--help").stdout

    assert "130  interrupted (Ctrl-C)" in help_of("local", "up")
    assert "host.docker.internal" in help_of("local", "env") and "--docker-network host" in help_of("local", "env")
    assert "openai" in help_of("local", "secret") and "whsec_" in help_of("local", "secret")


# -- bad command lines: one line, exit 2, whatever else is (not) running -----------------------------------------
@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], "videohook: error: the following arguments are required: COMMAND (see `videohook --help`)"),
        (
            ["track"],
            "videohook: error: the following arguments are required: PROVIDER, VIDEO_ID (see `videohook track --help`)",
        ),
        (["nosuch"], "videohook: error: argument COMMAND: invalid choice: 'nosuch'"),
        (["ls", "--limit", "0"], "videohook: error: argument --limit: expected a positive integer, got '0'"),
        (["ls", "--bogus"], "videohook: error: unrecognized arguments: --bogus (see `videohook --help`)"),
        (["local"], "videohook: error: the following arguments are required: COMMAND (see `videohook local --help`)"),
        (
            ["events", "tail", "--filter", "colour=red"],
            "videohook: error: argument --filter: takes type=..., provider=... or status=..., not 'colour=red' "
            "(see `videohook events tail --help`)",
        ),
        (["events", "tail", "--filter", "type="], "videohook: error: argument --filter: takes type=..."),
        (["watch", "hingnet", "v", "--interval", "soon"], "videohook: error: argument --interval: expected seconds"),
        (["local", "up", "--api-port", "70000"], "videohook: error: argument --api-port: expected a port number"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_2(tmp_path, args, line):
    result = Cli(cli_env(tmp_path / "none.json"), tmp_path).run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(line), result.stderr


def test_json_errors_are_one_json_object_on_stderr(local_stack, tmp_path):
    cli = local_stack.cli
    missing = cli.run("get", "hingnet", "video_nobody_tracked", "--json")
    assert missing.returncode == 4 and missing.stdout == ""
    (line,) = missing.stderr.splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == "not_found" and error["exit_code"] == 4 and error["http_status"] == 404
    assert error["message"].startswith("HTTP 404: ") and error["api_error"]["code"] == "job_not_found"

    usage = cli.run("track", "hingnet", "v1", "--duration", "-3", "--json")
    assert usage.returncode == 2 and usage.stdout == ""
    assert json.loads(usage.stderr) == {
        "error": {
            "code": "usage",
            "message": "argument --duration: expected a positive integer, got '-3' (see `videohook track --help`)",
            "exit_code": 2,
        }
    }
    no_stack = Cli(cli_env(tmp_path / "none.json"), tmp_path).run("ls", "--json")
    assert no_stack.returncode == 1 and no_stack.stdout == ""
    assert json.loads(no_stack.stderr)["error"]["code"] == "error"
    bad_filter = cli.run("events", "tail", "--filter", "colour=red", "--json")
    assert bad_filter.returncode == 2 and json.loads(bad_filter.stderr)["error"]["code"] == "usage"


# -- redeliver, delivery outcomes in `get`, the local signing secret ----------------------------------------------
def test_redeliver_sends_the_final_event_again_and_get_shows_each_delivery(local_stack):
    cli = local_stack.cli
    video = vid("video_again")
    with WebhookReceiver() as receiver:
        callback = receiver.url("/hooks/again")
        assert cli.run("track", "hingnet", video, "--callback", callback).returncode == 0
        # Before the video ends there is nothing to redeliver: exit 1, one line naming the API's reason
        early = cli.run("redeliver", "hingnet", video)
        assert early.returncode == 1 and early.stdout == "" and early.stderr.count("\n") == 1
        assert early.stderr.startswith("videohook: error: HTTP 409: ") and "(job_not_finished)" in early.stderr
        watched = cli.run("watch", "hingnet", video, "--interval", "0.3", "--timeout", "60")
        assert watched.returncode == 0, watched.stderr
        first = wait_for_hooks(receiver, "/hooks/again", 1, local_stack)

        queued = cli.json("redeliver", "hingnet", video)
        assert queued["object"] == "webhook.redelivery" and queued["status"] == "queued"
        assert queued["callback_url"] == callback and queued["type"] == "video.completed"
        hooks = wait_for_hooks(receiver, "/hooks/again", 2, local_stack)
        assert hooks[1].headers["webhook-id"] == first[0].headers["webhook-id"] == queued["event_id"]

        # The human `get` shows each attempt: when, which event, the outcome and the receiver's answer
        shown = wait_for(lambda: cli.run("get", "hingnet", video).stdout, lambda out: out.count("delivered") >= 2)
        lines = [line for line in shown.splitlines() if queued["event_id"] in line]
        assert len(lines) == 2 and all("attempt 1  delivered (HTTP 200)" in line for line in lines), shown
        assert lines[0].startswith("  webhooks    ")
        human = cli.run("redeliver", "hingnet", video)
        assert human.returncode == 0 and human.stdout.startswith(f"queued video.completed {queued['event_id']} for ")

    no_callback = vid("video_nohook")
    assert cli.run("track", "hingnet", no_callback).returncode == 0
    refused = cli.run("redeliver", "hingnet", no_callback, "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stderr)["error"]["api_error"]["code"] == "no_callback_url"
    assert cli.run("redeliver", "hingnet", vid("video_never")).returncode == 4


def test_local_secret_verifies_the_local_webhooks(local_stack):
    cli = local_stack.cli
    printed = cli.run("local", "secret")
    assert printed.returncode == 0, printed.stderr
    secret = printed.stdout.strip()
    assert printed.stdout == secret + "\n" and secret.startswith("whsec_")
    assert "openai" in printed.stderr and "whsec_" in printed.stderr  # the note on the prefix, not on stdout
    as_json = cli.json("local", "secret")
    assert as_json["secret"] == secret and as_json["secret_arn"].startswith("arn:aws:secretsmanager:")
    stored = aws(local_stack, "secretsmanager").get_secret_value(SecretId=as_json["secret_arn"])["SecretString"]
    assert secret == "whsec_" + stored

    video = vid("video_signed")
    with WebhookReceiver() as receiver:
        assert cli.run("track", "skyengine", video, "--callback", receiver.url("/hooks/signed")).returncode == 0
        assert cli.run("watch", "skyengine", video, "--interval", "0.3", "--timeout", "60").returncode == 0
        (hook,) = wait_for_hooks(receiver, "/hooks/signed", 1, local_stack)
    assert hook.verify(secret)["data"]["id"] == video  # standardwebhooks, with the printed value as is


# -- the --env-vars file for the running stack --------------------------------------------------------------------
def declared_variables() -> dict[str, set[str]]:
    """Per function of template.yaml: the variables it declares (Globals' and its own), as SAM merges them."""
    template = load_template(ROOT / "template.yaml")
    globals_ = set(template["Globals"]["Function"]["Environment"]["Variables"])
    return {
        name: globals_ | set(((resource["Properties"].get("Environment") or {}).get("Variables")) or {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


# Until template.yaml declares boto3's AWS_ENDPOINT_URL (Globals), --env-vars cannot point a function at moto.
def test_local_env_names_only_declared_variables_and_points_at_the_local_stack(local_stack):
    printed = local_stack.cli.run("local", "env")
    assert printed.returncode == 0, printed.stderr
    env_vars = json.loads(printed.stdout)
    state = local_stack.state
    declared = declared_variables()
    # Every function of the template has its section, naming only variables the template declares for it
    assert set(env_vars) == set(declared)
    for function, variables in env_vars.items():
        assert set(variables) <= declared[function], (function, set(variables) - declared[function])
        assert all(isinstance(value, str) for value in variables.values())
    # ... and every one of them points at this stack: boto3's endpoint (moto), the table, topic, providers, secrets
    for function in env_vars:
        assert env_vars[function]["AWS_ENDPOINT_URL"] == state["aws_endpoint_url"], function
        assert env_vars[function]["JOBS_TABLE"] == state["table_name"], function
    for function in ("PollerFunction", "PollerWorkerFunction", "ArchiveFunction"):
        assert env_vars[function]["EVENTS_TOPIC_ARN"] == state["topic_arn"]
    for function in ("PollerFunction", "PollerWorkerFunction", "ArchiveFunction", "ApiFunction"):
        providers = json.loads(env_vars[function]["PROVIDERS"])
        assert set(providers) == {"hingnet", "skyengine", "replicate", "kling"}
        assert all(p["base_url"].startswith(state["sim_url"] + "/") for p in providers.values())
        secrets = aws(local_stack, "secretsmanager")
        for provider in providers.values():  # the tokens are in the local Secrets Manager
            assert secrets.get_secret_value(SecretId=provider["api_key_secret"])["SecretString"]
    webhook = env_vars["WebhookFunction"]
    assert aws(local_stack, "secretsmanager").describe_secret(SecretId=webhook["WEBHOOK_SECRET_ARN"])["Name"]
    assert webhook["WEBHOOK_QUEUE_URL"].startswith(state["aws_endpoint_url"] + "/")
    assert env_vars["ApiFunction"]["WEBHOOK_QUEUE_URL"] == webhook["WEBHOOK_QUEUE_URL"]
    aws(local_stack, "s3").head_bucket(Bucket=env_vars["ArchiveFunction"]["ARCHIVE_BUCKET"])

    # --docker: the same file, the host as a container sees it
    docker = json.loads(local_stack.cli.run("local", "env", "--docker").stdout)
    assert set(docker) == set(env_vars) and all(set(docker[f]) == set(env_vars[f]) for f in env_vars)
    assert "127.0.0.1" not in json.dumps(docker)
    assert docker["ApiFunction"]["AWS_ENDPOINT_URL"] == state["aws_endpoint_url"].replace(
        "127.0.0.1", "host.docker.internal"
    )


def docker_free_invoke(local_stack, tmp_path: Path, function: str, event: str) -> subprocess.CompletedProcess[str]:
    """The README's way: `videohook local env > env.json`, then local_invoke with --env-vars env.json, from a
    user's shell (no AWS settings but throwaway credentials: moto takes any; no real AWS is reached)."""
    env_file = tmp_path / "env.json"
    printed = local_stack.cli.run("local", "env")
    assert printed.returncode == 0, printed.stderr
    env_file.write_text(printed.stdout)
    env = cli_env(local_stack.state_file, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    result = subprocess.run(
        [sys.executable, "-m", "devtools.local_invoke", function, "-e", f"events/{event}", "--env-vars", str(env_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_the_docker_free_invoke_runs_a_function_against_the_local_stack(local_stack, tmp_path):
    """The README's line: `videohook local env > env.json`, then local_invoke with --env-vars env.json."""
    result = docker_free_invoke(local_stack, tmp_path, "ApiFunction", "api-track-job.json")
    answer = json.loads(result.stdout)
    assert answer["statusCode"] in (200, 201), answer
    tracked = json.loads(answer["body"])
    # The job is in the local stack's table: the stack's own `ls` lists it
    listed = local_stack.cli.json("ls", "--limit", "1000")
    assert (tracked["provider"], tracked["id"]) in [(job["provider"], job["id"]) for job in listed["data"]]


SAMPLE_EVENTS = {
    "poller-schedule.json": "PollerFunction",
    "poller-worker-shards.json": "PollerWorkerFunction",
    "api-track-job.json": "ApiFunction",
    "api-get-job.json": "ApiFunction",
    "api-redeliver-job.json": "ApiFunction",
    "api-stop-job.json": "ApiFunction",
    "webhook-sqs.json": "WebhookFunction",
    "archive-completed.json": "ArchiveFunction",  # its content_url is not on the local provider: refused, no fetch
    "inbound-callback.json": "InboundFunction",  # a signed callback (Replicate, Standard Webhooks): refused here
    "inbound-token-callback.json": "InboundFunction",  # a path-token callback (Luma)
}


def test_every_sample_event_is_one_of_these():
    assert sorted(SAMPLE_EVENTS) == sorted(path.name for path in (ROOT / "events").glob("*.json"))


@pytest.mark.parametrize(("event", "function"), sorted(SAMPLE_EVENTS.items()))
def test_every_function_runs_docker_free_on_its_sample_event_with_the_generated_env_file(
    local_stack, tmp_path, event, function
):
    """`videohook local env > env.json`, then each function from its events/*.json through devtools.local_invoke
    (AWS's runtime emulator and awslambdaric), against the local stack: an answer, not an error."""
    result = docker_free_invoke(local_stack, tmp_path, function, event)
    answer = json.loads(result.stdout)
    assert "errorType" not in answer, answer
    if function == "ApiFunction":
        assert answer["statusCode"] < 500, answer
    if function in ("WebhookFunction", "ArchiveFunction"):
        assert answer == {"batchItemFailures": []}, answer


# -- `local up`: quiet, and Ctrl-C is exit 130 ---------------------------------------------------------------------
def test_local_up_is_quiet_one_status_line_per_poller_run_at_most(local_stack):
    """By now the stack has run hundreds of poller runs and delivered webhooks: after its banner, only status lines,
    each for a different run, and no metric blob (EMF: `"_aws"`) nor traceback."""
    log = local_stack.log.read_text()
    assert '"_aws"' not in log and "Traceback" not in log
    banner, _, rest = log.partition("  videohook track hingnet video_demo_1 && videohook watch hingnet video_demo_1\n")
    assert banner.startswith("videohook local stack (pid ")
    lines = rest.splitlines()
    runs = [STATUS_LINE.match(line) for line in lines]
    assert all(runs), [line for line, run in zip(lines, runs, strict=True) if not run]
    numbers = [int(run.group(1)) for run in runs if run]
    assert len(numbers) == len(set(numbers))


def test_local_up_exits_130_on_ctrl_c_and_removes_its_state(tmp_path):
    state_file = tmp_path / "stack.json"
    cli = Cli(cli_env(state_file), tmp_path)
    process = cli.start("local", "up", "--max-seconds", "300")
    try:
        assert process.stdout is not None
        wait_for_line(process.stdout, "videohook track hingnet video_demo_1", timeout=START_TIMEOUT_S)
        assert state_file.exists()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, err
    assert out.endswith("stopping the local stack (interrupted)\n") and err == ""
    assert not state_file.exists()
    after = cli.run("ls")
    assert after.returncode == 1 and after.stderr.startswith("videohook: error: no stack: ")


def wait_for(read: Any, done: Any, timeout: float = 60) -> Any:
    """`read()` until `done(value)`, bounded by `timeout` (no speed asserted: the bound only ends a hung test)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    assert done(value), value
    return value


def wait_for_hooks(receiver: WebhookReceiver, path: str, count: int, stack: LocalStack) -> list[Any]:
    hooks = wait_for(lambda: receiver.received(path), lambda hooks: len(hooks) >= count)
    assert len(hooks) == count, (len(hooks), stack.log.read_text()[-3000:])
    return hooks
