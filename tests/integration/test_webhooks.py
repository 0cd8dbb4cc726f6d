"""Webhooks end to end over real HTTP on loopback: EventsTopic -> WebhookQueue (moto, raw delivery) ->
WebhookFunction (invoked from template.yaml with SQS events built from the messages moto handed out, as the
event source mapping would) -> receivers on 127.0.0.1 that verify the signature with `standardwebhooks`."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends
from standardwebhooks import Webhook
from videohook.adapters.job_store import DynamoJobStore
from videohook.domain.events import event_id, event_message, pending_event_for
from videohook.domain.models import Job, VideoStatus

from devtools.local_aws import receive_all
from devtools.local_invoke import LOCAL_REGION
from devtools.local_webhooks import LocalWebhooks, PumpResult, deploy_webhooks, pump
from devtools.tls_certs import make_tls_files
from devtools.webhook_receiver import ReceiverAnswer, WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "arn:aws:iam::123456789012:user/videohook-client"  # the caller of events/api-*.json (deployed.api)
SCHEDULE = (0, 1, 2)  # compressed: three attempts, the second 1 s after the first, the third 2 s later
TIMEOUT_S = 5.0  # generous: a loopback receiver on a loaded machine must never look slow


@pytest.fixture
def webhooks(deployed) -> LocalWebhooks:
    hooks = deploy_webhooks(
        deployed.endpoint,
        deployed.stack.topic_arn,
        template_path=str(ROOT / "template.yaml"),
        suffix=deployed.stack.suffix,
        retry_schedule=",".join(map(str, SCHEDULE)),
    )
    deployed.variables.update(hooks.variables(), WEBHOOK_TIMEOUT_SECONDS=str(TIMEOUT_S))
    return hooks


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def deliver(deployed, webhooks: LocalWebhooks, **variables: str) -> PumpResult:
    """One poll of the event source mapping; the function must not error."""
    result = pump(webhooks, env_overrides=deployed.env_overrides(**variables))
    assert result.result is None or result.result.error is None, result.logs
    return result


def store(deployed) -> DynamoJobStore:
    dynamodb = boto3.client("dynamodb", endpoint_url=deployed.endpoint)
    return DynamoJobStore(dynamodb, deployed.stack.table_name, due_shards=16, retention_s=86400)


def publish(deployed, callback_url: str, video_id: str | None = None) -> str:
    """Store a finished job and publish its event to EventsTopic exactly as the poller does; return the body.
    (WebhookFunction delivers only events of stored jobs.)"""
    job = Job(
        "hingnet",
        video_id or f"video_{uuid.uuid4().hex[:10]}",
        status=VideoStatus.COMPLETED,
        progress=100,
        callback_url=callback_url,
        active=False,
        tracked_at=int(time.time()),
        last_polled_at=int(time.time()),
        owner=CLIENT,
    )
    assert store(deployed).create(job)[1]
    body, attributes = event_message(job, pending_event_for(job, int(time.time())))
    boto3.client("sns", endpoint_url=deployed.endpoint).publish(
        TopicArn=deployed.stack.topic_arn,
        Message=body,
        MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
    )
    return body


def seconds_until_visible(queue_url: str) -> list[float]:
    """For each message in the queue, how long until SQS hands it out again (read from moto's own state:
    the moto server runs in this process)."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][LOCAL_REGION].queues[queue_url.rsplit("/", 1)[-1]]
    now_ms = time.time() * 1000
    return [max(0.0, (message.visible_at - now_ms) / 1000) for message in queue._messages]


def visible_at(queue_url: str) -> list[float]:
    """For each message in the queue, when (epoch seconds) SQS hands it out again, from moto's own state."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][LOCAL_REGION].queues[queue_url.rsplit("/", 1)[-1]]
    return [message.visible_at / 1000 for message in queue._messages]


def set_between(moments: list[float], delay_s: float, started: float, ended: float) -> bool:
    """Each moment is `delay_s` after some instant of [started, ended] (the attempt that set it): an ordering
    of moments, whatever the time between the attempt and this check (1 ms for moto's rounding)."""
    return bool(moments) and all(started + delay_s - 0.001 <= m <= ended + delay_s + 0.001 for m in moments)


def wait_visible(queue_url: str, limit_s: float = 60.0) -> None:
    """Bounded wait until every message is visible again (generous: a loaded machine is slow)."""
    deadline = time.monotonic() + limit_s
    while any(seconds_until_visible(queue_url)):
        assert time.monotonic() < deadline, f"messages still invisible after {limit_s:g} s"
        time.sleep(0.1)


def job_deliveries(deployed, provider: str, video_id: str) -> list[dict]:
    status, job = deployed.api("GET", f"/v1/jobs/{provider}/{video_id}")
    assert status == 200, job
    return job["tracking"]["deliveries"]


def test_finished_job_gets_a_signed_webhook_and_a_replay_with_the_same_id(deployed, sim, webhooks, receiver):
    # Given a job tracked with a callback URL on a local receiver, and one without
    video_id, quiet_id = f"video_{uuid.uuid4().hex[:10]}", f"video_{uuid.uuid4().hex[:10]}"
    for vid in (video_id, quiet_id):
        sim.add_job("hingnet", vid, "hingnet", [{"status": "in_progress", "progress": 50}, {"status": "completed"}])
    url = receiver.url("/hooks/videohook?tenant=42")
    assert (
        deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video_id, "callback_url": url})[0] == 201
    )
    assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": quiet_id})[0] == 201
    logs = []

    # When the poller sees both finish and the webhook function takes the events from its queue
    for _ in range(3):
        deployed.poll()
        logs.append(deployed.last_logs)
    sending_from = int(time.time())
    first = deliver(deployed, webhooks)
    sent_by = time.time()
    logs.append(first.logs)

    # Then the receiver got one POST: the exact event body, signed per Standard Webhooks
    assert len(first.received) == 2 and first.failures == []
    (hook,) = receiver.received("/hooks/videohook")
    expected_id = event_id("hingnet", video_id, VideoStatus.COMPLETED)
    sent_body = next(m["Body"] for m in first.received if json.loads(m["Body"])["data"]["id"] == video_id)
    assert hook.body == sent_body.encode()
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["webhook-id"] == expected_id
    assert hook.headers["webhook-signature"].startswith("v1,")
    assert sending_from <= int(hook.headers["webhook-timestamp"]) <= sent_by  # signed when it was sent
    assert hook.verify("whsec_" + webhooks.secret)["id"] == expected_id  # the standardwebhooks library
    assert hook.verify(webhooks.secret)["data"]["id"] == video_id  # the bare secret works too
    assert hook.headers["host"] == f"127.0.0.1:{receiver.port}"
    # and the job shows the attempt; the queue is empty; nothing was dead-lettered
    (attempt,) = job_deliveries(deployed, "hingnet", video_id)
    assert attempt["event_id"] == expected_id and attempt["attempt"] == 1
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200 and attempt["error"] is None
    assert job_deliveries(deployed, "hingnet", quiet_id) == []
    assert seconds_until_visible(webhooks.queue_url) == []
    assert receive_all(deployed.endpoint, webhooks.dead_letter_queue_url, wait_s=0) == []

    # When the caller asks for a replay
    status, queued = deployed.api("POST", f"/v1/jobs/hingnet/{video_id}/redeliver")
    assert status == 202, queued
    assert queued["event_id"] == expected_id and queued["status"] == "queued"
    replay = deliver(deployed, webhooks)
    logs.append(replay.logs)

    # Then the same event (same webhook-id, same body) arrives again, freshly signed
    first_hook, second_hook = receiver.received("/hooks/videohook")
    assert second_hook.headers["webhook-id"] == expected_id
    assert second_hook.body == first_hook.body
    assert second_hook.verify("whsec_" + webhooks.secret)["id"] == expected_id
    assert [a["outcome"] for a in job_deliveries(deployed, "hingnet", video_id)] == ["delivered", "delivered"]

    # and a replay of a job without callback, of an unfinished or unknown job, is refused
    assert deployed.api("POST", f"/v1/jobs/hingnet/{quiet_id}/redeliver")[1]["error"]["code"] == "no_callback_url"
    assert deployed.api("POST", "/v1/jobs/hingnet/video_unknown/redeliver")[0] == 404
    running = f"video_{uuid.uuid4().hex[:10]}"
    sim.add_job("hingnet", running, "hingnet", [{"status": "in_progress", "progress": 5}])
    deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": running, "callback_url": url})
    status, error = deployed.api("POST", f"/v1/jobs/hingnet/{running}/redeliver")
    assert (status, error["error"]["code"]) == (409, "job_not_finished")

    # and the signing secret appears in no log line and no stored item
    everything = "\n".join(logs) + json.dumps(deployed.items(), default=str)
    assert webhooks.secret not in everything
    assert "webhook delivered" in first.logs


def test_each_answer_gets_its_rule(deployed, webhooks, receiver, tmp_path):
    # Given receivers that answer 200, 500, 410, 301 (to a path that would answer 200), and too slowly,
    # and one with a certificate nobody trusts
    receiver.script("/ok", [ReceiverAnswer(200)])
    receiver.script("/error", [ReceiverAnswer(500)])
    receiver.script("/gone", [ReceiverAnswer(410)])
    receiver.script("/moved", [ReceiverAnswer(301, {"location": receiver.url("/ok")})])
    receiver.script("/slow", [ReceiverAnswer(200, delay_s=TIMEOUT_S + 5)])  # cannot answer before the timeout
    with WebhookReceiver(tls=make_tls_files(tmp_path)) as untrusted:
        bodies = {path: publish(deployed, receiver.url(path)) for path in ("/ok", "/error", "/gone", "/moved", "/slow")}
        bodies["/tls"] = publish(deployed, untrusted.url("/tls", host="localhost"))

        # When the webhook function takes them all in one batch
        result = deliver(deployed, webhooks)

        # Then only 2xx and 410 end the delivery; the rest stay queued for the next attempt
        assert len(result.received) == 6
        by_path = {path: json.loads(body)["id"] for path, body in bodies.items()}
        failed_ids = {json.loads(m["Body"])["id"] for m in result.received if m["MessageId"] in result.failures}
        assert failed_ids == {by_path[p] for p in ("/error", "/moved", "/slow", "/tls")}
        # the redirect was not followed
        assert [h.path for h in receiver.received()].count("/ok") == 1
        assert len(receiver.received("/moved")) == 1
        # the slow receiver was given up on, the untrusted certificate refused before any request was sent
        assert untrusted.connections >= 1 and untrusted.received() == []
    logs = result.logs
    assert f"timeout: no answer within {TIMEOUT_S:g} s" in logs
    assert "TLS certificate rejected" in logs
    assert "HTTP 301: redirects are not followed" in logs
    assert "410 Gone" in logs
    # and the failed ones stay queued to come back after the schedule's second delay (not the queue's 24 min)
    delays = seconds_until_visible(webhooks.queue_url)
    assert len(delays) == 4 and all(delay <= SCHEDULE[1] for delay in delays), delays
    assert webhooks.secret not in logs


def test_retries_follow_the_schedule_then_the_dead_letter_queue(deployed, webhooks, receiver):
    # Given a receiver that fails twice then accepts, and one that always fails
    receiver.script("/flaky", [ReceiverAnswer(500), ReceiverAnswer(503), ReceiverAnswer(200)])
    receiver.script("/down", [ReceiverAnswer(500)])
    flaky = json.loads(publish(deployed, receiver.url("/flaky")))["id"]
    down = json.loads(publish(deployed, receiver.url("/down")))["id"]

    # When the event source mapping polls as the messages become visible
    delays_after_attempt, attempts = [], []
    for attempt in range(1, len(SCHEDULE) + 1):
        wait_visible(webhooks.queue_url)
        started = time.time()
        result = deliver(deployed, webhooks)
        attempts.append((started, time.time(), visible_at(webhooks.queue_url)))
        counts = {m["Attributes"]["ApproximateReceiveCount"] for m in result.received}
        assert counts == {str(attempt)}, (attempt, counts)
        delays_after_attempt.append(sorted(seconds_until_visible(webhooks.queue_url), reverse=True))

    # Then each failed attempt set the message's visibility to the schedule's next delay (visible again that
    # long after a moment of the attempt), the last to 0
    for (started, ended, visible), delay in zip(attempts[:2], SCHEDULE[1:], strict=True):
        assert set_between(visible, delay, started, ended), (delay, started, ended, visible)
    assert delays_after_attempt[2] == [0.0]  # only "down" is left, visible at once for the redrive
    # and the flaky receiver got the same webhook-id three times and accepted the third
    assert [h.headers["webhook-id"] for h in receiver.received("/flaky")] == [flaky] * 3
    assert len(receiver.received("/down")) == len(SCHEDULE)
    # and after the last attempt SQS moves the message to the dead-letter queue at its next receive
    assert deliver(deployed, webhooks).received == []
    (dead,) = receive_all(deployed.endpoint, webhooks.dead_letter_queue_url, wait_s=30, expect=1)
    assert dead["body"]["id"] == down
    assert seconds_until_visible(webhooks.queue_url) == []


def test_retry_after_of_a_throttling_answer_is_honoured(deployed, webhooks, receiver):
    receiver.script("/busy", [ReceiverAnswer(429, {"retry-after": "7"})])
    publish(deployed, receiver.url("/busy"))
    started = time.time()
    result = deliver(deployed, webhooks)
    ended = time.time()
    assert len(result.failures) == 1
    # the schedule said 1 s; the receiver asked for 7: visible again 7 s after a moment of the attempt
    assert set_between(visible_at(webhooks.queue_url), 7, started, ended), visible_at(webhooks.queue_url)


FORBIDDEN_HOSTS = [
    "127.0.0.1",  # loopback (the development flag is off here)
    "127.9.9.9",
    "localhost",  # a name that resolves to loopback
    "[::1]",
    "0.0.0.0",  # unspecified: would reach this machine
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
    "[::ffff:10.0.0.1]",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # instance metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",  # multicast
    "[fd00::1]",  # unique-local
    "[fe80::1]",  # link-local
    "[64:ff9b::a9fe:a9fe]",  # NAT64 form of 169.254.169.254
    "[2002:7f00:1::1]",  # 6to4 form of 127.0.0.1
]


def test_every_forbidden_address_is_refused_without_a_connection(deployed, webhooks, receiver):
    # Given events whose callback URLs name forbidden addresses on the receiver's port
    bodies = {host: publish(deployed, f"http://{host}:{receiver.port}/steal") for host in FORBIDDEN_HOSTS}

    # When the webhook function runs with the development flag off (as deployed)
    logs = ""
    for _ in range(3):
        result = deliver(deployed, webhooks, ALLOW_LOOPBACK_CALLBACKS="false")
        logs += result.logs
        assert result.failures == []  # a refused destination is not retried
        if not result.received:
            break

    # Then nothing connected to the receiver, and each refusal has a clear log line
    assert receiver.connections == 0 and receiver.received() == []
    refusals = [json.loads(line) for line in logs.splitlines() if "webhook refused" in line]
    assert sorted(line["event_id"] for line in refusals) == sorted(json.loads(b)["id"] for b in bodies.values())
    reasons = {line["host"]: line["reason"] for line in refusals}
    assert reasons["169.254.169.254"].startswith("link-local")
    assert reasons["100.64.0.1"] == "carrier-grade NAT"
    assert reasons["localhost"].startswith("loopback")
    assert reasons["64:ff9b::a9fe:a9fe"].startswith("NAT64 form of 169.254.169.254")
    assert reasons["::ffff:127.0.0.1"].startswith("IPv4-mapped form of 127.0.0.1")
    assert all("no connection made" in line["message"] and "/steal" not in line["message"] for line in refusals)
    assert seconds_until_visible(webhooks.queue_url) == []


# -- only what the stored job says is delivered ---------------------------------------------------------------
class TargetRecorder:
    """A receiver on 127.0.0.1 that records each request's full target (path and query string), which
    WebhookReceiver leaves out; answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{target}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def send_to_queue(webhooks: LocalWebhooks, event: dict) -> None:
    """What anyone allowed sqs:SendMessage on WebhookQueue could send."""
    boto3.client("sqs", endpoint_url=webhooks.endpoint_url).send_message(
        QueueUrl=webhooks.queue_url, MessageBody=json.dumps(event)
    )


def publish_raw(deployed, event: dict) -> None:
    """What anyone allowed sns:Publish on EventsTopic could publish."""
    boto3.client("sns", endpoint_url=deployed.endpoint).publish(
        TopicArn=deployed.stack.topic_arn, Message=json.dumps(event)
    )


def deliver_all(deployed, webhooks: LocalWebhooks, rounds: int = 4) -> str:
    logs = ""
    for _ in range(rounds):
        result = deliver(deployed, webhooks)
        logs += result.logs
        if not result.received:
            break
    return logs


def test_forged_messages_are_not_signed_or_sent_and_the_stored_event_goes_to_the_stored_url(deployed, sim, webhooks):
    # Given a job tracked with a token in its callback URL, finished by the poller, and a job still running
    genuine, attacker = TargetRecorder(), WebhookReceiver().start()
    try:
        done, running = f"video_{uuid.uuid4().hex[:10]}", f"video_{uuid.uuid4().hex[:10]}"
        sim.add_job("hingnet", done, "hingnet", [{"status": "in_progress", "progress": 50}, {"status": "completed"}])
        sim.add_job("hingnet", running, "hingnet", [{"status": "in_progress", "progress": 5}])
        url = genuine.url("/hooks/genuine?token=s3cr3t-receiver-token")
        for video in (done, running):
            assert (
                deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video, "callback_url": url})[0]
                == 201
            )
        subscriber = deployed.queue("sub-" + uuid.uuid4().hex[:6])
        for _ in range(3):
            deployed.poll()
        (announced,) = [m["body"] for m in deployed.drain(subscriber)]
        # the topic's subscribers see the callback URL without its token
        assert announced["data"]["id"] == done
        assert announced["data"]["callback_url"] == genuine.url("/hooks/genuine")

        # And forged messages, on the queue and on the topic: an unknown job's event to the attacker, the real
        # event's id with a changed payload and the attacker's URL, its id under another type, and a final
        # event of the job still running
        changed = {
            **announced,
            "created_at": 1,
            "data": {**announced["data"], "callback_url": attacker.url("/x"), "video_url": "https://evil.test/a.mp4"},
        }
        unknown = {**changed, "id": "evt_" + "f" * 32, "data": {**changed["data"], "id": "video_never_tracked"}}
        retyped = {**announced, "type": "video.failed", "data": {**announced["data"], "status": "failed"}}
        not_done = {
            **changed,
            "id": event_id("hingnet", running, VideoStatus.COMPLETED),
            "data": {**changed["data"], "id": running},
        }
        send_to_queue(webhooks, changed)
        send_to_queue(webhooks, unknown)
        publish_raw(deployed, retyped)
        publish_raw(deployed, not_done)

        # When WebhookFunction takes everything on its queue
        logs = deliver_all(deployed, webhooks)

        # Then nothing reached the attacker's receiver
        assert attacker.connections == 0 and attacker.received() == []
        # and the genuine receiver got only the stored job's event, at the stored URL (token included), signed:
        # once as announced, once for the forged message that named that very event (a replay of it, no more)
        assert len(genuine.requests) == 2
        for target, headers, body in genuine.requests:
            assert target == "/hooks/genuine?token=s3cr3t-receiver-token"
            assert json.loads(body) == announced
            assert Webhook(webhooks.secret).verify(body, headers)["id"] == announced["id"]
        # and the three messages naming no stored event were dropped with a log line each, nothing recorded
        dropped = [json.loads(line) for line in logs.splitlines() if "dropped, nothing sent" in line]
        assert sorted(line["event_id"] for line in dropped) == sorted([unknown["id"], retyped["id"], not_done["id"]])
        assert {line["outcome"] for line in dropped} == {"unmatched"}
        assert [a["outcome"] for a in job_deliveries(deployed, "hingnet", done)] == ["delivered", "delivered"]
        assert job_deliveries(deployed, "hingnet", running) == []
        assert "s3cr3t-receiver-token" not in logs and webhooks.secret not in logs
        assert seconds_until_visible(webhooks.queue_url) == []
    finally:
        genuine.stop()
        attacker.stop()


def test_a_progress_webhook_is_the_jobs_current_progress_and_a_late_one_is_dropped(deployed, sim, webhooks, receiver):
    # Given a job that asked for progress events, with a callback URL
    video = f"video_{uuid.uuid4().hex[:10]}"
    sim.add_job("hingnet", video, "hingnet", [{"status": "in_progress", "progress": 20}, {"status": "completed"}])
    url = receiver.url("/hooks/progress")
    body = {"provider": "hingnet", "video_id": video, "callback_url": url, "events": ["progress"]}
    assert deployed.api("POST", "/v1/jobs", body)[0] == 201
    subscriber = deployed.queue("sub-" + uuid.uuid4().hex[:6], {"type": ["video.progress"]})

    # When the poller sees it start, and WebhookFunction delivers the progress event
    deployed.poll()
    (progress,) = [m["body"] for m in deployed.drain(subscriber)]
    deliver_all(deployed, webhooks)

    # Then the receiver got it, as announced
    (first,) = receiver.received("/hooks/progress")
    assert json.loads(first.body) == progress and first.verify(webhooks.secret)["type"] == "video.progress"

    # When the job finishes and the progress event comes again late (a replayed or forged message)
    deployed.poll()
    send_to_queue(webhooks, progress)
    logs = deliver_all(deployed, webhooks)

    # Then only the final event is delivered; the late progress event is dropped as superseded
    hooks = receiver.received("/hooks/progress")
    assert [json.loads(h.body)["type"] for h in hooks] == ["video.progress", "video.completed"]
    (dropped,) = [json.loads(line) for line in logs.splitlines() if "dropped, nothing sent" in line]
    assert dropped["event_id"] == progress["id"] and dropped["outcome"] == "superseded"


def test_a_callback_host_that_cannot_be_encoded_is_refused_once_and_not_retried(deployed, webhooks):
    # Given a stored job whose callback host has a DNS label over 63 characters (the API refuses such a URL
    # now; a job stored before it did, or written by hand, may still have one)
    host = "a" * 64 + ".example.com"
    event = json.loads(publish(deployed, f"https://{host}/hook"))

    # When WebhookFunction takes its event (with the system resolver, as deployed)
    result = deliver(deployed, webhooks, ALLOW_LOOPBACK_CALLBACKS="false")

    # Then it is refused, logged, counted and recorded, and not retried
    assert len(result.received) == 1 and result.failures == []
    (line,) = [json.loads(line) for line in result.logs.splitlines() if "webhook refused" in line]
    assert line["event_id"] == event["id"] and line["reason"]
    assert '"WebhooksRefused"' in result.logs  # the EMF metric
    (attempt,) = job_deliveries(deployed, "hingnet", event["data"]["id"])
    assert attempt["outcome"] == "refused"
    assert seconds_until_visible(webhooks.queue_url) == []
