"""The API's use cases: track a job, read it, stop it; each for a caller, who sees only the jobs they tracked.

Who may see a job (PRODUCT.md): a job belongs to the principal that tracked it. Another principal's job is
answered exactly like a job that does not exist (404); tracking a video id another principal tracks is a 409
that changes nothing. Operators (OPERATOR_PRINCIPALS) see and act on every job. A job stored before jobs had
owners has none: only operators see it, and tracking its id again is a 409 for everyone else.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from videohook.config import Settings
from videohook.domain.models import Job
from videohook.domain.polling import PollPolicy
from videohook.domain.schedule import first_poll_delay
from videohook.domain.validation import check_provider, check_video_id, parse_track_request
from videohook.ports import EarlyCallbacks, JobStore
from videohook.services.pushed import record_pushed

LOCAL_PRINCIPAL = "local"  # the caller where there is no authorizer (local runs, the CLI's local stack)
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>[0-9]{12}):assumed-role/(?P<role>[^/]+)/.+$")
_WITH_PATH = re.compile(
    r"^arn:(?P<partition>[^:]+):iam::(?P<account>[0-9]{12}):(?P<kind>role|user)/(?:.+/)?(?P<name>[^/]+)$"
)


def canonical_principal(arn: str) -> str:
    """The principal a caller's ARN (`requestContext.authorizer.iam.userArn`) stands for, as jobs store it.

    An assumed-role session is its role (`arn:aws:sts::1:assumed-role/R/session` -> `arn:aws:iam::1:role/R`):
    session names change with every set of credentials (a task's id, a CLI session), the role does not. Paths
    are dropped (`role/team/R` -> `role/R`, and the same for users): IAM names are unique in an account
    whatever their path, and a session's ARN does not carry the path. Anything else is kept as it is; an
    empty ARN (no authorizer) is `local`."""
    arn = arn.strip()
    if not arn:
        return LOCAL_PRINCIPAL
    if assumed := _ASSUMED_ROLE.match(arn):
        return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}"
    if named := _WITH_PATH.match(arn):
        return f"arn:{named['partition']}:iam::{named['account']}:{named['kind']}/{named['name']}"
    return arn


@dataclass(frozen=True)
class Caller:
    """Who is asking: their principal, and whether it is an operator's (who sees every job)."""

    principal: str
    operator: bool = False

    @classmethod
    def of(cls, user_arn: str, operators: Iterable[str]) -> Caller:
        principal = canonical_principal(user_arn)
        return cls(principal, principal in {canonical_principal(arn) for arn in operators})

    def may_see(self, job: Job) -> bool:
        return self.operator or (job.owner is not None and job.owner == self.principal)


class JobNotFound(LookupError):
    """No such job, or not one the caller may see: the two are answered alike (404)."""

    def __init__(self, provider: str, video_id: str) -> None:
        super().__init__(f"No job {video_id!r} of provider {provider!r} is tracked")


class JobOwnedElsewhere(Exception):
    """The video id is tracked by another principal (answered 409, nothing written). The message never names
    that principal."""

    def __init__(self, provider: str, video_id: str) -> None:
        super().__init__(
            f"Video {video_id!r} of provider {provider!r} is already tracked by another principal; "
            "it cannot be tracked again until that job is purged"
        )


class Tracking:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        *,
        early: EarlyCallbacks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._early_store = early
        self._clock = clock

    def caller(self, user_arn: str) -> Caller:
        """The caller of a request signed as `user_arn` (empty: no authorizer, a local run)."""
        return Caller.of(user_arn, self._settings.operator_principals)

    def track(self, body: Any, caller: Caller) -> tuple[Job, bool]:
        """Validate and register a job for `caller`; (job, True) when new, (the stored job, False) when already
        tracked by the caller (or when the caller is an operator). One conditional write decides: a video id
        tracked by another principal raises JobOwnedElsewhere and nothing is written."""
        providers = self._settings.providers
        request = parse_track_request(
            body,
            providers=providers,
            allow_loopback=self._settings.allow_loopback_callbacks,
            dialects={name: provider.dialect for name, provider in providers.items()},
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
            next_poll_at=now + self._first_poll_delay(request.provider),
            owner=caller.principal,
        )
        key = self._callback_key(job, now)
        stored, created = self._store.create(job)
        if not created and not caller.may_see(stored):
            raise JobOwnedElsewhere(stored.provider, stored.video_id)
        if created and key is not None:
            stored = self._apply_early(stored, key)
        return stored, created

    def _callback_key(self, job: Job, now: float) -> str | None:
        """For a provider that calls back: the key its callbacks name this job by, its alias written first
        when that is not the id itself (services/inbound.py looks the job up by it)."""
        provider = self._settings.providers[job.provider]
        spec = provider.dialect.inbound
        if self._early_store is None or provider.inbound is None or spec is None:
            return None
        key = spec.key_of(job.video_id)
        if key != job.video_id:
            self._early_store.alias(job.provider, key, job.video_id, now=now)
        return key

    def _apply_early(self, job: Job, key: str) -> Job:
        """Callbacks that came before the job was tracked, applied now, each as inbound applies a callback
        (services/pushed.py). A terminal one leaves its event pending and due at once: the next poller run
        publishes it (the API publishes nothing itself)."""
        assert self._early_store is not None
        provider = self._settings.providers[job.provider]
        assert provider.inbound is not None
        policy = PollPolicy(base_s=self._settings.poll_interval_s, max_age_s=self._settings.max_job_age_s)
        for reading in self._early_store.take(job.provider, key):
            job = record_pushed(
                self._store,
                job,
                reading,
                clock=self._clock,
                policy=policy,
                backstop_s=provider.inbound.backstop_s,
                event_lease_s=0.0,
            ).job
        return job

    def get(self, provider: str, video_id: str, caller: Caller) -> Job:
        provider, video_id = self._address(provider, video_id)
        job = self._store.get(provider, video_id)
        if job is None or not caller.may_see(job):
            raise JobNotFound(provider, video_id)
        return job

    def stop(self, provider: str, video_id: str, caller: Caller) -> Job:
        """Stop the job; a non-operator's stop is conditional on the job being theirs (no read first)."""
        provider, video_id = self._address(provider, video_id)
        owner = None if caller.operator else caller.principal
        job = self._store.stop(provider, video_id, now=self._clock(), owner=owner)
        if job is None:
            raise JobNotFound(provider, video_id)
        return job

    def _first_poll_delay(self, provider: str) -> float:
        """A provider that calls back is first polled only as the backstop (services/inbound.py)."""
        delay = first_poll_delay(self._settings.poll_interval_s)
        inbound = self._settings.providers[provider].inbound
        return max(delay, inbound.backstop_s) if inbound is not None else delay

    def _address(self, provider: str, video_id: str) -> tuple[str, str]:
        provider = check_provider(provider, self._settings.providers)
        return provider, check_video_id(video_id, self._settings.providers[provider].dialect)
