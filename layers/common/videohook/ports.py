"""The small interfaces the use cases depend on; adapters implement them, tests may stub them."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from videohook.domain.events import OutgoingEvent
from videohook.domain.models import Job
from videohook.domain.ssrf import Destination
from videohook.domain.webhooks import Answer

if TYPE_CHECKING:
    from videohook.config import ProviderSettings
    from videohook.domain.models import Reading
    from videohook.domain.polling import PollResult


class ShardsFailed(Exception):
    """Some due shards' calls failed (after boto3's retries) while the others answered: what the others gave
    (`result`, combined), and each failed shard's error. Raised by the store and the run coordination
    (`adapters.shard_calls.each_shard`), handled by the poller: a failed shard costs only its own jobs."""

    def __init__(self, what: str, result: Any, failed: dict[int, Exception]) -> None:
        reasons = sorted({type(exc).__name__ for exc in failed.values()})
        super().__init__(f"{len(failed)} due shard(s): {what} failed ({', '.join(reasons)})")
        self.what = what
        self.result = result
        self.failed = failed


class JobStore(Protocol):
    def create(self, job: Job) -> tuple[Job, bool]: ...
    def get(self, provider: str, video_id: str) -> Job | None: ...
    def stop(self, provider: str, video_id: str, now: float, owner: str | None = None) -> Job | None: ...
    def due_jobs(self, now: float, shards: Iterable[int] | None = None) -> list[Job]: ...
    def due_shards(self, now: float, shards: Iterable[int] | None = None) -> list[int]: ...
    def shard_of(self, provider: str, video_id: str) -> int: ...
    def next_due_at(self, until: float, shards: Sequence[int] | None = None) -> float | None: ...
    def save(self, job: Job, *, now: float) -> Job | None: ...
    def clear_pending(self, job: Job, *, now: float) -> bool: ...
    def release_pending(self, job: Job, *, now: float) -> bool: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutgoingEvent]) -> dict[str, str]:
        """Publish; return {event_id: reason} for the events SNS did not take."""
        ...


class TokenSource(Protocol):
    def token(self, secret_id: str) -> str: ...


class RunCoordination(Protocol):
    """What overlapping and successive runs share besides the jobs: provider pauses and due-shard leases."""

    def paused_until(self, providers: Iterable[str]) -> dict[str, float]: ...
    def pause(self, provider: str, until: float) -> None: ...
    def claim_shards(self, shards: Iterable[int], *, holder: str, until: float, now: float) -> list[int]: ...
    def renew_shards(self, shards: Iterable[int], *, holder: str, until: float) -> list[int]: ...
    def release_shards(self, shards: Iterable[int], *, holder: str) -> None: ...


class PollHttpFactory(Protocol):
    """Opens one run's HTTP session to the providers (an async context manager), with a pool of
    `max_connections`. The session is whatever the FetchVideo it goes with takes (aiohttp's, httpx's)."""

    def __call__(self, max_connections: int, /) -> AbstractAsyncContextManager[Any]: ...


class FetchVideo(Protocol):
    """One poll, `GET {base_url}/v1/videos/{video_id}` over the run's session: an Answered or a Fault. Never
    raises for upstream trouble; never lets the token reach a log line or an error message."""

    def __call__(
        self, http: Any, provider: ProviderSettings, token: str, video_id: str, duration: int | None, /
    ) -> Awaitable[PollResult]: ...


class WorkerLauncher(Protocol):
    def launch(self, shards: Sequence[int]) -> None:
        """Start a poller worker on these shards of the due index; raise if it could not be started."""
        ...


# -- inbound callbacks ------------------------------------------------------------------------------------
class CallbackVerifier(Protocol):
    def verify(
        self, provider: ProviderSettings, body: bytes, headers: Mapping[str, str], token: str | None, *, now: float
    ) -> None:
        """Return if the callback is the provider's (its scheme's signature, or the path token); raise
        services.inbound.CallbackRefused otherwise. Never puts a secret in the message."""
        ...


class EarlyCallbacks(Protocol):
    """Callbacks for jobs not tracked yet, kept a while; and, for dialects whose callbacks name a job by a
    part of its id (fal's request id, Kling's task id), the id each such key stands for."""

    def keep(self, provider: str, key: str, reading: Reading, *, now: float) -> None: ...
    def take(self, provider: str, key: str) -> list[Reading]: ...
    def resolve(self, provider: str, key: str) -> str | None: ...
    def alias(self, provider: str, key: str, video_id: str, *, now: float) -> None: ...


# -- webhooks ---------------------------------------------------------------------------------------------
class WebhookSender(Protocol):
    def send(self, destination: Destination, body: bytes, headers: Mapping[str, str]) -> Answer: ...


class WebhookQueue(Protocol):
    def change_visibility(self, receipt_handle: str, seconds: int) -> None: ...
    def send(self, body: str, attributes: Mapping[str, str]) -> str: ...


class JobReader(Protocol):
    """What WebhookFunction reads: the stored job an event names (its callback URL and its event come from it)."""

    def get(self, provider: str, video_id: str) -> Job | None: ...


class DeliveryLog(Protocol):
    def record_delivery(self, provider: str, video_id: str, attempt: dict[str, Any], *, keep: int) -> bool: ...


# -- archive ------------------------------------------------------------------------------------------------
class ArchiveRecords(Protocol):
    """What ArchiveFunction reads and writes in the table: the event's job, and its archived copy."""

    def get(self, provider: str, video_id: str) -> Job | None: ...
    def record_archive(self, provider: str, video_id: str, archive: dict[str, Any]) -> Job | None: ...


@dataclass(frozen=True)
class Download:
    """A video link's final answer (after its redirects), its body not read yet."""

    status: int
    content_type: str | None
    declared_length: int | None  # Content-Length, when the answer gave a number
    chunks: Iterator[bytes]  # the body, streamed


class HopRefused(Exception):
    """A hop of a download failed the address rule (domain.ssrf): no connection was made to it."""

    def __init__(self, where: str, reason: str, hop: int) -> None:
        super().__init__(f"video host {where} refused: {reason}")
        self.where = where
        self.reason = reason
        self.hop = hop  # the redirects followed before it (0: the link itself)


class TooManyRedirects(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the video link redirected more than {limit} times")
        self.limit = limit


class VideoSource(Protocol):
    def open(
        self, url: str, headers: Mapping[str, str], *, token_scope: str | None, max_redirects: int
    ) -> AbstractContextManager[Download]:
        """GET the link, following at most max_redirects redirects, each hop checked and pinned; `headers` go
        only to URLs under `token_scope` (none once a redirect has left it). Raises HopRefused,
        TooManyRedirects, ssrf.DestinationUnresolved, or the transport's own errors."""
        ...


class ArchiveStore(Protocol):
    def put(self, key: str, content_type: str, chunks: Iterable[bytes]) -> str:
        """Store the chunks under key, streamed; return the stored object's URI. Nothing is kept if `chunks`
        (or the store) raises: the exception goes on."""
        ...

    def presigned_url(self, key: str, expires_in: int) -> str: ...
