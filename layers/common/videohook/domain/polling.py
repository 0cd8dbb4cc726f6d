"""What one poll means for a job: the pure decision, given the provider's answer or the fault seen."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videohook.domain.dialects import Dialect
from videohook.domain.dialects.reader import Refusal, read
from videohook.domain.events import pending_event_for
from videohook.domain.models import Job, PendingEvent, Reading, Unreadable, VideoStatus
from videohook.domain.normalize import read_answer
from videohook.domain.schedule import backoff_delay, next_poll_delay

NOT_FOUND_LIMIT = 3


@dataclass(frozen=True)
class Answered:
    """The provider answered 2xx with a decoded JSON body (and, for a dialect with a second read, its answer)."""

    body: Any
    follow: Any = None


@dataclass(frozen=True)
class Fault:
    """The poll did not produce a usable answer. `kind` is a short metric-friendly label."""

    # not_found, unauthorized, rate_limited, server_error, client_error, timeout, network, bad_body, and
    # internal: the request could not be made, or reading the answer raised (a bug, or a header refused)
    kind: str
    status_code: int | None = None
    retry_after_s: float | None = None
    detail: str = ""


PollResult = Answered | Fault


@dataclass(frozen=True)
class Decision:
    job: Job
    changed: bool  # something a caller can see (status, progress, fields) differs
    event: PendingEvent | None  # set when this poll made the job terminal
    fault: Fault | None = None
    unknown_status: str | None = None
    throttled: bool = False  # the provider holds the job back for its rate limits (a status, not a fault)


@dataclass(frozen=True)
class PollPolicy:
    base_s: float
    max_age_s: float
    rand: Callable[[], float] = random.random


def decide(
    job: Job,
    result: PollResult,
    *,
    now: float,
    base_url: str,
    policy: PollPolicy,
    dialect: Dialect | None = None,
    backstop_s: float | None = None,
) -> Decision:
    """What one poll means. `backstop_s`: the provider calls back (services/inbound.py), so polls are only the
    safety net, at least this far apart."""
    polled = job.with_changes(polls=job.polls + 1, last_polled_at=int(now))
    if isinstance(result, Answered):
        reading: Reading | Unreadable | Refusal
        if dialect is None:  # the seeds' shape (OpenAI's /v1/videos)
            reading = read_answer(result.body, base_url=base_url, video_id=job.video_id)
        else:
            reading = read(
                dialect, result.body, base_url=base_url, video_id=job.video_id, now=now, follow=result.follow
            )
        if isinstance(reading, Unreadable):
            result = Fault("bad_body", 200, detail=reading.reason)
        elif isinstance(reading, Refusal):
            result = Fault(reading.kind, 200, detail=reading.detail)
        else:
            applied = _apply_reading(polled, reading, now, policy, before=job)
            if backstop_s is not None and applied.next_poll_at is not None:
                applied = applied.with_changes(next_poll_at=max(applied.next_poll_at, now + backstop_s))
            return conclude(job, applied, now, policy, reading)
    return conclude(job, _apply_fault(polled, result, now, policy), now, policy, None, result)


def _apply_reading(job: Job, reading: Reading, now: float, policy: PollPolicy, *, before: Job) -> Job:
    status = reading.status or job.status
    progress = reading.progress if reading.progress is not None else job.progress
    updated = job.with_changes(status=status, progress=progress, not_found_streak=0, error_streak=0, **reading.fields)
    running_s = now - updated.created_at if updated.created_at else None
    # The previous reading and its time give the job's recent rate of progress (schedule.py).
    since_previous_s = now - before.last_polled_at if before.last_polled_at is not None else None
    delay = next_poll_delay(
        base_s=policy.base_s,
        age_s=now - job.tracked_at,
        progress=float(progress),
        running_s=running_s,
        previous_progress=float(before.progress) if since_previous_s is not None else None,
        since_previous_s=since_previous_s,
    )
    return updated.with_changes(next_poll_at=now + delay)


def _apply_fault(job: Job, fault: Fault, now: float, policy: PollPolicy) -> Job:
    if fault.kind == "not_found":
        streak = job.not_found_streak + 1
        if streak >= NOT_FOUND_LIMIT:
            message = f"The provider answered 404 for this video on {streak} polls in a row"
            return job.with_changes(
                status=VideoStatus.FAILED, not_found_streak=streak, error={"code": "not_found", "message": message}
            )
        job = job.with_changes(not_found_streak=streak)
    else:
        job = job.with_changes(error_streak=job.error_streak + 1)
    streak = max(job.error_streak, job.not_found_streak)
    delay = backoff_delay(base_s=policy.base_s, streak=streak, rand=policy.rand)
    if fault.retry_after_s is not None:
        delay = max(delay, fault.retry_after_s)
    return job.with_changes(next_poll_at=now + delay)


def conclude(
    before: Job,
    job: Job,
    now: float,
    policy: PollPolicy,
    reading: Reading | None,
    fault: Fault | None = None,
    *,
    via: str = "poll",
) -> Decision:
    """The decision on `job` as changed from `before`: too old fails it, a terminal status records its event,
    and a new status is noted as seen `via` a poll or a push."""
    if not job.status.is_terminal and now - job.tracked_at > policy.max_age_s:
        message = f"The job did not finish within {int(policy.max_age_s)} seconds of being tracked"
        job = job.with_changes(status=VideoStatus.FAILED, error={"code": "timeout", "message": message})
    if job.status is not before.status and job.status.value not in job.seen:
        job = job.with_changes(seen={**job.seen, job.status.value: via})
    event = None
    if job.status.is_terminal:
        event = pending_event_for(job, int(now))
        job = job.with_changes(active=False, pending_event=event)
    unknown = reading.raw_status if reading is not None and reading.status is None else None
    return Decision(
        job=job,
        changed=_visible(before) != _visible(job),
        event=event,
        fault=fault,
        unknown_status=unknown,
        throttled=reading is not None and reading.throttled,
    )


def _visible(job: Job) -> dict[str, Any]:
    public = job.to_public()
    public.pop("tracking")
    return public
