"""WebhookDelivery with stub adapters: which message leads to which POST, retry delay, record and log line."""

import io
import json
import logging
import time
from dataclasses import dataclass, field

import pytest
from standardwebhooks import Webhook
from videohook.config import Settings
from videohook.events import event_message, pending_event_for
from videohook.models import Job, VideoStatus
from videohook.observability import logger
from videohook.secrets import TokenUnavailable
from videohook.webhook_delivery import QueuedWebhook, WebhookDelivery
from videohook.webhooks import Answer, Outcome

SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1761234690.0


@dataclass
class Stubs:
    answers: list = field(default_factory=lambda: [Answer(200)])
    secret: str | Exception = SECRET
    posts: list = field(default_factory=list)
    visibility: list = field(default_factory=list)
    records: list = field(default_factory=list)
    lookups: list = field(default_factory=list)
    dns: dict = field(default_factory=lambda: {"hooks.example.test": ["93.184.215.14"]})

    # TokenSource
    def token(self, secret_id):
        if isinstance(self.secret, Exception):
            raise self.secret
        return self.secret

    # WebhookSender
    def send(self, destination, body, headers):
        self.posts.append((destination, body, dict(headers)))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    # WebhookQueue
    def change_visibility(self, receipt_handle, seconds):
        self.visibility.append((receipt_handle, seconds))

    def send_message(self, body, attributes):  # not used by delivery
        raise AssertionError

    # DeliveryLog
    def record_delivery(self, provider, video_id, attempt, *, keep):
        self.records.append((provider, video_id, attempt, keep))
        return True

    def resolve(self, host, port):
        self.lookups.append(host)
        return self.dns[host]


@pytest.fixture
def logs():
    """What the function's logger writes (Powertools JSON lines), as a string buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def delivery(stubs, clock=lambda: NOW, **settings):
    config = Settings(
        jobs_table="t",
        events_topic_arn="",
        providers={},
        webhook_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:webhook",
        webhook_retry_schedule=(0, 5, 300),
        **settings,
    )
    return WebhookDelivery(
        config,
        secrets=stubs,
        sender=stubs,
        queue=stubs,
        deliveries=stubs,
        resolve=stubs.resolve,
        clock=clock,
    )


def message(callback_url="https://hooks.example.test/in?token=abc", receive_count=1, video_id="video_1"):
    job = Job("hingnet", video_id, status=VideoStatus.COMPLETED, progress=100, callback_url=callback_url, active=False)
    body, _ = event_message(job, pending_event_for(job, int(NOW)))
    return QueuedWebhook("m-1", f"rh-{receive_count}", body, receive_count)


def test_a_delivered_webhook_is_the_signed_event_body_to_the_checked_address(logs):
    stubs = Stubs()
    queued = message()
    assert delivery(stubs).deliver(queued) is Outcome.DELIVERED
    ((destination, body, headers),) = stubs.posts
    assert body == queued.body.encode()
    assert destination.address == "93.184.215.14" and destination.host == "hooks.example.test"
    assert stubs.lookups == ["hooks.example.test"]
    event_id = json.loads(queued.body)["id"]
    assert headers["webhook-id"] == event_id and headers["webhook-timestamp"] == str(int(NOW))
    assert stubs.visibility == []
    ((provider, video_id, record, keep),) = stubs.records
    assert (provider, video_id, keep) == ("hingnet", "video_1", 10)
    assert record["outcome"] == "delivered" and record["status_code"] == 200 and record["attempt"] == 1
    logs = logs.getvalue()
    assert "webhook delivered" in logs and SECRET not in logs and "token=abc" not in logs


def test_a_failed_attempt_sets_the_next_delay_and_the_last_one_leaves_it_to_the_dead_letter_queue():
    stubs = Stubs(answers=[Answer(500)])
    outcomes = [delivery(stubs).deliver(message(receive_count=n)) for n in (1, 2, 3)]
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.DEAD_LETTERED]
    assert stubs.visibility == [("rh-1", 5), ("rh-2", 300), ("rh-3", 0)]
    assert [r[2]["outcome"] for r in stubs.records] == ["retrying", "retrying", "dead_lettered"]
    assert [r[2]["next_attempt_at"] for r in stubs.records] == [NOW + 5, NOW + 300, None]
    # the same event always carries the same webhook-id
    assert len({headers["webhook-id"] for _, _, headers in stubs.posts}) == 1


def test_a_refused_destination_makes_no_request_and_is_not_retried(logs):
    stubs = Stubs(dns={"hooks.example.test": ["169.254.169.254"]})
    assert delivery(stubs).deliver(message()) is Outcome.REFUSED
    assert stubs.posts == [] and stubs.visibility == []
    assert stubs.records[0][2]["outcome"] == "refused"
    line = next(json.loads(line) for line in logs.getvalue().splitlines() if "webhook refused" in line)
    assert line["host"] == "hooks.example.test" and line["address"] == "169.254.169.254"
    assert line["reason"].startswith("link-local") and "token=abc" not in json.dumps(line)


def test_loopback_needs_the_development_flag():
    url = "http://127.0.0.1:9999/hook"
    assert delivery(Stubs()).deliver(message(url)) is Outcome.REFUSED
    stubs = Stubs()
    assert delivery(stubs, allow_loopback_callbacks=True).deliver(message(url)) is Outcome.DELIVERED
    assert stubs.posts[0][0].address == "127.0.0.1"


def test_a_name_that_does_not_resolve_is_retried_without_a_request():
    stubs = Stubs(dns={})

    def failing(host, port):
        raise OSError("no such host")

    stubs.resolve = failing
    assert delivery(stubs).deliver(message()) is Outcome.RETRYING
    assert stubs.posts == [] and stubs.visibility == [("rh-1", 5)]
    assert "cannot resolve hooks.example.test" in stubs.records[0][2]["error"]


@pytest.mark.parametrize("problem", [TokenUnavailable("cannot read secret 'arn:...:webhook'"), "not base64 !"])
def test_an_unreadable_secret_is_our_failure_retried_and_never_logged(problem, logs):
    stubs = Stubs(secret=problem)
    assert delivery(stubs).deliver(message()) is Outcome.RETRYING
    assert stubs.posts == []
    assert stubs.records[0][2]["error"] == "cannot sign: the webhook secret is unavailable"
    assert "not base64 !" not in logs.getvalue()


def test_events_without_callback_and_foreign_messages_are_dropped_quietly():
    stubs = Stubs()
    assert delivery(stubs).deliver(message(callback_url=None)) is Outcome.SKIPPED
    for body in ("not json", "[]", json.dumps({"id": "evt_1", "data": {"id": "v"}})):
        assert delivery(stubs).deliver(QueuedWebhook("m", "rh", body, 1)) is Outcome.INVALID
    assert stubs.posts == stubs.visibility == stubs.records == []


def test_the_sqs_record_gives_the_attempt_number():
    record = {"messageId": "m", "receiptHandle": "rh", "body": "{}", "attributes": {"ApproximateReceiveCount": "4"}}
    assert QueuedWebhook.from_sqs_record(record).receive_count == 4


def test_the_sample_event_is_a_deliverable_webhook_message():
    from pathlib import Path

    sample = json.loads((Path(__file__).resolve().parents[2] / "events" / "webhook-sqs.json").read_text())
    (record,) = sample["Records"]
    queued = QueuedWebhook.from_sqs_record(record)
    event = json.loads(queued.body)
    assert record["eventSource"] == "aws:sqs" and queued.receive_count == 1
    # its callback is a local receiver: refused as deployed, delivered with the development flag
    assert event["data"]["callback_url"] == "http://127.0.0.1:8787/hooks/videohook"
    assert delivery(Stubs()).deliver(queued) is Outcome.REFUSED
    stubs = Stubs()
    assert delivery(stubs, clock=time.time, allow_loopback_callbacks=True).deliver(queued) is Outcome.DELIVERED
    assert Webhook(SECRET).verify(stubs.posts[0][1], stubs.posts[0][2])["id"] == event["id"]
