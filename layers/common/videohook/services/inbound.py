"""Push first, poll as the backstop (PRODUCT.md, "Push from providers"): a provider's callback, verified by
its scheme, read through its dialect, and recorded with the same conditional write as a poll, so that a
transition carries one event with one id whether a callback or a poll saw it first.

Order of effects, as the poller's (services/poller/publishing.py): one conditional write records the new
state and, for a terminal one, the pending event, due a lease later; then SNS; then the pending mark is
cleared. A callback that dies between the two is published by the next poller run (same event id). A
callback for a job not yet tracked is kept (adapters/inbound_store.py) and applied at tracking."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from videohook.domain.dialects import paths
from videohook.domain.dialects.reader import read, status_of
from videohook.domain.events import event_message
from videohook.domain.models import Reading
from videohook.domain.polling import PollPolicy
from videohook.observability import logger
from videohook.ports import OutgoingEvent
from videohook.services.pushed import record_pushed

if TYPE_CHECKING:
    from videohook.config import ProviderSettings, Settings
    from videohook.domain.models import Job
    from videohook.ports import CallbackVerifier, EarlyCallbacks, EventPublisher, JobStore

MAX_BODY_BYTES = 1024 * 1024
PUBLISH_LEASE_S = 30.0  # the poller leaves a just-pushed event alone this long (it is being published)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class CallbackRefused(Exception):
    """The callback is not the provider's: nothing is written. The message never holds a secret."""


class Inbound:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        early: EarlyCallbacks,
        publisher: EventPublisher,
        verifier: CallbackVerifier,
        *,
        clock: Callable[[], float],
        count: Callable[[str, str], None] = lambda provider, outcome: None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._early_store = early
        self._publisher = publisher
        self._verifier = verifier
        self._clock = clock
        self._count = count
        self._policy = PollPolicy(base_s=settings.poll_interval_s, max_age_s=settings.max_job_age_s)

    def receive(self, provider_name: str, body: bytes, headers: Mapping[str, str], token: str | None) -> Answer:
        if len(body) > MAX_BODY_BYTES:  # before anything else, signed or not
            return Answer(413, _error(f"A callback is at most {MAX_BODY_BYTES} bytes", "body_too_large"))
        provider = self._settings.providers.get(provider_name)
        if provider is None or provider.inbound is None or provider.dialect.inbound is None:
            return Answer(404, _error("This provider takes no callbacks", "unknown_inbound"))
        self._count(provider.name, "received")
        try:
            self._verifier.verify(provider, body, {k.lower(): v for k, v in headers.items()}, token, now=self._clock())
        except CallbackRefused as exc:
            self._count(provider.name, "refused")
            logger.warning("callback refused; nothing written", extra={"provider": provider.name, "reason": str(exc)})
            return Answer(401, _error("The callback's signature does not verify", "bad_signature"))
        self._count(provider.name, "verified")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return Answer(400, _error("The callback body is not JSON", "invalid_json"))
        spec = provider.dialect.inbound
        if spec.challenge is not None and isinstance(paths.get(payload, spec.challenge), str):
            return Answer(200, {spec.challenge: paths.get(payload, spec.challenge)})  # MiniMax's handshake
        key = paths.first(payload, spec.key, str, int)
        obj = paths.get(payload, spec.object_path) if spec.object_path else payload
        if key is None or not isinstance(obj, dict):
            return Answer(400, _error("The callback names no job of this provider's form", "unreadable_callback"))
        reading = read(
            spec.reads or provider.dialect, obj, base_url=provider.base_url, video_id=str(key), now=self._clock()
        )
        if not isinstance(reading, Reading) or reading.status is None:
            return Answer(
                400, _error("The callback holds no status this provider's dialect reads", "unreadable_callback")
            )
        follow_up = provider.dialect.follow_up
        found = status_of(spec.reads or provider.dialect, obj)
        if follow_up is not None and spec.reads is None and found is not None and found[0] is follow_up.when:
            # The video is in a second read the callback does not carry (MiniMax's file lookup): poll now.
            self._poll_now(provider, str(key))
        else:
            self._record(provider, str(key), reading)
        return Answer(202, {"object": "inbound.accepted", "provider": provider.name})

    def _poll_now(self, provider: ProviderSettings, key: str) -> None:
        job = self._job(provider, key)
        if job is not None and job.active:
            self._store.save(job.with_changes(next_poll_at=self._clock()), now=self._clock())

    def _record(self, provider: ProviderSettings, key: str, reading: Reading) -> None:
        job = self._job(provider, key)
        if job is None:
            # Not tracked (yet): kept for a while, applied when it is. Tracking writes the job, then takes what
            # was kept; this keeps, then looks again: one of the two sees the other's write.
            self._early_store.keep(provider.name, key, reading, now=self._clock())
            job = self._job(provider, key)
            if job is None:
                logger.info("callback for a job not tracked yet; kept", extra={"provider": provider.name})
                return
            for kept in self._early_store.take(provider.name, key):
                job = self.apply(provider, job, kept)
            return
        self.apply(provider, job, reading)

    def _job(self, provider: ProviderSettings, key: str) -> Job | None:
        spec = provider.dialect.inbound
        assert spec is not None
        video_id = key if spec.key_from_id is None else self._early_store.resolve(provider.name, key)
        return self._store.get(provider.name, video_id) if video_id is not None else None

    def apply(self, provider: ProviderSettings, job: Job, reading: Reading) -> Job:
        """Record one pushed reading on `job` (services/pushed.py, as tracking does for a callback that came
        before the job) and publish the event it decides, if any."""
        assert provider.inbound is not None
        pushed = record_pushed(
            self._store,
            job,
            reading,
            clock=self._clock,
            policy=self._policy,
            backstop_s=provider.inbound.backstop_s,
            event_lease_s=PUBLISH_LEASE_S,
        )
        if pushed.gave_up:
            logger.warning(
                "callback not recorded after repeated conflicts; the backstop poll will see it",
                extra={"provider": provider.name, "video_id": job.video_id},
            )
        if pushed.recorded:
            if pushed.event_to_publish:
                self._publish(pushed.job)
            self._count(provider.name, "transition")
        return pushed.job

    def _publish(self, job: Job) -> None:
        assert job.pending_event is not None
        body, attributes = event_message(job, job.pending_event)
        try:
            refused = self._publisher.publish([OutgoingEvent(job.pending_event.id, body, attributes)])
        except Exception as exc:  # recorded as pending: the next poller run publishes it, same id
            refused = {job.pending_event.id: type(exc).__name__}
        if refused:
            logger.warning(
                "event not published; the next poller run publishes it",
                extra={"provider": job.provider, "event_id": job.pending_event.id},
            )
            return
        if not self._store.clear_pending(job, now=self._clock()):
            logger.info("pending event already settled", extra={"event_id": job.pending_event.id})


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}
