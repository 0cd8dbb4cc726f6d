"""HTTP adapter for `GET {base_url}/v1/videos/{id}`: one poll, turned into an Answered or a Fault. Never raises
for upstream trouble, and never lets the bearer token reach a log line or an error message."""

from __future__ import annotations

import json
import math
import time
from email.utils import parsedate_to_datetime

import httpx

from videohook.config import ProviderSettings
from videohook.polling import Answered, Fault, PollResult

MAX_BODY_BYTES = 256 * 1024  # a video object is ~1 KB; read no more than this of whatever comes back
MAX_RETRY_AFTER_S = 3600.0


def make_http_client(max_connections: int) -> httpx.AsyncClient:
    """One client per run: explicit pool limits and timeouts; redirects are not followed.

    The transport is aiohttp's pool behind httpx's API: at 64 requests in flight it costs a twentieth of the
    CPU of httpx's own pool (docs/performance.md, benchmark 1). Imported here: only the poller needs it.
    """
    from videohook.http_transport import AiohttpPoolTransport

    transport = AiohttpPoolTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        retries=0,
    )
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)


async def fetch_video(
    http: httpx.AsyncClient, provider: ProviderSettings, token: str, video_id: str, duration: int | None
) -> PollResult:
    url = f"{provider.base_url}/v1/videos/{_quote(video_id)}"
    params = {"duration": str(duration)} if duration else None
    timeout = httpx.Timeout(provider.timeout_seconds, connect=min(5.0, provider.timeout_seconds))
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        async with http.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
            body = await _read_bounded(response)
            return classify(response.status_code, response.headers, body)
    except httpx.TimeoutException as exc:
        return Fault("timeout", detail=type(exc).__name__)
    except httpx.HTTPError as exc:
        # Transport errors carry no request headers in their text; name only the class.
        return Fault("network", detail=type(exc).__name__)


def classify(status: int, headers: httpx.Headers, body: bytes | None) -> PollResult:
    if status == 200:
        if body is None:
            return Fault("bad_body", status, detail=f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            return Answered(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            return Fault("bad_body", status, detail="body is not JSON")
    if status == 404:
        return Fault("not_found", status)
    if status in (401, 403):
        return Fault("unauthorized", status)
    if status == 429:
        return Fault("rate_limited", status, retry_after_s=parse_retry_after(headers.get("retry-after")))
    if status >= 500:
        return Fault("server_error", status, retry_after_s=parse_retry_after(headers.get("retry-after")))
    return Fault("client_error", status)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable. Capped at an hour."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


async def _read_bounded(response: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _quote(video_id: str) -> str:
    from urllib.parse import quote

    return quote(video_id, safe="")
