"""Where a webhook may go: resolve the callback's host once, refuse every address that is not public, and
pin the request to the address that was checked (no second lookup a rebinding DNS server could answer
differently). Plain Python; the resolver is passed in, so tests can make any host resolve to anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (strings, as socket.getaddrinfo gives them)
Resolver = Callable[[str, int], Sequence[str]]

_V4_REFUSED = [
    (ipaddress.IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("169.254.0.0/16", "link-local (incl. the instance metadata address)"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
    )
]
_V6_REFUSED = [
    (ipaddress.IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
    )
]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


class DestinationRefused(Exception):
    """The callback URL may not be called. The message names the host and the reason, never the URL's path
    or query (a caller may have put a token there)."""

    def __init__(self, host: str, reason: str, address: str | None = None) -> None:
        where = f"{host} ({address})" if address and address != host else host
        super().__init__(f"callback host {where} refused: {reason}")
        self.host = host
        self.address = address
        self.reason = reason


class DestinationUnresolved(Exception):
    """The host did not resolve (a transient failure as far as we can tell: the delivery is retried)."""


@dataclass(frozen=True)
class Destination:
    """A callback URL and the one address it was checked against; the request goes to that address."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def host_is_address(self) -> bool:
        return _literal(self.host) is not None


def refusal_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not receive a webhook, or None when it may. IPv4 written inside IPv6 (mapped,
    NAT64, 6to4) is judged by the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded, form = _embedded_v4(address)
        if embedded is not None:
            # A mapped address is the IPv4 address itself; NAT64 and 6to4 forms reach it through a gateway.
            reason = refusal_reason(embedded, allow_loopback=allow_loopback and form == "IPv4-mapped")
            return f"{form} form of {embedded}, {reason}" if reason else None
    table: Sequence[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]
    table = _V6_REFUSED if isinstance(address, ipaddress.IPv6Address) else _V4_REFUSED
    for network, reason in table:
        if address in network:
            if reason == "loopback" and allow_loopback:
                return None
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


def check_destination(url: str, resolve: Resolver, *, allow_loopback: bool = False) -> Destination:
    """Resolve the callback URL's host (once) and check every address it has; raise DestinationRefused when
    any is refused, DestinationUnresolved when there is none. https only; plain http only to loopback with
    the development flag."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("?", "not a valid URL") from None
    if not host:
        raise DestinationRefused("?", "no host in the URL")
    if parts.scheme not in ("https", "http"):
        raise DestinationRefused(host, f"scheme {parts.scheme!r} is not https")
    if parts.username or parts.password:
        raise DestinationRefused(host, "credentials in the URL")
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        addresses = _resolved(host, port, resolve)
    for address in addresses:
        reason = refusal_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise DestinationRefused(host, reason, str(address))
    chosen = _preferred(addresses)
    if parts.scheme == "http" and not (allow_loopback and _is_loopback(chosen)):
        raise DestinationRefused(host, "plain http (only https, or http to loopback in development)", str(chosen))
    return Destination(url=url, scheme=parts.scheme, host=host, port=port, address=str(_unmapped(chosen)))


def _resolved(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        answers = resolve(host, port)
    except OSError as exc:
        raise DestinationUnresolved(f"cannot resolve {host}: {type(exc).__name__}") from None
    addresses = []
    for answer in answers:
        address = _literal(answer)
        if address is None:
            raise DestinationRefused(host, f"resolved to something that is not an address: {answer[:64]!r}")
        addresses.append(address)
    if not addresses:
        raise DestinationUnresolved(f"cannot resolve {host}: no address")
    return addresses


def _literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _SIX_TO_FOUR:
        return address.sixtofour, "6to4"
    return None, ""


def _is_loopback(address: IPAddress) -> bool:
    return _unmapped(address).is_loopback


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _preferred(addresses: list[IPAddress]) -> IPAddress:
    """IPv4 first: Lambda functions outside a dual-stack VPC have no IPv6 egress."""
    return next((a for a in addresses if isinstance(_unmapped(a), ipaddress.IPv4Address)), addresses[0])
