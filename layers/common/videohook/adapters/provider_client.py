"""HTTP adapter for one poll: the status request of the provider's dialect (`GET {base_url}/v1/videos/{id}` for
openai), and the dialect's second read when it has one (MiniMax's file lookup, fal's result), turned into an
Answered or a Fault. Never raises for upstream trouble, and never lets the token reach a log line or an error
message. Both requests go under the provider's base_url only: the token stays home.

The poller's client is an `aiohttp.ClientSession`: at 64 requests in flight it costs 0.9 ms of CPU per
request where httpx's own pool costs 17 ms (encode/httpx#3215), and going to aiohttp directly rather than
through httpx's API (the `httpx-aiohttp` transport) saves httpx's per-request layer as well (URL and
request objects, cookie extraction): docs/performance.md, benchmark 1. An `httpx.AsyncClient` is still
accepted (the benchmark compares the transports through this same function).

`make_http_client` and `fetch_video` are the poller's `PollHttpFactory` and `FetchVideo` (videohook.ports);
runtime.poller() hands them to it. Whether a token can be sent at all is a domain rule (domain/tokens.py)."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from videohook.adapters.provider_auth import auth_headers
from videohook.config import ProviderSettings
from videohook.domain.dialects.reader import status_of
from videohook.domain.dialects.requests import ProviderRequest, follow_up_request, status_request
from videohook.domain.polling import Answered, Fault, PollResult

if TYPE_CHECKING:
    import aiohttp
    import httpx

    PollHttp = aiohttp.ClientSession | httpx.AsyncClient

MAX_BODY_BYTES = 256 * 1024  # a video object is ~1 KB; read no more than this of whatever comes back
MAX_RETRY_AFTER_S = 3600.0
KEEPALIVE_S = 5.0
CONNECT_TIMEOUT_S = 5.0


def make_http_client(max_connections: int) -> aiohttp.ClientSession:
    """One session per run: a pool of `max_connections`, no cookies kept, no proxy from the environment.

    Imported here, not at module load: only the poller needs aiohttp (its import is ~100 ms of a cold start).
    Timeouts are per request (`fetch_video`); redirects are not followed there.
    """
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)


async def fetch_video(
    http: PollHttp, provider: ProviderSettings, token: str, video_id: str, duration: int | None
) -> PollResult:
    dialect = provider.dialect
    headers = {**provider.headers, **auth_headers(dialect.auth, token), "Accept": "application/json"}
    result = await _get(http, provider, status_request(dialect, provider.base_url, video_id, duration), headers)
    if not isinstance(result, Answered) or dialect.follow_up is None:
        return result
    found = status_of(dialect, result.body)
    follow = follow_up_request(dialect, provider.base_url, video_id, found[0] if found else None, result.body)
    if follow is None:
        return result
    second = await _get(http, provider, follow, headers, read_errors=dialect.follow_up.read_errors)
    if not isinstance(second, Answered):
        return second  # the job goes on as this fault says; the next poll asks for both again
    return Answered(result.body, follow=second.body)


async def _get(
    http: PollHttp,
    provider: ProviderSettings,
    request: ProviderRequest,
    headers: dict[str, str],
    *,
    read_errors: bool = False,
) -> PollResult:
    httpx_module = sys.modules.get("httpx")  # an httpx client can only exist if httpx was imported
    if httpx_module is not None and isinstance(http, httpx_module.AsyncClient):
        return await _fetch_httpx(http, request.url, request.params, headers, provider.timeout_seconds, read_errors)
    return await _fetch_aiohttp(
        http,  # type: ignore[arg-type]
        request.url,
        request.params,
        headers,
        provider.timeout_seconds,
        read_errors,
    )


async def _fetch_aiohttp(
    http: aiohttp.ClientSession,
    url: str,
    params: dict[str, str] | None,
    headers: dict[str, str],
    timeout_s: float,
    read_errors: bool = False,
) -> PollResult:
    import aiohttp
    from yarl import URL

    # As httpx reads its timeouts: connecting, each read, and waiting for a pooled connection.
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=min(CONNECT_TIMEOUT_S, timeout_s), sock_read=timeout_s, connect=timeout_s
    )
    try:
        async with http.get(
            URL(url, encoded=True), params=params, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            body = await _read_bounded_chunks(response.content.iter_chunked(64 * 1024))
            return classify(response.status, response.headers, body, read_errors=read_errors)
    except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
        return Fault("timeout", detail=type(exc).__name__)
    except (aiohttp.ClientError, OSError) as exc:
        # Transport errors carry no request headers in their text; name only the class.
        return Fault("network", detail=type(exc).__name__)


async def _fetch_httpx(
    http: httpx.AsyncClient,
    url: str,
    params: dict[str, str] | None,
    headers: dict[str, str],
    timeout_s: float,
    read_errors: bool = False,
) -> PollResult:
    import httpx

    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    try:
        async with http.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
            body = await _read_bounded_chunks(response.aiter_bytes())
            return classify(response.status_code, response.headers, body, read_errors=read_errors)
    except httpx.TimeoutException as exc:
        return Fault("timeout", detail=type(exc).__name__)
    except httpx.HTTPError as exc:
        return Fault("network", detail=type(exc).__name__)


def classify(status: int, headers: Mapping[str, str], body: bytes | None, *, read_errors: bool = False) -> PollResult:
    """An Answered for a 2xx JSON body (and, with `read_errors`, for a 4xx other than 401/403/404/429: fal's
    result answers a model's failure so); otherwise the Fault the status means."""
    if read_errors and 400 <= status < 500 and status not in (401, 403, 404, 429) and body:
        try:
            return Answered(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            pass
    if 200 <= status < 300:  # fal's queue answers 202 while a request waits
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


async def _read_bounded_chunks(stream: Any) -> bytes | None:
    """The whole body, or None once it passes MAX_BODY_BYTES (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
