"""The SSRF guard: every non-public address is refused, in every spelling, before any connection; the request
is pinned to the address that was checked; a host that is not a valid name is a refusal, never a crash."""

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from videohook.domain.ssrf import (
    DestinationRefused,
    DestinationUnresolved,
    check_destination,
    check_url,
    parse_ipv4,
    refusal_reason,
)

FORBIDDEN = {
    "127.0.0.1": "loopback",
    "127.255.0.1": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "::": "unspecified",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.0.1": "private",
    "169.254.169.254": "link-local",
    "169.254.0.1": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "255.255.255.255": "reserved",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "IPv4-mapped form of 127.0.0.1, loopback",
    "::ffff:10.0.0.1": "IPv4-mapped form of 10.0.0.1, private",
    "::ffff:169.254.169.254": "IPv4-mapped form of 169.254.169.254, link-local",
    "::ffff:100.64.0.1": "IPv4-mapped form of 100.64.0.1, carrier-grade NAT",
    "::ffff:0:7f00:1": "IPv4-translated form of 127.0.0.1, loopback",
    "::ffff:0:a9fe:a9fe": "IPv4-translated form of 169.254.169.254, link-local",
    "64:ff9b::7f00:1": "NAT64 form of 127.0.0.1, loopback",
    "64:ff9b::a9fe:a9fe": "NAT64 form of 169.254.169.254, link-local",
    "64:ff9b::c0a8:101": "NAT64 form of 192.168.1.1, private",
    "64:ff9b:1::a00:1": "local-use NAT64",
    "2002:7f00:1::1": "6to4 form of 127.0.0.1, loopback",
    "2002:a9fe:a9fe::": "6to4 form of 169.254.169.254, link-local",
    "2002:a00:1::1": "6to4 form of 10.0.0.1, private",
    "::7f00:1": "IPv4-compatible",
    "2001:db8::1": "documentation",
    "192.0.2.10": "documentation",
}
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "::ffff:0:808:808",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


def resolver(answers: dict[str, list[str]]):
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        return answers[host]

    resolve.calls = calls
    return resolve


def no_lookup(host, port):
    raise AssertionError(f"a literal address must not be looked up ({host})")


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN.items())
def test_every_non_public_address_is_refused_with_its_reason(address, reason):
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None and found.startswith(reason)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", FORBIDDEN)
def test_a_literal_forbidden_address_in_the_url_is_refused_without_lookup(address):
    host = f"[{address.replace('%', '%25')}]" if ":" in address else address
    with pytest.raises(DestinationRefused) as refused:
        check_destination(f"https://{host}/hook?token=s3cr3t", no_lookup)
    assert refused.value.reason.startswith(FORBIDDEN[address])
    assert "s3cr3t" not in str(refused.value) and "/hook" not in str(refused.value)


@pytest.mark.parametrize("address", FORBIDDEN)
def test_a_name_resolving_to_a_forbidden_address_is_refused(address):
    resolve = resolver({"hooks.attacker.test": [address]})
    with pytest.raises(DestinationRefused) as refused:
        check_destination("https://hooks.attacker.test/hook", resolve)
    assert refused.value.host == "hooks.attacker.test"
    assert ipaddress.ip_address(refused.value.address or "") == ipaddress.ip_address(address)
    assert resolve.calls == [("hooks.attacker.test", 443)]


def test_one_forbidden_address_among_public_ones_refuses_the_name():
    resolve = resolver({"mixed.test": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(DestinationRefused, match=r"10\.0\.0\.7"):
        check_destination("https://mixed.test/", resolve)


def test_the_destination_is_pinned_to_the_checked_address_after_one_lookup():
    resolve = resolver({"hooks.example.test": ["2606:4700::6810:84e5", "93.184.215.14"]})
    destination = check_destination("https://hooks.example.test:8443/in?x=1", resolve)
    assert resolve.calls == [("hooks.example.test", 8443)]
    assert destination.address == "93.184.215.14"  # IPv4 first
    assert destination.host == "hooks.example.test" and destination.host_header == "hooks.example.test:8443"
    assert not destination.host_is_address


NUMERIC = {
    # every spelling inet_aton (hence getaddrinfo) and WHATWG URL read as an IPv4 address
    "2130706433": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "0X7F000001": "127.0.0.1",
    "017700000001": "127.0.0.1",
    "127.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "0x7f.0.0.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "127.000.000.001": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11": "127.0.0.1",  # fullwidth digits, read after IDNA mapping
    "0x0a.0.0.1": "10.0.0.1",
    "2852039166": "169.254.169.254",
    "0251.0376.0251.0376": "169.254.169.254",
    "0xa9.0xfe.0xa9fe": "169.254.169.254",
    "0x": "0.0.0.0",
}


@pytest.mark.parametrize(("host", "address"), NUMERIC.items())
def test_numeric_spellings_are_addresses_judged_without_lookup(host, address):
    with pytest.raises(DestinationRefused) as refused:
        check_destination(f"https://{host}/", no_lookup)
    assert refused.value.address == address
    assert refused.value.reason == refusal_reason(ipaddress.ip_address(address))


def test_a_public_numeric_spelling_is_pinned_to_its_address_without_lookup():
    destination = check_destination("https://134744072:8443/hook", no_lookup)
    assert destination.address == destination.host == "8.8.8.8"
    assert destination.host_header == "8.8.8.8:8443" and destination.host_is_address


@pytest.mark.parametrize(
    "host", ["256.0.0.1", "1.2.3.4.5", "08.0.0.1", "1.0x1g.3.4", "4294967296", "example.123", "a..1"]
)
def test_a_host_ending_in_a_number_that_is_no_ipv4_address_is_refused_without_lookup(host):
    with pytest.raises(DestinationRefused):
        check_destination(f"https://{host}/", no_lookup)


# small parts, any 32-bit value, and the edges where a part stops fitting
PART_VALUES = st.one_of(
    st.integers(0, 300),
    st.integers(0, 2**32 + 5),
    st.sampled_from([255, 256, 2**16 - 1, 2**16, 2**24 - 1, 2**24, 2**32 - 1, 2**32]),
)


@given(st.lists(st.tuples(PART_VALUES, st.sampled_from(["dec", "oct", "hex", "HEX"])), min_size=1, max_size=5))
def test_ipv4_spellings_are_read_as_inet_aton_reads_them(parts):
    spelled = {"dec": str, "oct": lambda n: f"0{n:o}", "hex": lambda n: f"0x{n:x}", "HEX": lambda n: f"0X{n:X}"}
    text = ".".join(spelled[form](number) for number, form in parts)
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        expected = None
    assert parse_ipv4(text) == expected


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("a" * 64 + ".example.com", "63"),
        (".".join(["a" * 63] * 4) + ".com", "253"),
        ("a..example.com", "empty"),
        (".example.com", "empty"),
        ("exa%41mple.com", "characters"),
        ("exa!mple.com", "characters"),
    ],
)
def test_a_host_that_is_not_a_valid_name_is_a_refusal_not_a_crash_or_a_lookup(host, reason):
    with pytest.raises(DestinationRefused, match=reason):
        check_destination(f"https://{host}/hook", no_lookup)


def test_an_international_name_is_resolved_and_sent_as_its_a_label():
    resolve = resolver({"xn--bcher-kva.example": ["93.184.215.14"]})
    destination = check_destination("https://B\u00fccher.example/hook", resolve)
    assert resolve.calls == [("xn--bcher-kva.example", 443)]
    assert destination.host_header == "xn--bcher-kva.example" and destination.address == "93.184.215.14"


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.", "hooks.localhost", "a.b.localhost."])
def test_localhost_names_are_loopback_without_lookup(host):
    with pytest.raises(DestinationRefused, match="loopback"):
        check_destination(f"https://{host}/", no_lookup)
    # with the development flag they are resolved, and must turn out to be loopback
    assert check_destination(f"http://{host}/", lambda h, p: ["127.0.0.1"], allow_loopback=True)
    with pytest.raises(DestinationRefused, match="not loopback"):
        check_destination(f"https://{host}/", lambda h, p: ["93.184.215.14"], allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    ["https://[v1.fe]/", "https://[::1%25eth0]/", "https://[2606:4700::1111%25eth0]/", "https://h.example:0/"],
)
def test_odd_literals_and_ports_are_refused_without_lookup(url):
    with pytest.raises(DestinationRefused):
        check_destination(url, no_lookup, allow_loopback=True)


@pytest.mark.parametrize("url", ["https://exa\tmple.com/", "https://example.com/a\nb", "https://example.com/a b"])
def test_spaces_and_control_characters_are_refused_rather_than_dropped(url):
    # urlsplit would silently drop the tab and the newline and read another URL than the one given
    with pytest.raises(DestinationRefused, match="control characters"):
        check_destination(url, no_lookup)


def test_check_url_is_the_part_decided_without_dns():
    target = check_url("https://Hooks.Example.com:8443/in?token=x")
    assert (target.scheme, target.host, target.port, target.literal) == ("https", "hooks.example.com", 8443, None)
    assert check_url("http://hooks.example.com/", allow_loopback=True).host == "hooks.example.com"
    with pytest.raises(DestinationRefused, match="plain http"):
        check_url("http://hooks.example.com/")


def test_the_development_flag_allows_loopback_and_nothing_else():
    for url in ("http://127.0.0.1:9000/h", "http://[::1]:9000/h", "https://[::ffff:127.0.0.1]/h"):
        assert check_destination(url, no_lookup, allow_loopback=True).address in ("127.0.0.1", "::1")
    assert check_destination("http://localhost:9/", resolver({"localhost": ["127.0.0.1"]}), allow_loopback=True)
    for host in ("0.0.0.0", "10.0.0.1", "169.254.169.254", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[fe80::1]"):
        with pytest.raises(DestinationRefused):
            check_destination(f"http://{host}/", no_lookup, allow_loopback=True)
    with pytest.raises(DestinationRefused, match="loopback"):
        check_destination("http://127.0.0.1:9000/h", no_lookup, allow_loopback=False)


def test_only_https_reaches_public_addresses():
    assert check_destination("https://8.8.8.8/hook", no_lookup).address == "8.8.8.8"
    for url, reason in [
        ("http://8.8.8.8/hook", "plain http"),
        ("ftp://8.8.8.8/hook", "scheme"),
        ("https://user:pw@8.8.8.8/hook", "credentials"),
        ("https:///hook", "no host"),
    ]:
        with pytest.raises(DestinationRefused, match=reason):
            check_destination(url, no_lookup, allow_loopback=True)


def test_a_name_that_does_not_resolve_is_a_transient_failure():
    def failing(host, port):
        raise OSError("temporary failure in name resolution")

    with pytest.raises(DestinationUnresolved):
        check_destination("https://nowhere.test/", failing)
    with pytest.raises(DestinationUnresolved):
        check_destination("https://empty.test/", resolver({"empty.test": []}))
