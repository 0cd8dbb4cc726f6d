"""The archive use case: copy a completed video into the ArchiveBucket, then announce its event.

Download links expire (OpenAI's within an hour) and SkyEngine/OpenAI videos have no direct link at all (their
`content_url` needs the provider token), so a completed job's video is streamed into S3 and the event goes out
with `archive: {s3_uri, url, url_expires_at, bytes, sha256}`: a presigned link that works without the token.

Streaming is bounded: the body is read in chunks and sent as multipart parts of PART_SIZE, so memory stays
near one part whatever the video's size; the SHA-256 is computed on the way. The provider token is only ever
sent to the provider's own `base_url` (never to a `video_url` or to where a redirect leads elsewhere).

The download is a closed boundary, as webhooks are: every hop goes through ssrf.check_destination and is
pinned to the address checked (pinned_http); https only (plain http only to loopback with the development
flag ALLOW_LOOPBACK_CALLBACKS); redirects are followed by hand, at most MAX_REDIRECTS, each one re-checked.
A refused hop is permanent (`refused`, no connection made); a host that does not resolve is transient.

Failures: a transient one (5xx, 429, timeouts) is raised so SQS redelivers the message; a permanent one (the
link is gone, refused, empty or too big), or a transient one on the last attempt, records
`archive: {"error": ...}` and announces the event anyway: a video is never left unannounced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from videohook.adapters.pinned_http import pinned_client, pinned_request, system_resolver
from videohook.config import Settings
from videohook.domain.events import OutgoingEvent
from videohook.domain.models import Job
from videohook.domain.ssrf import DestinationRefused, DestinationUnresolved, Resolver, check_destination
from videohook.observability import logger
from videohook.ports import EventPublisher, TokenSource

PART_SIZE = 8 * 1024 * 1024  # S3 parts are at least 5 MiB (but the last)
CHUNK_SIZE = 1024 * 1024
MAX_ARCHIVE_BYTES = 8 * 1024**3
MAX_ATTEMPTS = 3  # deliveries of one message before archiving is given up (the event still goes out)
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_REDIRECTS = 5
USER_AGENT = "videohook-archive/1"


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
        store: Any,  # DynamoJobStore: get, record_archive
        tokens: TokenSource,
        s3: Any,
        publisher: EventPublisher,
        *,
        resolve: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport_factory: Callable[[], httpx.BaseTransport] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._s3 = s3
        self._publisher = publisher
        self._resolve = resolve or system_resolver()
        self._ssl_context = ssl_context
        self._transport_factory = transport_factory  # tests: a real transport wrapped to watch the connections
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
        token = self._tokens.token(provider.api_key_secret)
        return Source(str(content_url), {"Authorization": f"Bearer {token}"}, token_scope=provider.base_url + "/")

    @contextlib.contextmanager
    def _download(self, source: Source) -> Iterator[httpx.Response]:
        """GET the source, following redirects by hand: each hop checked and pinned, on a client of its own
        (a pooled connection verified for one host name never carries another's request). The source's
        headers (the token) go only to URLs in its scope, and never again once a redirect has left it."""
        url, headers = source.url, dict(source.headers)
        for hop in range(MAX_REDIRECTS + 1):
            if source.token_scope is None or not url.startswith(source.token_scope):
                headers = {}
            try:
                destination = check_destination(
                    url, self._resolve, allow_loopback=self._settings.allow_loopback_callbacks
                )
            except DestinationRefused as refused:
                after = f" (after {hop} redirect{'s' if hop != 1 else ''})" if hop else ""
                raise SourceRefused("refused", f"video host {refused.where} refused: {refused.reason}{after}") from None
            except DestinationUnresolved as unresolved:
                raise ArchiveRetry(str(unresolved)) from None
            transport = self._transport_factory() if self._transport_factory else None
            with pinned_client(timeout=TIMEOUT, ssl_context=self._ssl_context, transport=transport) as http:
                request = pinned_request(http, "GET", destination, headers={**headers, "user-agent": USER_AGENT})
                response = http.send(request, stream=True)
                try:
                    if not response.is_redirect:
                        yield response
                        return
                    url = urljoin(url, response.headers["location"])
                finally:
                    response.close()
        raise SourceRefused("too_many_redirects", f"the video link redirected more than {MAX_REDIRECTS} times")

    def _copy(self, source: Source, provider: str, video_id: str) -> dict[str, Any]:
        key = f"videos/{provider}/{video_id}"
        with self._download(source) as response:
            _check(response)
            upload = self._s3.create_multipart_upload(
                Bucket=self._settings.archive_bucket,
                Key=key,
                ContentType=response.headers.get("content-type", "application/octet-stream"),
            )["UploadId"]
            try:
                size, digest, parts = self._upload(response, key, upload)
                self._s3.complete_multipart_upload(
                    Bucket=self._settings.archive_bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                self._s3.abort_multipart_upload(Bucket=self._settings.archive_bucket, Key=key, UploadId=upload)
                raise
        ttl = self._settings.archive_url_ttl_s
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._settings.archive_bucket, "Key": key}, ExpiresIn=ttl
        )
        return {
            "s3_uri": f"s3://{self._settings.archive_bucket}/{key}",
            "url": url,
            "url_expires_at": int(self._clock()) + ttl,
            "bytes": size,
            "sha256": digest,
        }

    def _upload(self, response: httpx.Response, key: str, upload: str) -> tuple[int, str, list[dict[str, Any]]]:
        digest = hashlib.sha256()
        buffer = bytearray()
        parts: list[dict[str, Any]] = []
        size = 0

        def flush() -> None:
            answer = self._s3.upload_part(
                Bucket=self._settings.archive_bucket,
                Key=key,
                UploadId=upload,
                PartNumber=len(parts) + 1,
                Body=bytes(buffer),
            )
            parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
            buffer.clear()

        for chunk in response.iter_bytes(CHUNK_SIZE):
            size += len(chunk)
            if size > MAX_ARCHIVE_BYTES:
                raise SourceRefused("too_large", f"the video is larger than {MAX_ARCHIVE_BYTES} bytes")
            digest.update(chunk)
            buffer += chunk
            if len(buffer) >= PART_SIZE:
                flush()
        if size == 0:
            raise SourceRefused("empty", "the video link answered an empty body")
        if buffer:
            flush()
        return size, digest.hexdigest(), parts


def _check(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
            raise SourceRefused("too_large", f"the video is larger than {MAX_ARCHIVE_BYTES} bytes")
        return
    if status == 429 or status >= 500:
        raise ArchiveRetry(f"the video link answered {status}")
    raise SourceRefused("unavailable", f"the video link answered {status}")
