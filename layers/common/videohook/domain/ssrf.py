"""Where a request may go (webhooks, archive downloads): one rule for addresses, decided here for the API's
check of a callback URL and for every connection made to one.

`check_url` decides what can be decided without DNS: the scheme, the host's spelling (IDNA; numeric IPv4 in
any form inet_aton and WHATWG URL read, such as `2130706433`, `127.1`, `0x7f.0.0.1`, `0177.0.0.1`), literal
addresses and `localhost` names. The API refuses what it refuses (400). `check_destination` does the same
and then resolves a name once, refuses every address that is not public, and pins the request to the address
that was checked (no second lookup a rebinding DNS server could answer differently). Plain Python; the
resolver is passed in, so tests can make any host resolve to anything.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

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
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765): ::ffff:0:a.b.c.d


MAX_HOST_LENGTH = 253  # a DNS name, without its trailing dot (RFC 1035)
MAX_LABEL_LENGTH = 63
_DIGITS = {8: set("01234567"), 10: set("0123456789"), 16: set("0123456789abcdefABCDEF")}
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")  # after IDNA: letters, digits, hyphen (and underscore, seen in DNS)


class DestinationRefused(Exception):
    """The URL may not be called. The message names the host and the reason, never the URL's path or query
    (a caller may have put a token there)."""

    def __init__(self, host: str, reason: str, address: str | None = None) -> None:
        self.host = host if len(host) <= 80 else host[:77] + "..."
        self.address = address
        self.reason = reason
        super().__init__(f"callback host {self.where} refused: {reason}")

    @property
    def where(self) -> str:
        """The host, and the address it was judged by when that is another spelling."""
        return f"{self.host} ({self.address})" if self.address and self.address != self.host else self.host


class DestinationUnresolved(Exception):
    """The host did not resolve (a transient failure as far as we can tell: the delivery is retried)."""


@dataclass(frozen=True)
class Target:
    """What a URL says, checked without DNS. `host` is its canonical ASCII form: the IDNA A-label name, or
    the address for a literal (`127.1` -> `127.0.0.1`); `literal` is that address, None for a name."""

    url: str
    scheme: str
    host: str
    port: int
    literal: IPAddress | None
    localhost: bool  # a `localhost` name (RFC 6761: always loopback, whatever DNS says)


@dataclass(frozen=True)
class Destination:
    """A URL and the one address it was checked against; the request goes to that address. `host` is the
    canonical host (Target.host): the Host header and the TLS server name."""

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
    """Why `address` may not be connected to, or None when it may. IPv4 written inside IPv6 (mapped,
    translated, NAT64, 6to4) is judged by the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded, form = _embedded_v4(address)
        if embedded is not None:
            # A mapped address is the IPv4 address itself; the other forms reach it through a gateway.
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


def check_url(url: str, *, allow_loopback: bool = False) -> Target:
    """Everything about `url` that can be decided without DNS; raise DestinationRefused for what
    check_destination would refuse whatever the host resolves to. The API's callback check is this."""
    if not url.isprintable() or " " in url:  # urlsplit would silently drop tabs and newlines
        raise DestinationRefused("?", "the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise DestinationRefused("?", "not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise DestinationRefused(raw_host or "?", f"scheme {parts.scheme[:16]!r} is not https")
    if not raw_host:
        raise DestinationRefused("?", "no host in the URL")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused(raw_host, "credentials in the URL")
    if port == 0:
        raise DestinationRefused(raw_host, "port 0")
    host, literal = _host(raw_host, parts)
    target = Target(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        literal=literal,
        localhost=literal is None and _is_localhost_name(host),
    )
    if literal is not None:
        reason = refusal_reason(literal, allow_loopback=allow_loopback)
        if reason is not None:
            raise DestinationRefused(raw_host, reason, str(literal))
        if isinstance(literal, ipaddress.IPv6Address) and literal.scope_id:
            raise DestinationRefused(raw_host, "an IPv6 zone identifier", str(literal))
        _check_scheme(target, literal, allow_loopback)
    elif target.localhost and not allow_loopback:
        raise DestinationRefused(host, "loopback (a localhost name)")
    elif target.scheme == "http" and not allow_loopback:
        raise DestinationRefused(host, "plain http (only https, or http to loopback in development)")
    return target


def check_destination(url: str, resolve: Resolver, *, allow_loopback: bool = False) -> Destination:
    """check_url, then resolve the host (once; a literal is not looked up) and check every address it has;
    raise DestinationRefused when any is refused, DestinationUnresolved when there is none. https only;
    plain http only to loopback with the development flag."""
    target = check_url(url, allow_loopback=allow_loopback)
    addresses = [target.literal] if target.literal is not None else _resolved(target.host, target.port, resolve)
    for address in addresses:
        reason = refusal_reason(address, allow_loopback=allow_loopback)
        if reason is None and target.localhost and not _is_loopback(address):
            reason = "a localhost name that resolved to an address that is not loopback"
        if reason is not None:
            raise DestinationRefused(target.host, reason, str(address))
    chosen = _preferred(addresses)
    _check_scheme(target, chosen, allow_loopback)
    return Destination(
        url=url, scheme=target.scheme, host=target.host, port=target.port, address=str(_unmapped(chosen))
    )


def _check_scheme(target: Target, address: IPAddress, allow_loopback: bool) -> None:
    if target.scheme == "http" and not (allow_loopback and _is_loopback(address)):
        raise DestinationRefused(
            target.host, "plain http (only https, or http to loopback in development)", str(address)
        )


def _host(raw: str, parts: SplitResult) -> tuple[str, IPAddress | None]:
    """The host's canonical form and, for an address, the address. Brackets hold an IPv6 address, nothing
    else; a name is IDNA-encoded and must be a DNS name; a name whose last label is a number is an IPv4
    address in inet_aton's (and WHATWG URL's) spelling, or invalid."""
    if "[" in parts.netloc.rpartition("@")[2] or ":" in raw:
        try:
            address = ipaddress.IPv6Address(raw)
        except ValueError:
            raise DestinationRefused(raw, "not a valid IPv6 address") from None
        return str(address), address
    name = _ascii_name(raw)
    if _ends_in_number(name):
        v4 = parse_ipv4(name)
        if v4 is None:
            raise DestinationRefused(name, "a numeric host that is not a valid IPv4 address")
        return str(v4), v4
    return name, None


def _ascii_name(raw: str) -> str:
    """The IDNA (2003, as Python's socket and ssl modules encode) A-label form of a host name, checked as a
    DNS name: labels of 1-63 letters, digits, hyphens or underscores, at most 253 characters in all."""
    try:
        name = raw.lower().encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        detail = str(exc).rpartition("UnicodeError: ")[2].rstrip(")") or "IDNA cannot encode it"
        raise DestinationRefused(
            raw, f"not a valid host name: {detail} (labels are 1 to {MAX_LABEL_LENGTH} characters)"
        ) from None
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > MAX_HOST_LENGTH:
        raise DestinationRefused(name, f"a host name over {MAX_HOST_LENGTH} characters")
    for label in bare.split("."):
        if not _LABEL.fullmatch(label):
            if not label or len(label) > MAX_LABEL_LENGTH:
                raise DestinationRefused(
                    name, f"a host name with an empty label or one over {MAX_LABEL_LENGTH} characters"
                )
            raise DestinationRefused(name, "a host name with characters other than letters, digits, '-' and '_'")
    return name


def _ends_in_number(name: str) -> bool:
    """WHATWG URL's "ends in a number": the last label (a trailing dot aside) is decimal digits or 0x hex."""
    last = (name[:-1] if name.endswith(".") else name).rpartition(".")[2]
    if last.isdigit():
        return True
    return last[:2] == "0x" and all(char in "0123456789abcdef" for char in last[2:])


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling inet_aton accepts (1 to 4 parts, each decimal, octal with a leading 0
    or hex with 0x; the last part fills the remaining bytes), as WHATWG URL reads them (which also allows one
    trailing dot and an empty 0x); None when it is not one."""
    parts = text.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(number > 255 for number in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(head):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    digits, base = part, 10
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    if not digits:
        return 0
    if not set(digits) <= _DIGITS[base]:
        return None
    return int(digits, base)


def _is_localhost_name(name: str) -> bool:
    bare = name[:-1] if name.endswith(".") else name
    return bare == "localhost" or bare.endswith(".localhost")


def _resolved(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        answers = resolve(host, port)
    except OSError as exc:
        raise DestinationUnresolved(f"cannot resolve {host}: {type(exc).__name__}") from None
    except UnicodeError:
        raise DestinationRefused(host, "not a valid host name (IDNA)") from None
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
    if address in _TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-translated"
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
