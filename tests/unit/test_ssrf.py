"""The SSRF guard: every non-public address is refused, in every spelling, before any connection; the request
is pinned to the address that was checked."""

import ipaddress

import pytest
from videohook.ssrf import DestinationRefused, DestinationUnresolved, check_destination, refusal_reason
from videohook.webhook_sender import system_resolver

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
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


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


def test_numeric_spellings_of_loopback_are_caught_by_resolving_them():
    # getaddrinfo reads these as 127.0.0.1 without any network traffic
    for host in ("2130706433", "0x7f000001", "127.1", "0177.0.0.1"):
        with pytest.raises(DestinationRefused, match="loopback"):
            check_destination(f"https://{host}/", system_resolver())


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
