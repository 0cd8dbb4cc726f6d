"""Requests pinned to the address the SSRF check approved (ssrf.check_destination), for webhooks and archive
downloads alike, and the system resolver that check uses.

The connection goes to `destination.address`; the original host is sent as the Host header and, for https,
as the TLS server name, so the certificate is verified for the name while no second DNS lookup happens.
No proxy from the environment (it would make its own lookup), no redirect followed (a caller that follows
one checks the next hop itself), no retry.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

import httpx

from videohook.domain.ssrf import Destination, Resolver

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


def pinned_url(destination: Destination) -> httpx.URL:
    """The destination's URL with the checked address in place of its host (no fragment)."""
    parts = urlsplit(destination.url)
    address = f"[{destination.address}]" if ":" in destination.address else destination.address
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return httpx.URL(f"{destination.scheme}://{address}:{destination.port}{target}")


def pinned_request(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    destination: Destination,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    """A request to the checked address, with the Host header and TLS server name of the URL's host."""
    extensions: dict[str, Any] = {}
    if destination.scheme == "https" and not destination.host_is_address:
        extensions["sni_hostname"] = destination.host
    return client.build_request(
        method,
        pinned_url(destination),
        headers={**(headers or {}), "host": destination.host_header},
        content=content,
        extensions=extensions,
    )


def pinned_client(
    *,
    timeout: httpx.Timeout | float,
    ssl_context: ssl.SSLContext | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for pinned requests. Use one per destination: its pool is keyed by address, and a connection
    made (and its certificate verified) for one host name must not carry another's request."""
    transport = transport or httpx.HTTPTransport(verify=ssl_context or True, retries=0)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False, timeout=timeout)


def pinned_async_client(
    *, timeout: httpx.Timeout | float, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    """The asyncio twin of pinned_client."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context or True, retries=0)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, timeout=timeout)
