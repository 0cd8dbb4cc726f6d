"""HTTP adapter for archive downloads: a GET of a video link, every hop through the address rule and pinned.

Each hop goes through ssrf.check_destination and is pinned to the address checked (pinned_http): https only
(plain http only to loopback with the development flag ALLOW_LOOPBACK_CALLBACKS). Redirects are followed by
hand, each one checked again, on a client of its own (a pooled connection verified for one host name never
carries another's request). The caller's headers (the provider token) go only to URLs under its
`token_scope`, and never again once a redirect has left it. The body is streamed in chunks of CHUNK_SIZE.

What the answer means (a refusal, a status, a size) is the archive use case's to decide (services.archive).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urljoin

import httpx

from videohook.adapters.pinned_http import pinned_client, pinned_request, system_resolver
from videohook.domain.ssrf import DestinationRefused, Resolver, check_destination
from videohook.ports import Download, HopRefused, TooManyRedirects

CHUNK_SIZE = 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = "videohook-archive/1"


class PinnedVideoSource:
    """VideoSource over httpx. A hop refused by the address rule raises HopRefused (no connection made); a host
    that does not resolve raises ssrf.DestinationUnresolved; transport errors are httpx's own."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        resolve: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport_factory: Callable[[], httpx.BaseTransport] | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolve or system_resolver()
        self._ssl_context = ssl_context
        self._transport_factory = transport_factory  # tests: a real transport wrapped to watch the connections

    @contextlib.contextmanager
    def open(
        self, url: str, headers: Mapping[str, str], *, token_scope: str | None, max_redirects: int
    ) -> Iterator[Download]:
        sent = dict(headers)
        for hop in range(max_redirects + 1):
            if token_scope is None or not url.startswith(token_scope):
                sent = {}
            try:
                destination = check_destination(url, self._resolve, allow_loopback=self._allow_loopback)
            except DestinationRefused as refused:
                raise HopRefused(refused.where, refused.reason, hop) from None
            transport = self._transport_factory() if self._transport_factory else None
            with pinned_client(timeout=TIMEOUT, ssl_context=self._ssl_context, transport=transport) as http:
                request = pinned_request(http, "GET", destination, headers={**sent, "user-agent": USER_AGENT})
                response = http.send(request, stream=True)
                try:
                    if not response.is_redirect:
                        yield _download(response)
                        return
                    url = urljoin(url, response.headers["location"])
                finally:
                    response.close()
        raise TooManyRedirects(max_redirects)


def _download(response: httpx.Response) -> Download:
    declared = response.headers.get("content-length", "")
    return Download(
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        declared_length=int(declared) if declared.isdigit() else None,
        chunks=response.iter_bytes(CHUNK_SIZE),
    )
