"""Pinned requests: the checked address replaces the host in the URL; Host header and TLS server name keep the
URL's (canonical) host; path and query travel as given, the fragment never does."""

import httpx
from videohook.adapters.pinned_http import pinned_request, pinned_url
from videohook.domain.ssrf import check_destination


def test_the_address_replaces_the_host_and_the_name_stays_in_host_and_sni():
    destination = check_destination(
        "https://Hooks.Example.com/in/a%20b?token=x&y=1#frag", lambda h, p: ["2606:4700::6810:84e5"]
    )
    assert str(pinned_url(destination)) == "https://[2606:4700::6810:84e5]/in/a%20b?token=x&y=1"
    with httpx.Client() as client:
        request = pinned_request(client, "GET", destination, headers={"user-agent": "t"})
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


def test_an_address_in_the_url_gets_no_server_name():
    destination = check_destination("https://134744072:8443/", lambda h, p: [])
    with httpx.Client() as client:
        request = pinned_request(client, "POST", destination, content=b"{}")
    assert request.url.host == "8.8.8.8" and request.url.port == 8443
    assert request.headers["host"] == "8.8.8.8:8443" and "sni_hostname" not in request.extensions
