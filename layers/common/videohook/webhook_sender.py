"""HTTP adapter for webhooks: one signed POST to the address the SSRF check approved, and the system resolver
that check uses. Never raises for the receiver's trouble; never follows a redirect; never logs headers."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import httpx

from videohook.provider_client import parse_retry_after
from videohook.ssrf import Destination, Resolver
from videohook.webhooks import Answer

USER_AGENT = "videohook-webhooks/1"
RESOLVE_TIMEOUT_S = 5.0
_resolver_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


def system_resolver(timeout_s: float = RESOLVE_TIMEOUT_S) -> Resolver:
    """getaddrinfo with a deadline (it has none of its own); a lookup that runs over raises OSError."""

    def resolve(host: str, port: int) -> Sequence[str]:
        future = _resolver_threads.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=timeout_s)
        except FutureTimeout:
            raise OSError(f"no answer within {timeout_s:g} s") from None
        return [str(info[4][0]) for info in infos]

    return resolve


class HttpxWebhookSender:
    """POSTs to `destination.address` with the original Host header and, for https, the original host as
    TLS server name (so the certificate is verified for the name, while the connection goes to the checked
    address and no second DNS lookup happens). `timeout_s` bounds the whole attempt, connect to headers."""

    def __init__(self, *, timeout_s: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout_s = timeout_s
        self._ssl_context = ssl_context

    def send(self, destination: Destination, body: bytes, headers: Mapping[str, str]) -> Answer:
        return asyncio.run(self._send(destination, body, headers))

    async def _send(self, destination: Destination, body: bytes, headers: Mapping[str, str]) -> Answer:
        url = httpx.URL(destination.url).copy_with(host=destination.address)
        request_headers = {
            **headers,
            "host": destination.host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        extensions = {}
        if destination.scheme == "https" and not destination.host_is_address:
            extensions["sni_hostname"] = destination.host
        transport = httpx.AsyncHTTPTransport(verify=self._ssl_context or True, retries=0)
        async with httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False, timeout=self._timeout_s
        ) as client:
            request = client.build_request("POST", url, content=body, headers=request_headers, extensions=extensions)
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
