"""The archive use case: copy a completed video into the ArchiveBucket, then announce its event.

Download links expire (OpenAI's within an hour) and SkyEngine/OpenAI videos have no direct link at all (their
`content_url` needs the provider token), so a completed job's video is streamed into S3 and the event goes out
with `archive: {s3_uri, url, url_expires_at, bytes, sha256}`: a presigned link that works without the token.

Streaming is bounded: the body is read in chunks (the VideoSource) and stored as it comes (the ArchiveStore,
a multipart upload), so memory stays near one part whatever the video's size; the SHA-256 and the size are
computed on the way, and a body above MAX_ARCHIVE_BYTES is refused. The provider token is only ever sent to
the provider's own `base_url` (never to a `video_url` or to where a redirect leads elsewhere).

The download is a closed boundary, as webhooks are (adapters.video_download): every hop goes through
ssrf.check_destination and is pinned to the address checked; https only (plain http only to loopback with the
development flag ALLOW_LOOPBACK_CALLBACKS); redirects are followed by hand, at most MAX_REDIRECTS, each one
re-checked. A refused hop is permanent (`refused`, no connection made); a host that does not resolve is
transient.

Failures: a transient one (5xx, 429, timeouts) is raised so SQS redelivers the message; a permanent one (the
link is gone, refused, empty or too big), or a transient one on the last attempt, records
`archive: {"error": ...}` and announces the event anyway: a video is never left unannounced.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from videohook.config import Settings
from videohook.domain.events import OutgoingEvent
from videohook.domain.models import Job
from videohook.domain.ssrf import DestinationUnresolved
from videohook.observability import logger
from videohook.ports import HopRefused, TooManyRedirects

if TYPE_CHECKING:
    from videohook.ports import ArchiveRecords, ArchiveStore, Download, EventPublisher, TokenSource, VideoSource

MAX_ARCHIVE_BYTES = 8 * 1024**3
MAX_ATTEMPTS = 3  # deliveries of one message before archiving is given up (the event still goes out)
MAX_REDIRECTS = 5


class ArchiveRetry(Exception):
    """Transient: let SQS deliver the message again."""


class SourceRefused(Exception):
    """Permanent: this video cannot be copied."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Source:
    url: str
    headers: dict[str, str]
    token_scope: str | None = None  # the headers go only to URLs under this prefix (the provider's base_url/)


class Archiver:
    def __init__(
        self,
        settings: Settings,
        store: ArchiveRecords,
        tokens: TokenSource,
        bucket: ArchiveStore,
        publisher: EventPublisher,
        source: VideoSource,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._bucket = bucket
        self._publisher = publisher
        self._videos = source
        self._clock = clock

    def handle(self, event: dict[str, Any], *, attempt: int) -> dict[str, Any]:
        """Archive the event's video (once: a redelivery reuses the recorded copy), then announce the event."""
        data = event["data"]
        provider, video_id = data["provider"], data["id"]
        job: Job | None = self._store.get(provider, video_id)
        archive = job.archive if job is not None and job.archive else None
        if archive is None:
            archive = self._archive(job, data, attempt)
            job = self._store.record_archive(provider, video_id, archive) or job
        announced = {
            **event,
            "data": job.to_public(with_deliveries=False) if job is not None else {**data, "archive": archive},
        }
        body = json.dumps(announced, separators=(",", ":"), ensure_ascii=False)
        attributes = {"type": event["type"], "provider": provider, "status": data["status"]}
        failed = self._publisher.publish([OutgoingEvent(event["id"], body, attributes)])
        if failed:
            raise ArchiveRetry(f"the topic refused event {event['id']}: {failed[event['id']]}")
        logger.info(
            "archived and announced",
            extra={
                "event_id": event["id"],
                "provider": provider,
                "video_id": video_id,
                "archive_ok": "error" not in archive,
            },
        )
        return archive

    def _archive(self, job: Job | None, data: dict[str, Any], attempt: int) -> dict[str, Any]:
        where = {"provider": data["provider"], "video_id": data["id"], "attempt": attempt}
        try:
            return self._copy(self._source(data), data["provider"], data["id"])
        except SourceRefused as exc:
            logger.warning("video not archived", extra={**where, "code": exc.code, "reason": str(exc)})
            return {"error": {"code": exc.code, "message": str(exc)}}
        except Exception as exc:  # transient (5xx, timeouts, S3 or the token store) until the last attempt
            reason = str(exc) if isinstance(exc, ArchiveRetry) else type(exc).__name__
            if attempt < MAX_ATTEMPTS:
                logger.warning("archiving failed; SQS will retry", extra={**where, "reason": reason})
                raise ArchiveRetry(reason) from None
            logger.error("archiving given up; announcing without it", extra={**where, "reason": reason})
            return {"error": {"code": "archive_failed", "message": f"gave up after {attempt} attempts: {reason}"}}

    def _source(self, data: dict[str, Any]) -> Source:
        if data.get("video_url"):
            return Source(str(data["video_url"]), {})
        content_url = data.get("content_url")
        provider = self._settings.providers.get(data["provider"])
        if not content_url or provider is None:
            raise SourceRefused("no_link", "the job has neither a video_url nor a content_url of a configured provider")
        if not str(content_url).startswith(provider.base_url + "/"):
            raise SourceRefused("foreign_link", "content_url is not on the provider's base_url; the token stays home")
        auth = provider.dialect.auth
        if auth.mint is not None:  # no built-in dialect with a minted token has a key-only download link
            raise SourceRefused("no_link", f"the {provider.dialect.name} dialect's token cannot fetch content_url")
        token = self._tokens.token(provider.api_key_secret)
        headers = {**provider.headers, auth.header: auth.prefix + token}
        return Source(str(content_url), headers, token_scope=provider.base_url + "/")

    def _copy(self, source: Source, provider: str, video_id: str) -> dict[str, Any]:
        key = f"videos/{provider}/{video_id}"
        try:
            with self._videos.open(
                source.url, source.headers, token_scope=source.token_scope, max_redirects=MAX_REDIRECTS
            ) as download:
                _check(download)
                body = _Measured(download.chunks)
                content_type = download.content_type
                s3_uri = self._bucket.put(
                    key, content_type if content_type is not None else "application/octet-stream", body
                )
        except HopRefused as refused:
            after = f" (after {refused.hop} redirect{'s' if refused.hop != 1 else ''})" if refused.hop else ""
            raise SourceRefused("refused", f"{refused}{after}") from None
        except TooManyRedirects as exc:
            raise SourceRefused("too_many_redirects", str(exc)) from None
        except DestinationUnresolved as unresolved:
            raise ArchiveRetry(str(unresolved)) from None
        ttl = self._settings.archive_url_ttl_s
        return {
            "s3_uri": s3_uri,
            "url": self._bucket.presigned_url(key, ttl),
            "url_expires_at": int(self._clock()) + ttl,
            "bytes": body.size,
            "sha256": body.sha256,
        }


def _check(download: Download) -> None:
    status = download.status
    if status == 200:
        if download.declared_length is not None and download.declared_length > MAX_ARCHIVE_BYTES:
            raise SourceRefused("too_large", f"the video is larger than {MAX_ARCHIVE_BYTES} bytes")
        return
    if status == 429 or status >= 500:
        raise ArchiveRetry(f"the video link answered {status}")
    raise SourceRefused("unavailable", f"the video link answered {status}")


class _Measured:
    """A body's chunks, counted and hashed on the way to the store; refused when too large, or empty."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._digest = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.size += len(chunk)
            if self.size > MAX_ARCHIVE_BYTES:
                raise SourceRefused("too_large", f"the video is larger than {MAX_ARCHIVE_BYTES} bytes")
            self._digest.update(chunk)
            yield chunk
        if self.size == 0:
            raise SourceRefused("empty", "the video link answered an empty body")
