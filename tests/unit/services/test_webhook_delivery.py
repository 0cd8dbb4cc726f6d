"""WebhookDelivery with stub adapters: which message leads to which POST (of what the stored job says), retry
delay, record and log line. Over real HTTP and moto: tests/integration/test_webhooks.py and
test_webhook_trust.py."""

import io
import json
import logging
import time
from dataclasses import dataclass, field

import pytest
from standardwebhooks import Webhook
from videohook.adapters.secrets import TokenUnavailable
from videohook.config import Settings
from videohook.domain.events import event_message, final_event, pending_event_for
from videohook.domain.models import Job, VideoStatus
from videohook.domain.progress import progress_event
from videohook.domain.webhooks import Answer, Outcome
from videohook.observability import logger
from videohook.services.webhook_delivery import QueuedWebhook, WebhookDelivery

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
    jobs: dict = field(default_factory=dict)  # (provider, video_id) -> Job, or an Exception to raise

    # JobReader
    def get(self, provider, video_id):
        job = self.jobs.get((provider, video_id))
        if isinstance(job, Exception):
            raise job
        return job

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
        jobs=stubs,
        deliveries=stubs,
        resolve=stubs.resolve,
        clock=clock,
    )


def finished(callback_url="https://hooks.example.test/in?token=abc", video_id="video_1", **changes):
    job = Job(
        "hingnet",
        video_id,
        status=VideoStatus.COMPLETED,
        progress=100,
        callback_url=callback_url,
        active=False,
        tracked_at=int(NOW) - 60,
        last_polled_at=int(NOW),
    )
    return job.with_changes(**changes)


def message(callback_url="https://hooks.example.test/in?token=abc", receive_count=1, video_id="video_1", stubs=None):
    """The event of a finished job, as the poller publishes it; the job is stored in `stubs` when given."""
    job = finished(callback_url, video_id)
    if stubs is not None:
        stubs.jobs[job.key] = job
    body, _ = event_message(job, pending_event_for(job, int(NOW)))
    return QueuedWebhook("m-1", f"rh-{receive_count}", body, receive_count)


def queued(body):
    return QueuedWebhook("m-x", "rh-x", body if isinstance(body, str) else json.dumps(body), 1)


def test_a_delivered_webhook_is_the_signed_event_body_to_the_checked_address(logs):
    stubs = Stubs()
    sent = message(stubs=stubs)
    assert delivery(stubs).deliver(sent) is Outcome.DELIVERED
    ((destination, body, headers),) = stubs.posts
    assert body == sent.body.encode()
    assert destination.address == "93.184.215.14" and destination.host == "hooks.example.test"
    assert destination.url == "https://hooks.example.test/in?token=abc"  # the stored URL, query and all
    assert json.loads(body)["data"]["callback_url"] == "https://hooks.example.test/in"  # the event shows less
    assert stubs.lookups == ["hooks.example.test"]
    event_id = json.loads(sent.body)["id"]
    assert headers["webhook-id"] == event_id and headers["webhook-timestamp"] == str(int(NOW))
    assert stubs.visibility == []
    ((provider, video_id, record, keep),) = stubs.records
    assert (provider, video_id, keep) == ("hingnet", "video_1", 10)
    assert record["outcome"] == "delivered" and record["status_code"] == 200 and record["attempt"] == 1
    logs = logs.getvalue()
    assert "webhook delivered" in logs and SECRET not in logs and "token=abc" not in logs


def test_a_failed_attempt_sets_the_next_delay_and_the_last_one_leaves_it_to_the_dead_letter_queue():
    stubs = Stubs(answers=[Answer(500)])
    outcomes = [delivery(stubs).deliver(message(receive_count=n, stubs=stubs)) for n in (1, 2, 3)]
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.DEAD_LETTERED]
    assert stubs.visibility == [("rh-1", 5), ("rh-2", 300), ("rh-3", 0)]
    assert [r[2]["outcome"] for r in stubs.records] == ["retrying", "retrying", "dead_lettered"]
    assert [r[2]["next_attempt_at"] for r in stubs.records] == [NOW + 5, NOW + 300, None]
    # the same event always carries the same webhook-id
    assert len({headers["webhook-id"] for _, _, headers in stubs.posts}) == 1


def test_a_refused_destination_makes_no_request_and_is_not_retried(logs):
    stubs = Stubs(dns={"hooks.example.test": ["169.254.169.254"]})
    assert delivery(stubs).deliver(message(stubs=stubs)) is Outcome.REFUSED
    assert stubs.posts == [] and stubs.visibility == []
    assert stubs.records[0][2]["outcome"] == "refused"
    line = next(json.loads(line) for line in logs.getvalue().splitlines() if "webhook refused" in line)
    assert line["host"] == "hooks.example.test" and line["address"] == "169.254.169.254"
    assert line["reason"].startswith("link-local") and "token=abc" not in json.dumps(line)


def test_loopback_needs_the_development_flag():
    url = "http://127.0.0.1:9999/hook"
    stubs = Stubs()
    assert delivery(stubs).deliver(message(url, stubs=stubs)) is Outcome.REFUSED
    stubs = Stubs()
    assert delivery(stubs, allow_loopback_callbacks=True).deliver(message(url, stubs=stubs)) is Outcome.DELIVERED
    assert stubs.posts[0][0].address == "127.0.0.1"


def test_a_name_that_does_not_resolve_is_retried_without_a_request():
    stubs = Stubs(dns={})

    def failing(host, port):
        raise OSError("no such host")

    stubs.resolve = failing
    assert delivery(stubs).deliver(message(stubs=stubs)) is Outcome.RETRYING
    assert stubs.posts == [] and stubs.visibility == [("rh-1", 5)]
    assert "cannot resolve hooks.example.test" in stubs.records[0][2]["error"]


@pytest.mark.parametrize("problem", [TokenUnavailable("cannot read secret 'arn:...:webhook'"), "not base64 !"])
def test_an_unreadable_secret_is_our_failure_retried_and_never_logged(problem, logs):
    stubs = Stubs(secret=problem)
    assert delivery(stubs).deliver(message(stubs=stubs)) is Outcome.RETRYING
    assert stubs.posts == []
    assert stubs.records[0][2]["error"] == "cannot sign: the webhook secret is unavailable"
    assert "not base64 !" not in logs.getvalue()


def test_events_without_callback_and_foreign_messages_are_dropped_quietly():
    stubs = Stubs()
    assert delivery(stubs).deliver(message(callback_url=None, stubs=stubs)) is Outcome.SKIPPED
    for body in (
        "not json",
        "[]",
        json.dumps({"id": "evt_1", "data": {"id": "v"}}),
        json.dumps({"id": "evt_1", "type": "video.completed", "data": {"id": "v/..", "provider": "hingnet"}}),
        json.dumps({"id": "evt_1", "type": "video.completed", "data": {"id": "v", "provider": "Not A Name"}}),
    ):
        assert delivery(stubs).deliver(QueuedWebhook("m", "rh", body, 1)) is Outcome.INVALID
    assert stubs.posts == stubs.visibility == stubs.records == []


def test_the_sqs_record_gives_the_attempt_number():
    record = {"messageId": "m", "receiptHandle": "rh", "body": "{}", "attributes": {"ApproximateReceiveCount": "4"}}
    assert QueuedWebhook.from_sqs_record(record).receive_count == 4


def test_the_sample_event_is_a_deliverable_webhook_message():
    from pathlib import Path

    sample = json.loads((Path(__file__).resolve().parents[3] / "events" / "webhook-sqs.json").read_text())
    (record,) = sample["Records"]
    queued = QueuedWebhook.from_sqs_record(record)
    event = json.loads(queued.body)
    assert record["eventSource"] == "aws:sqs" and queued.receive_count == 1
    # its callback is a local receiver: refused as deployed, delivered with the development flag
    assert event["data"]["callback_url"] == "http://127.0.0.1:8787/hooks/videohook"
    # the job it names, as stored (the sample is the poller's event of that job)
    data = event["data"]
    job = Job(
        "hingnet",
        data["id"],
        status=VideoStatus.COMPLETED,
        progress=100,
        callback_url=data["callback_url"],
        active=False,
        polls=data["tracking"]["polls"],
        tracked_at=data["tracking"]["tracked_at"],
        last_polled_at=data["tracking"]["last_polled_at"],
        duration=data["tracking"]["duration"],
        metadata=data["metadata"],
        **{name: data[name] for name in ("model", "seconds", "size", "video_url", "created_at", "completed_at")},
    )
    stubs = Stubs(jobs={job.key: job})
    assert delivery(stubs).deliver(queued) is Outcome.REFUSED
    stubs = Stubs(jobs={job.key: job})
    assert delivery(stubs, clock=time.time, allow_loopback_callbacks=True).deliver(queued) is Outcome.DELIVERED
    assert Webhook(SECRET).verify(stubs.posts[0][1], stubs.posts[0][2])["id"] == event["id"]


# -- only what the stored job says is delivered ----------------------------------------------------------------
ATTACKER = "https://attacker.example.test/collect"


def forged(job, **changes):
    """The job's genuine event, with changes an attacker who can send to the queue would make."""
    event = json.loads(event_message(job, final_event(job))[0])
    data = {**event["data"], **changes.pop("data", {})}
    return {**event, **changes, "data": data}


def test_a_forged_payload_for_a_real_event_is_not_sent_the_stored_event_goes_to_the_stored_url():
    stubs = Stubs(dns={"hooks.example.test": ["93.184.215.14"], "attacker.example.test": ["93.184.216.34"]})
    job = finished()
    stubs.jobs[job.key] = job
    genuine, _ = event_message(job, final_event(job))
    message = forged(job, created_at=1, data={"callback_url": ATTACKER, "video_url": "https://evil.test/x.mp4"})
    assert delivery(stubs).deliver(queued(message)) is Outcome.DELIVERED
    ((destination, body, headers),) = stubs.posts
    assert destination.url == job.callback_url and stubs.lookups == ["hooks.example.test"]
    assert body == genuine.encode() and b"evil.test" not in body and b"attacker" not in body
    assert headers["webhook-id"] == message["id"] and headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"id": "evt_" + "0" * 32}, id="another-id"),
        pytest.param({"type": "video.failed"}, id="another-type"),
        pytest.param({"data": {"id": "video_never_tracked"}}, id="no-such-job"),
        pytest.param({"data": {"provider": "skyengine"}}, id="another-provider"),
    ],
)
def test_a_message_that_names_no_stored_event_is_dropped_unsigned_and_unrecorded(change, logs):
    stubs = Stubs()
    job = finished()
    stubs.jobs[job.key] = job
    message = forged(job, **{**change, "data": {"callback_url": ATTACKER, **change.get("data", {})}})
    assert delivery(stubs).deliver(queued(message)) is Outcome.UNMATCHED
    assert stubs.posts == stubs.lookups == stubs.visibility == stubs.records == []
    line = next(json.loads(line) for line in logs.getvalue().splitlines() if "dropped, nothing sent" in line)
    assert line["event_id"] == message["id"] and line["outcome"] == "unmatched"
    assert "attacker" not in logs.getvalue()


def test_a_final_event_of_a_job_not_finished_is_dropped():
    stubs = Stubs()
    job = finished()
    message = forged(job)  # the id the job will have once completed
    stubs.jobs[job.key] = job.with_changes(status=VideoStatus.IN_PROGRESS, progress=40, active=True)
    assert delivery(stubs).deliver(queued(message)) is Outcome.UNMATCHED
    assert stubs.posts == stubs.records == []


def test_an_unconfirmed_event_is_the_one_the_job_holds():
    """Between the poller's write and SNS's confirmation the job holds its event: that one is delivered."""
    stubs = Stubs()
    job = finished(last_polled_at=int(NOW) - 5)
    pending = pending_event_for(job, int(NOW))
    stubs.jobs[job.key] = job.with_changes(pending_event=pending)
    body, _ = event_message(job, pending)
    assert delivery(stubs).deliver(queued(body)) is Outcome.DELIVERED
    assert stubs.posts[0][1] == body.encode()


def test_progress_events_are_delivered_while_current_and_dropped_once_superseded():
    stubs = Stubs()
    job = Job(
        "hingnet",
        "video_p",
        status=VideoStatus.IN_PROGRESS,
        progress=20,
        callback_url="https://hooks.example.test/in",
        progress_events=True,
        progress_announced=20,
        progress_announced_at=int(NOW),
        tracked_at=int(NOW) - 60,
    )
    first = progress_event(job)
    stubs.jobs[job.key] = job.with_changes(progress=25)  # polled since, nothing new announced
    assert delivery(stubs).deliver(queued(first.body)) is Outcome.DELIVERED
    assert stubs.posts[0][1] == first.body.encode()
    # the job announced 40 since: the event of 20 is superseded; the job finished: any progress event is
    stubs.jobs[job.key] = job.with_changes(progress=40, progress_announced=40)
    assert delivery(stubs).deliver(queued(first.body)) is Outcome.SUPERSEDED
    stubs.jobs[job.key] = job.with_changes(status=VideoStatus.COMPLETED, progress=100, active=False)
    assert delivery(stubs).deliver(queued(first.body)) is Outcome.SUPERSEDED
    # a job that never asked for progress events gets none
    stubs.jobs[job.key] = job.with_changes(progress_events=False)
    assert delivery(stubs).deliver(queued(first.body)) is Outcome.UNMATCHED
    assert len(stubs.posts) == 1


def test_an_unknown_event_type_is_invalid():
    stubs = Stubs()
    job = finished()
    stubs.jobs[job.key] = job
    assert delivery(stubs).deliver(queued(forged(job, type="video.deleted"))) is Outcome.INVALID
    assert stubs.posts == []


def test_a_job_that_cannot_be_read_is_retried_on_the_schedule_without_a_request():
    stubs = Stubs()
    sent = message()
    stubs.jobs[("hingnet", "video_1")] = RuntimeError("ProvisionedThroughputExceededException")
    assert delivery(stubs).deliver(sent) is Outcome.RETRYING
    assert stubs.posts == [] and stubs.visibility == [("rh-1", 5)]


def test_a_host_that_cannot_be_encoded_is_a_refusal_not_a_retry(logs):
    """A DNS label over 63 characters cannot be looked up (getaddrinfo raises UnicodeError for it)."""
    stubs = Stubs()
    long_host = "a" * 64 + ".example.test"
    stubs.dns[long_host] = ["93.184.215.14"]  # were it looked up
    assert delivery(stubs).deliver(message(f"https://{long_host}/hook", stubs=stubs)) is Outcome.REFUSED
    assert stubs.posts == [] and stubs.visibility == []
    assert stubs.records[0][2]["outcome"] == "refused"
    line = next(json.loads(line) for line in logs.getvalue().splitlines() if "webhook refused" in line)
    assert line["host"] == long_host and line["reason"]


def test_a_lookup_that_raises_value_error_is_a_refusal_not_a_retry(logs):
    """Whatever the address check lets through, a lookup's ValueError (socket.getaddrinfo raises it for a
    name it cannot encode or that holds a NUL) is about the name, so no retry can help: refused, recorded,
    not retried (before, it escaped the function and the message was retried to the dead-letter queue)."""
    stubs = Stubs()
    sent = message(stubs=stubs)

    def unencodable(host, port):
        raise ValueError("embedded null character")

    stubs.resolve = unencodable
    assert delivery(stubs).deliver(sent) is Outcome.REFUSED
    assert stubs.posts == [] and stubs.visibility == []
    assert stubs.records[0][2]["outcome"] == "refused"
    line = next(json.loads(line) for line in logs.getvalue().splitlines() if "webhook refused" in line)
    assert line["host"] == "hooks.example.test" and "cannot be encoded" in line["reason"]
    assert "token=abc" not in logs.getvalue()
