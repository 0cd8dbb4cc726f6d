"""Webhook delivery rules (Standard Webhooks): how a delivery is signed, what the receiver's answer means,
and when the next attempt is. Plain Python on plain data."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from standardwebhooks import Webhook

# Statuses that ask the sender to slow down; their Retry-After is honoured (never earlier than it says).
THROTTLING_STATUSES = frozenset({429, 502, 503, 504})
# SQS keeps a received message invisible at most 12 h; leave room for the time this invocation already ran.
MAX_DELAY_S = 43200 - 900
DELIVERY_LOG_SIZE = 10  # attempts kept per job (tracking.deliveries)
MIN_SECRET_BYTES = 16


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the receiver asked us to stop; not retried
    REFUSED = "refused"  # the callback address is not allowed; no connection was made, not retried
    RETRYING = "retrying"  # this attempt failed; the message comes back after the scheduled delay
    DEAD_LETTERED = "dead_lettered"  # the last attempt failed; SQS moves the message to the dead-letter queue
    SKIPPED = "skipped"  # the event's stored job has no callback_url
    INVALID = "invalid"  # the message is not a videohook event; dropped
    UNMATCHED = "unmatched"  # no stored job has this event (forged, or the job is gone); dropped, nothing sent
    SUPERSEDED = "superseded"  # a video.progress event the job has moved past; dropped, nothing sent

    @property
    def stays_queued(self) -> bool:
        """The message must stay in the queue (reported as a batch item failure)."""
        return self in (Outcome.RETRYING, Outcome.DEAD_LETTERED)


@dataclass(frozen=True)
class Answer:
    """What one POST got: a status (and Retry-After), or the transport error when there was no answer."""

    status_code: int | None = None
    retry_after_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    delay_s: int = 0  # when the message stays queued: seconds until it is visible again
    error: str | None = None  # why the attempt failed, for logs and tracking.deliveries


class WebhookSecretInvalid(ValueError):
    """The signing secret is unusable. The message never contains the secret."""


def signing_key(secret: str) -> Webhook:
    """The Standard Webhooks signer for `secret` (`whsec_<base64>` or the bare base64 string)."""
    bare = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(bare + "==")
    except (binascii.Error, ValueError):
        raise WebhookSecretInvalid("the webhook secret is not base64 (expected whsec_<base64> or <base64>)") from None
    if len(key) < MIN_SECRET_BYTES:
        raise WebhookSecretInvalid(f"the webhook secret is shorter than {MIN_SECRET_BYTES} bytes once decoded")
    return Webhook(bare)


def signed_headers(signer: Webhook, event_id: str, body: str, now: float) -> dict[str, str]:
    """Standard Webhooks headers for one attempt: `webhook-id` is the event id (the receiver's idempotency
    key, the same on every attempt and replay); the timestamp and signature are this attempt's."""
    timestamp = datetime.fromtimestamp(math.floor(now), tz=UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(now)),
        "webhook-signature": signer.sign(msg_id=event_id, timestamp=timestamp, data=body),
    }


def judge(answer: Answer, *, attempt: int, schedule: tuple[int, ...]) -> Verdict:
    """The rules: only 2xx is success; 410 stops; anything else (3xx included: redirects are not followed)
    is retried after `schedule[attempt]` seconds, or later when a throttling answer's Retry-After says so;
    after `len(schedule)` attempts the message is left to the dead-letter queue."""
    status = answer.status_code
    if status is not None and 200 <= status < 300:
        return Verdict(Outcome.DELIVERED)
    if status == 410:
        return Verdict(Outcome.GONE, error="410 Gone: the receiver asked not to be called again")
    error = answer.error or _describe(status)
    if attempt >= len(schedule):
        return Verdict(Outcome.DEAD_LETTERED, delay_s=0, error=error)
    delay = schedule[attempt]
    if status in THROTTLING_STATUSES and answer.retry_after_s is not None:
        delay = max(delay, math.ceil(answer.retry_after_s))
    return Verdict(Outcome.RETRYING, delay_s=min(delay, MAX_DELAY_S), error=error)


def delivery_record(
    *, now: float, event_id: str, attempt: int, verdict: Verdict, status_code: int | None
) -> dict[str, Any]:
    """One entry of the job's `tracking.deliveries`."""
    return {
        "at": math.floor(now),
        "event_id": event_id,
        "attempt": attempt,
        "outcome": verdict.outcome.value,
        "status_code": status_code,
        "error": verdict.error,
        "next_attempt_at": math.floor(now) + verdict.delay_s if verdict.outcome is Outcome.RETRYING else None,
    }


def _describe(status: int | None) -> str:
    if status is None:
        return "no answer"
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"
