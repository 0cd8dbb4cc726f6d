"""httpx over aiohttp's connection pool (the `httpx-aiohttp` transport), with aiohttp's errors translated.

The poller used this until it went to aiohttp directly (videohook/adapters/provider_client.py: httpx's own per-request
layer cost a further 13 % of the poller's CPU); the sweep benchmark keeps it as one of the compared clients,
and tests/integration/test_http_transport.py checks both read every failure as httpx's own transport does.

Why not httpx's own transport: httpcore's pool spends CPU per request that grows with the requests in
flight (encode/httpx#3215). Measured on this project's benchmark at 64 requests in flight: 16 ms CPU per
request through httpcore, 0.9 ms through aiohttp (docs/performance.md). The httpx API stays the same.

Why a subclass: httpx-aiohttp maps some aiohttp errors loosely (a refused connection comes out as
`ConnectTimeout`) and lets others through unmapped (a malformed response raises aiohttp's own error).
The provider client relies on every transport failure being an `httpx.TransportError` of the right kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# Most specific first: the first class an error is an instance of decides its httpx kind.
_KINDS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (TimeoutError, httpx.ReadTimeout),  # aiohttp's socket/server timeouts and asyncio's are TimeoutErrors
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # body cut short, as httpcore reports it
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # unreadable status line or headers
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
    (OSError, httpx.NetworkError),
)


def translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx error for an aiohttp (or socket) failure; None for anything else (a bug: let it raise)."""
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) and exc.__cause__ is not None else exc
    for kind, httpx_kind in _KINDS:
        if isinstance(cause, kind):
            return httpx_kind(f"{type(cause).__name__}: {cause}", request=request)
    return exc if isinstance(exc, httpx.TransportError) else None


class AiohttpPoolTransport(AiohttpTransport):
    """`httpx_aiohttp.AiohttpTransport` whose failures, while connecting or reading the body, are httpx's."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except Exception as exc:
            translated = translate(exc, request)
            if translated is None or translated is exc:
                raise
            raise translated from exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_TranslatedStream(response.stream, request),
            request=request,
            extensions=response.extensions,
        )


class _TranslatedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            translated = translate(exc, self._request)
            if translated is None or translated is exc:
                raise
            raise translated from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
