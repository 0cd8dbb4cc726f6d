"""WebhookFunction's use case: one queued event -> at most one signed POST to its job's callback URL.

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

from videohook.config import Settings
from videohook.observability import logger
from videohook.ports import DeliveryLog, TokenSource, WebhookQueue, WebhookSender
from videohook.ssrf import Destination, DestinationRefused, DestinationUnresolved, Resolver, check_destination
from videohook.webhooks import (
    DELIVERY_LOG_SIZE,
    Answer,
    Outcome,
    Verdict,
    delivery_record,
    judge,
    signed_headers,
    signing_key,
)


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
class _Target:
    event_id: str
    provider: str
    video_id: str
    callback_url: str | None

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
        deliveries: DeliveryLog,
        resolve: Resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._sender = sender
        self._queue = queue
        self._deliveries = deliveries
        self._resolve = resolve
        self._clock = clock

    def deliver(self, message: QueuedWebhook) -> Outcome:
        target = _target(message.body)
        if target is None:
            logger.error("message is not a videohook event; dropped", extra={"message_id": message.message_id})
            return Outcome.INVALID
        if not target.callback_url:
            return Outcome.SKIPPED
        attempt = message.receive_count
        try:
            destination = check_destination(
                target.callback_url, self._resolve, allow_loopback=self._settings.allow_loopback_callbacks
            )
        except DestinationRefused as refused:
            logger.warning(
                f"webhook refused, no connection made: {refused}",
                extra=target.log(host=refused.host, address=refused.address, reason=refused.reason, attempt=attempt),
            )
            self._record(target, attempt, Verdict(Outcome.REFUSED, error=str(refused)), None)
            return Outcome.REFUSED
        except DestinationUnresolved as unresolved:
            answer = Answer(error=str(unresolved))
            host = None
        else:
            host = destination.host
            answer = self._post(target, destination, message.body)
        verdict = judge(answer, attempt=attempt, schedule=self._settings.webhook_retry_schedule)
        if verdict.outcome.stays_queued:
            self._retry_in(message, verdict.delay_s)
        self._log(target, attempt, verdict, answer, host)
        self._record(target, attempt, verdict, answer.status_code)
        return verdict.outcome

    def _post(self, target: _Target, destination: Destination, body: str) -> Answer:
        try:
            signer = signing_key(self._secrets.token(self._settings.webhook_secret_arn))
        except Exception as exc:  # the secret's trouble is ours, not the receiver's: log it, retry later
            logger.error("cannot sign webhooks", extra=target.log(reason=str(exc)))
            return Answer(error="cannot sign: the webhook secret is unavailable")
        headers = signed_headers(signer, target.event_id, body, self._clock())
        return self._sender.send(destination, body.encode(), headers)

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


def _target(body: str) -> _Target | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return None
    data = event["data"]
    event_id, provider, video_id = event.get("id"), data.get("provider"), data.get("id")
    callback_url = data.get("callback_url")
    if not all(isinstance(value, str) and value for value in (event_id, provider, video_id)):
        return None
    if callback_url is not None and not isinstance(callback_url, str):
        return None
    return _Target(str(event_id), str(provider), str(video_id), callback_url)
