"""`videohook` driven as a user would: a real process per command, against a local stack that
`videohook local up` runs in its own process (moto, the simulated gateway, the API and the poller, all on
127.0.0.1), found through its state file. Track, watch to the end, events tail, ls, get, errors, --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from videohook_cli import main

from devtools.webhook_receiver import WebhookReceiver


def interruptible() -> None:
    """In the child, before exec: Ctrl-C (SIGINT) back to its default, so the program sees KeyboardInterrupt even
    when this test runs where SIGINT is ignored (a shell's background job ignores it, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 60


def cli_env(state_file: Path, **extra: str) -> dict[str, str]:
    """A user's environment: the packages importable (as `pip install -e .` makes them), no AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT / "cli")]),
            "VIDEOHOOK_STATE_FILE": str(state_file),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "videohook_cli", *args]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def start(self, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
        """A long-running command; its output to pipes, or both streams to `log` (never a full pipe)."""
        out: Any = subprocess.PIPE if log is None else log.open("w")
        return subprocess.Popen(
            self.argv(*args),
            env=self.env,
            cwd=self.cwd,
            stdout=out,
            stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
            text=True,
            preexec_fn=interruptible,  # noqa: PLW1509 (a single signal call, before exec)
        )


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


@dataclass
class LocalStack:
    cli: Cli
    process: subprocess.Popen[str]
    state_file: Path
    log: Path

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    home = tmp_path_factory.mktemp("cli")
    state_file = home / "local-stack.json"
    # Run from an unrelated directory: `local up` must find the checkout by itself.
    cli = Cli(cli_env(state_file), cwd=home)
    log = home / "local-up.log"
    # --max-seconds: only a safety net (the fixture stops the stack with `local down`), generous for a loaded machine
    process = cli.start("local", "up", "--sim-seconds", "3", "--poll-every", "0.5", "--max-seconds", "900", log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not state_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"local up did not start (exit {process.poll()}): {log.read_text()}")
            time.sleep(0.1)
        yield LocalStack(cli, process, state_file, log)
        # Then `local down` stops it cleanly: exit 0, state file removed
        down = cli.run("local", "down")
        assert down.returncode == 0, down.stderr
        assert process.wait(timeout=30) == 0, log.read_text()
        assert not state_file.exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
    assert bad_usage.returncode == 2 and "positive integer" in bad_usage.stderr

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
        ["ls"],
        ["watch"],
        ["events"],
        ["events", "tail"],
        ["local"],
        ["local", "up"],
        ["local", "down"],
    ):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
        assert capsys.readouterr().out.startswith("usage: videohook"), command
