"""The domain's data: a tracked job, its normalised status, and what one poll learned."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class VideoStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (VideoStatus.COMPLETED, VideoStatus.FAILED)


# Fields copied from the provider's answer into the job as they are (after type normalisation).
VIDEO_FIELDS = (
    "model",
    "prompt",
    "seconds",
    "size",
    "video_url",
    "content_url",
    "error",
    "created_at",
    "completed_at",
    "expires_at",
    "remixed_from_video_id",
)


@dataclass(frozen=True)
class PendingEvent:
    """An announcement decided and recorded in the job but not yet confirmed by SNS."""

    id: str
    type: str
    created_at: int


@dataclass(frozen=True)
class Job:
    provider: str
    video_id: str
    status: VideoStatus = VideoStatus.QUEUED
    progress: int | float = 0
    model: str | None = None
    prompt: str | None = None
    seconds: int | None = None
    size: str | None = None
    video_url: str | None = None
    content_url: str | None = None
    error: dict[str, Any] | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    remixed_from_video_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    callback_url: str | None = None
    duration: int | None = None
    # tracking
    active: bool = True
    polls: int = 0
    tracked_at: int = 0
    last_polled_at: int | None = None
    next_poll_at: float | None = None
    version: int = 0
    not_found_streak: int = 0
    error_streak: int = 0
    pending_event: PendingEvent | None = None
    # opt-in video.progress events (videohook.domain.progress): the progress last announced, and when
    progress_events: bool = False
    progress_announced: int | float | None = None
    progress_announced_at: int | None = None
    # the archived copy (videohook.services.archive): {s3_uri, url, url_expires_at, bytes, sha256} or {error}
    archive: dict[str, Any] | None = None
    # webhook delivery attempts, oldest first, the last few only (see videohook.domain.webhooks.delivery_record)
    deliveries: tuple[dict[str, Any], ...] = ()
    # the principal that tracked it (videohook.services.tracking.canonical_principal); None for a job stored before
    # jobs had owners (only operators see those). Never part of the public job object or of an event.
    owner: str | None = None
    # how each status was first seen: status -> "poll" or "push" (a provider's callback; services/inbound.py)
    seen: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.video_id)

    def with_changes(self, **changes: Any) -> Job:
        return replace(self, **changes)

    def to_public(self, *, with_deliveries: bool = True) -> dict[str, Any]:
        """The job object of the API (to the job's owner or an operator: `with_deliveries=True`) and of every
        event's `data` (`with_deliveries=False`, PRODUCT.md). The event form leaves out the webhook delivery
        log, so a replayed event has the same body as the first one, and shows `callback_url` without its
        query string, user info and fragment (a token there is for the receiver, not for every subscriber of
        the topic). Neither form holds the owner."""
        public: dict[str, Any] = {
            "object": "video",
            "id": self.video_id,
            "provider": self.provider,
            "status": self.status.value,
            "progress": self.progress,
            "model": self.model,
            "prompt": self.prompt,
            "seconds": self.seconds,
            "size": self.size,
            "video_url": self.video_url,
            "content_url": self.content_url,
            "error": self.error,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "expires_at": self.expires_at,
            "remixed_from_video_id": self.remixed_from_video_id,
            "metadata": dict(self.metadata),
            "callback_url": self.callback_url if with_deliveries else public_callback_url(self.callback_url),
            "archive": self.archive,
            "tracking": {
                "active": self.active,
                "polls": self.polls,
                "tracked_at": self.tracked_at,
                "last_polled_at": self.last_polled_at,
                "next_poll_at": int(self.next_poll_at) if self.active and self.next_poll_at is not None else None,
                "duration": self.duration,
                "events": ["progress"] if self.progress_events else [],
                "seen": dict(self.seen),
            },
        }
        if with_deliveries:
            public["tracking"]["deliveries"] = [dict(attempt) for attempt in self.deliveries]
        return public


def public_callback_url(url: str | None) -> str | None:
    """`url` as events show it: scheme, host, port and path only (no user info, query string or fragment)."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL the API would have taken: show nothing of it rather than all of it
        return ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Reading:
    """A provider's 200 answer, normalised. `status` is None when the raw status is not one we know."""

    status: VideoStatus | None
    raw_status: str
    progress: int | float | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    throttled: bool = False  # queued, held back by the provider's own rate limits (Runway's THROTTLED)


@dataclass(frozen=True)
class Unreadable:
    """A 200 answer we could not make sense of (not an object, no status...): treated like a transient fault."""

    reason: str
