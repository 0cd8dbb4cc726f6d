"""WebhookFunction's use case: one queued event -> at most one signed POST to its job's callback URL.

Only what the stored job says is delivered. A message is trusted for nothing but naming an event: its id,
its type and its job (provider, video id). The job is read from JobsTable; the body is rebuilt from it (the
same body the poller published, `events.event_message` / `progress.progress_event`) and sent to the job's
stored callback URL, which events show without its query string. A message that names no event of a stored
job (no such job, another id or type, a job not finished for a final event, a progress event the job has
moved past) is dropped with a log line and counted; nothing is signed or sent, nothing is written. So whoever
can publish to the topic or send to the queue can at most have a job's own event sent again to its own
receiver, which is what the API's redeliver route does.

A message is one attempt. Its attempt number is SQS's ApproximateReceiveCount. A failed attempt keeps the
message in the queue and sets its visibility to the schedule's next delay, so SQS hands it back then; the
failure of the last attempt leaves it visible at once, and SQS moves it to the dead-letter queue at its next
receive (the queue's maxReceiveCount is the number of attempts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from videohook.config import PROVIDER_NAME, Settings
from videohook.domain.events import EVENT_TYPES, OutgoingEvent, event_message, final_event
from videohook.domain.models import Job, VideoStatus
from videohook.domain.progress import PROGRESS_EVENT, progress_event
from videohook.domain.ssrf import Destination, DestinationRefused, DestinationUnresolved, Resolver, check_destination
from videohook.domain.validation import InvalidRequest, check_video_id
from videohook.domain.webhooks import (
    DELIVERY_LOG_SIZE,
    Answer,
    Outcome,
    Verdict,
    delivery_record,
    judge,
    signed_headers,
    signing_key,
)
from videohook.observability import logger
from videohook.ports import DeliveryLog, JobReader, TokenSource, WebhookQueue, WebhookSender


@dataclass(frozen=True)
class QueuedWebhook:
    """An SQS record as the event source mapping delivers it (only what delivery needs)."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int

    @classmethod
    def from_sqs_record(cls, record: Mapping[str, Any]) -> QueuedWebhook:
        attributes = record.get("attributes") or {}
        return cls(
            message_id=str(record.get("messageId", "")),
            receipt_handle=str(record.get("receiptHandle", "")),
            body=str(record.get("body") or ""),
            receive_count=max(1, int(attributes.get("ApproximateReceiveCount", "1"))),
        )


@dataclass(frozen=True)
class _Reference:
    """What a message is taken for: the event it names. Nothing else in the message is used."""

    event_id: str
    type: str
    provider: str
    video_id: str

    def log(self, **extra: Any) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "provider": self.provider,
            "video_id": self.video_id,
            **extra,
        }


@dataclass(frozen=True)
class _Drop:
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class _Target:
    """What is sent: the stored job's event, to the stored job's callback URL."""

    event_id: str
    provider: str
    video_id: str
    callback_url: str
    body: str

    def log(self, **extra: Any) -> dict[str, Any]:
        return {"event_id": self.event_id, "provider": self.provider, "video_id": self.video_id, **extra}


class WebhookDelivery:
    def __init__(
        self,
        settings: Settings,
        *,
        secrets: TokenSource,
        sender: WebhookSender,
        queue: WebhookQueue,
        jobs: JobReader,
        deliveries: DeliveryLog,
        resolve: Resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._sender = sender
        self._queue = queue
        self._jobs = jobs
        self._deliveries = deliveries
        self._resolve = resolve
        self._clock = clock

    def deliver(self, message: QueuedWebhook) -> Outcome:
        reference = _reference(message.body)
        if reference is None:
            logger.error("message is not a videohook event; dropped", extra={"message_id": message.message_id})
            return Outcome.INVALID
        attempt = message.receive_count
        try:
            job = self._jobs.get(reference.provider, reference.video_id)
        except Exception as exc:  # the table's trouble: retried on the schedule, like a receiver's
            logger.warning(
                "cannot read the event's job; the message is retried",
                extra=reference.log(attempt=attempt, reason=type(exc).__name__),
            )
            verdict = judge(
                Answer(error="cannot read the job"), attempt=attempt, schedule=self._settings.webhook_retry_schedule
            )
            if verdict.outcome.stays_queued:
                self._retry_in(message, verdict.delay_s)
            return verdict.outcome
        stored = _stored_event(job, reference)
        if isinstance(stored, _Drop):
            log = logger.info if stored.outcome is Outcome.SUPERSEDED else logger.warning
            log(
                f"webhook message dropped, nothing sent: {stored.reason}",
                extra=reference.log(outcome=stored.outcome.value, message_id=message.message_id),
            )
            return stored.outcome
        assert job is not None
        if not job.callback_url:
            return Outcome.SKIPPED
        target = _Target(stored.event_id, job.provider, job.video_id, job.callback_url, stored.body)
        try:
            destination = check_destination(
                target.callback_url, self._resolve, allow_loopback=self._settings.allow_loopback_callbacks
            )
        except DestinationRefused as refused:
            return self._refuse(target, attempt, refused)
        except ValueError:  # a host that cannot be encoded for a lookup (IDNA: a label over 63 characters...)
            return self._refuse(
                target,
                attempt,
                DestinationRefused(_host(target.callback_url), "the host cannot be encoded as a DNS name"),
            )
        except DestinationUnresolved as unresolved:
            answer = Answer(error=str(unresolved))
            host = None
        else:
            host = destination.host
            answer = self._post(target, destination)
        verdict = judge(answer, attempt=attempt, schedule=self._settings.webhook_retry_schedule)
        if verdict.outcome.stays_queued:
            self._retry_in(message, verdict.delay_s)
        self._log(target, attempt, verdict, answer, host)
        self._record(target, attempt, verdict, answer.status_code)
        return verdict.outcome

    def _refuse(self, target: _Target, attempt: int, refused: DestinationRefused) -> Outcome:
        """No connection is made and the message is done: a refusal is final, retrying would only repeat it."""
        logger.warning(
            f"webhook refused, no connection made: {refused}",
            extra=target.log(host=refused.host, address=refused.address, reason=refused.reason, attempt=attempt),
        )
        self._record(target, attempt, Verdict(Outcome.REFUSED, error=str(refused)), None)
        return Outcome.REFUSED

    def _post(self, target: _Target, destination: Destination) -> Answer:
        try:
            signer = signing_key(self._secrets.token(self._settings.webhook_secret_arn))
        except Exception as exc:  # the secret's trouble is ours, not the receiver's: log it, retry later
            logger.error("cannot sign webhooks", extra=target.log(reason=str(exc)))
            return Answer(error="cannot sign: the webhook secret is unavailable")
        headers = signed_headers(signer, target.event_id, target.body, self._clock())
        return self._sender.send(destination, target.body.encode(), headers)

    def _retry_in(self, message: QueuedWebhook, seconds: int) -> None:
        try:
            self._queue.change_visibility(message.receipt_handle, seconds)
        except Exception:
            # The message still comes back, after the queue's own visibility timeout instead.
            logger.exception("cannot set the retry delay", extra={"message_id": message.message_id})

    def _record(self, target: _Target, attempt: int, verdict: Verdict, status_code: int | None) -> None:
        record = delivery_record(
            now=self._clock(), event_id=target.event_id, attempt=attempt, verdict=verdict, status_code=status_code
        )
        try:
            self._deliveries.record_delivery(target.provider, target.video_id, record, keep=DELIVERY_LOG_SIZE)
        except Exception:
            logger.exception("cannot record the delivery attempt", extra=target.log())

    def _log(self, target: _Target, attempt: int, verdict: Verdict, answer: Answer, host: str | None) -> None:
        attempts = len(self._settings.webhook_retry_schedule)
        extra = target.log(
            host=host, attempt=attempt, attempts=attempts, status_code=answer.status_code, error=verdict.error
        )
        if verdict.outcome is Outcome.DELIVERED:
            logger.info("webhook delivered", extra=extra)
        elif verdict.outcome is Outcome.GONE:
            logger.warning("webhook receiver answered 410 Gone; not retried", extra=extra)
        elif verdict.outcome is Outcome.RETRYING:
            logger.warning(f"webhook attempt failed; next attempt in {verdict.delay_s} s", extra=extra)
        else:
            logger.error("webhook failed its last attempt; it goes to the dead-letter queue", extra=extra)


def _reference(body: str) -> _Reference | None:
    """The event a message names, or None when it is not a videohook event."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return None
    data = event["data"]
    fields = (event.get("id"), event.get("type"), data.get("provider"), data.get("id"))
    if not all(isinstance(value, str) and value for value in fields):
        return None
    event_id, kind, provider, video_id = (str(value) for value in fields)
    if not PROVIDER_NAME.match(provider):
        return None
    try:
        check_video_id(video_id, any_form=True)
    except InvalidRequest:
        return None
    return _Reference(event_id, kind, provider, video_id)


def _stored_event(job: Job | None, reference: _Reference) -> OutgoingEvent | _Drop:
    """The stored job's own event that `reference` names, rebuilt from the job; or why there is none."""
    if job is None:
        return _Drop(Outcome.UNMATCHED, "no such job is stored")
    if reference.type in EVENT_TYPES.values():
        if not job.status.is_terminal:
            return _Drop(Outcome.UNMATCHED, f"the job is {job.status.value}, it has no final event")
        final = final_event(job)
        if (final.id, final.type) != (reference.event_id, reference.type):
            return _Drop(Outcome.UNMATCHED, "the event is not the job's final event")
        body, attributes = event_message(job, final)
        return OutgoingEvent(final.id, body, attributes)
    if reference.type == PROGRESS_EVENT:
        if not job.progress_events:
            return _Drop(Outcome.UNMATCHED, "the job has no progress events")
        if job.status is not VideoStatus.IN_PROGRESS or not job.active or job.progress_announced is None:
            return _Drop(Outcome.SUPERSEDED, f"the job is {job.status.value}, past its progress events")
        current = progress_event(job.with_changes(progress=job.progress_announced))
        if current.event_id != reference.event_id:
            return _Drop(Outcome.SUPERSEDED, "not the job's latest progress event")
        return current
    return _Drop(Outcome.INVALID, "not a type of event videohook sends")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
