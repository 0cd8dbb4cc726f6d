"""The API's use cases: track a job, read it, stop it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from videohook.config import Settings
from videohook.models import Job
from videohook.ports import JobStore
from videohook.schedule import first_poll_delay
from videohook.validation import check_provider, check_video_id, parse_track_request


class JobNotFound(LookupError):
    def __init__(self, provider: str, video_id: str) -> None:
        super().__init__(f"No job {video_id!r} of provider {provider!r} is tracked")


class Tracking:
    def __init__(self, settings: Settings, store: JobStore, *, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    def track(self, body: Any) -> tuple[Job, bool]:
        """Validate and register a job; (job, True) when new, (the stored job, False) when already tracked."""
        request = parse_track_request(
            body, providers=self._settings.providers, allow_loopback=self._settings.allow_loopback_callbacks
        )
        now = self._clock()
        job = Job(
            provider=request.provider,
            video_id=request.video_id,
            metadata=request.metadata,
            callback_url=request.callback_url,
            duration=request.duration,
            progress_events=request.progress_events,
            tracked_at=int(now),
            next_poll_at=now + first_poll_delay(self._settings.poll_interval_s),
        )
        return self._store.create(job)

    def get(self, provider: str, video_id: str) -> Job:
        job = self._store.get(*self._address(provider, video_id))
        if job is None:
            raise JobNotFound(provider, video_id)
        return job

    def stop(self, provider: str, video_id: str) -> Job:
        job = self._store.stop(*self._address(provider, video_id), now=self._clock())
        if job is None:
            raise JobNotFound(provider, video_id)
        return job

    def _address(self, provider: str, video_id: str) -> tuple[str, str]:
        return check_provider(provider, self._settings.providers), check_video_id(video_id)
