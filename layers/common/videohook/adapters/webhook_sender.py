"""HTTP adapter for webhooks: one signed POST to the address the SSRF check approved (pinned_http). Never
raises for the receiver's trouble; never follows a redirect; never logs headers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping

import httpx

from videohook.adapters.pinned_http import pinned_async_client, pinned_request, system_resolver
from videohook.adapters.provider_client import parse_retry_after
from videohook.domain.ssrf import Destination
from videohook.domain.webhooks import Answer

__all__ = ["USER_AGENT", "HttpxWebhookSender", "system_resolver"]

USER_AGENT = "videohook-webhooks/1"


class HttpxWebhookSender:
    """POSTs to `destination.address`, pinned (pinned_http: the URL's host as Host header and TLS server
    name, no second DNS lookup). `timeout_s` bounds the whole attempt, connect to headers."""

    def __init__(self, *, timeout_s: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout_s = timeout_s
        self._ssl_context = ssl_context

    def send(self, destination: Destination, body: bytes, headers: Mapping[str, str]) -> Answer:
        return asyncio.run(self._send(destination, body, headers))

    async def _send(self, destination: Destination, body: bytes, headers: Mapping[str, str]) -> Answer:
        request_headers = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
        async with pinned_async_client(timeout=self._timeout_s, ssl_context=self._ssl_context) as client:
            request = pinned_request(client, "POST", destination, headers=request_headers, content=body)
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await client.send(request, stream=True)
                    await response.aclose()  # the body is not needed; do not read what we did not ask for
            except (TimeoutError, httpx.TimeoutException):
                return Answer(error=f"timeout: no answer within {self._timeout_s:g} s")
            except httpx.HTTPError as exc:
                return Answer(error=_transport_error(exc))
        return Answer(
            status_code=response.status_code, retry_after_s=parse_retry_after(response.headers.get("retry-after"))
        )


def _transport_error(exc: httpx.HTTPError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or type(cause).__name__}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {str(exc)[:120] or type(exc).__name__}"
    return f"{type(exc).__name__}: {str(exc)[:120]}"
