"""The httpx webhook sender against real servers on 127.0.0.1: the connection goes to the checked address while
TLS verifies the certificate for the URL's host name; redirects are not followed; the whole attempt has a
deadline."""

from __future__ import annotations

import ssl

import pytest
from videohook.adapters.webhook_sender import HttpxWebhookSender
from videohook.domain.ssrf import Destination, check_destination

from devtools.tls_certs import make_tls_files
from devtools.webhook_receiver import ReceiverAnswer, WebhookReceiver

HEADERS = {"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_receiver(tls):
    with WebhookReceiver(tls=tls) as receiver:
        yield receiver


def trusting(tls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_cert))


def pinned(url: str, host: str, port: int, address: str = "127.0.0.1") -> Destination:
    return Destination(url=url, scheme=url.split(":", 1)[0], host=host, port=port, address=address)


def test_https_goes_to_the_pinned_address_with_the_name_for_host_and_certificate(tls, https_receiver):
    url = f"https://localhost:{https_receiver.port}/hook?x=1"
    sender = HttpxWebhookSender(timeout_s=5, ssl_context=trusting(tls))
    answer = sender.send(pinned(url, "localhost", https_receiver.port), b'{"id":"evt_1"}', HEADERS)
    assert answer.status_code == 200 and answer.error is None
    (hook,) = https_receiver.received("/hook")
    assert hook.headers["host"] == f"localhost:{https_receiver.port}"
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["webhook-id"] == "evt_1"
    assert hook.body == b'{"id":"evt_1"}'


def test_a_checked_url_is_sent_to_its_checked_address_under_its_canonical_name(tls, https_receiver):
    # check_destination then the sender, as delivery does: one lookup, Host and TLS name in canonical form
    lookups = []

    def resolve(host, port):
        lookups.append((host, port))
        return ["127.0.0.1"]

    url = f"https://LocalHost:{https_receiver.port}/hook?x=1#fragment"
    destination = check_destination(url, resolve, allow_loopback=True)
    answer = HttpxWebhookSender(timeout_s=5, ssl_context=trusting(tls)).send(destination, b"{}", HEADERS)
    assert answer.status_code == 200 and lookups == [("localhost", https_receiver.port)]
    (hook,) = https_receiver.received("/hook")
    assert hook.headers["host"] == f"localhost:{https_receiver.port}"


def test_the_certificate_is_checked_against_the_name_not_the_address(tls, https_receiver):
    # the name's certificate is trusted, but this name is not on it: the connection to 127.0.0.1 is refused
    url = f"https://hooks.example.test:{https_receiver.port}/hook"
    sender = HttpxWebhookSender(timeout_s=5, ssl_context=trusting(tls))
    answer = sender.send(pinned(url, "hooks.example.test", https_receiver.port), b"{}", HEADERS)
    assert answer.status_code is None and "TLS certificate rejected" in (answer.error or "")
    assert https_receiver.received() == []


def test_an_untrusted_certificate_is_refused_by_default(https_receiver):
    url = f"https://localhost:{https_receiver.port}/hook"
    answer = HttpxWebhookSender(timeout_s=5).send(pinned(url, "localhost", https_receiver.port), b"{}", HEADERS)
    assert "TLS certificate rejected" in (answer.error or "") and https_receiver.received() == []


def test_redirects_are_answers_not_followed_and_retry_after_is_read():
    with WebhookReceiver() as receiver:
        receiver.script("/moved", [ReceiverAnswer(307, {"location": receiver.url("/elsewhere")})])
        receiver.script("/busy", [ReceiverAnswer(503, {"retry-after": "30"})])
        sender = HttpxWebhookSender(timeout_s=5)
        moved = sender.send(pinned(receiver.url("/moved"), "127.0.0.1", receiver.port), b"{}", HEADERS)
        busy = sender.send(pinned(receiver.url("/busy"), "127.0.0.1", receiver.port), b"{}", HEADERS)
        assert moved.status_code == 307 and receiver.received("/elsewhere") == []
        assert busy.status_code == 503 and busy.retry_after_s == 30


def test_a_slow_receiver_is_given_up_on_at_the_deadline():
    with WebhookReceiver() as receiver:
        receiver.script("/slow", [ReceiverAnswer(200, delay_s=3)])
        answer = HttpxWebhookSender(timeout_s=0.5).send(
            pinned(receiver.url("/slow"), "127.0.0.1", receiver.port), b"{}", HEADERS
        )
        # the deadline's own answer (no assertion on wall time: a loaded machine may be slow to get there)
        assert answer.status_code is None and answer.error == "timeout: no answer within 0.5 s"


def test_nothing_listening_is_a_connection_failure(closed_port):
    url = f"http://127.0.0.1:{closed_port}/hook"
    answer = HttpxWebhookSender(timeout_s=2).send(pinned(url, "127.0.0.1", closed_port), b"{}", HEADERS)
    assert answer.status_code is None and (answer.error or "").startswith("connection failed")
