"""The archive download is a closed boundary: every hop is checked (ssrf.check_destination) and pinned to the
address checked, redirects are followed by hand and re-checked, the provider token never leaves its base_url.

Real parts: a video host on 127.0.0.1 (tests/integration/video_host.py), S3, DynamoDB, SNS and Secrets Manager
in moto. The resolver is injected, so test names can resolve to loopback or to an internal address; every
connection goes through a real httpx transport wrapped by a guard that records it and refuses (before any
socket is opened) whatever is not 127.0.0.1: a refusal that the check failed to make cannot send traffic.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from videohook.adapters.archive_bucket import S3ArchiveBucket
from videohook.adapters.job_store import DynamoJobStore
from videohook.adapters.publisher import SnsPublisher
from videohook.adapters.secrets import SecretsManagerTokens
from videohook.adapters.video_download import PinnedVideoSource
from videohook.config import ProviderSettings, Settings
from videohook.services.archive import MAX_ATTEMPTS, MAX_REDIRECTS, Archiver, ArchiveRetry

from devtools.local_aws import client, deploy_local, receive_all, subscribe_queue
from devtools.tls_certs import make_tls_files
from tests.integration.conftest import ROOT
from tests.integration.video_host import Reply, VideoHost

TOKEN = "tok-archive-7d1e55c0b9"
BODY = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
NAMES = {"videos.test": "127.0.0.1", "cdn.test": "127.0.0.1", "internal.test": "10.0.0.1"}


class Guard(httpx.BaseTransport):
    """A real transport that records every request and refuses any not addressed to 127.0.0.1."""

    def __init__(self, seen: list[httpx.URL], violations: list[str], verify: ssl.SSLContext | bool = True) -> None:
        self._seen, self._violations = seen, violations
        self._inner = httpx.HTTPTransport(verify=verify, retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._seen.append(request.url)
        if request.url.host != "127.0.0.1":
            self._violations.append(str(request.url.host))  # checked by the fixture: the archiver may catch this
            raise httpx.ConnectError(f"the test guard refused a connection to {request.url.host}")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class Resolver:
    def __init__(self, names: dict[str, str]) -> None:
        self.names, self.calls = names, []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.names:
            raise OSError("Name or service not known")
        return [self.names[host]]


@dataclass
class Rig:
    host: VideoHost
    stack: object
    bucket: str
    topic_queue: str
    endpoint: str
    resolver: Resolver
    connections: list[httpx.URL]
    violations: list[str]

    def archiver(self, *, allow_loopback: bool = True, ssl_context: ssl.SSLContext | None = None) -> Archiver:
        stack = self.stack
        settings = Settings(
            jobs_table=stack.table_name,  # type: ignore[attr-defined]
            events_topic_arn=stack.topic_arn,  # type: ignore[attr-defined]
            providers={"gw": ProviderSettings("gw", self.host.url(""), stack.secret_ids["gw"])},  # type: ignore[attr-defined]
            archive_bucket=self.bucket,
            allow_loopback_callbacks=allow_loopback,
        )
        return Archiver(
            settings,
            DynamoJobStore(client("dynamodb", self.endpoint), stack.table_name, due_shards=16, retention_s=86400),  # type: ignore[attr-defined]
            SecretsManagerTokens(client("secretsmanager", self.endpoint)),
            S3ArchiveBucket(client("s3", self.endpoint), self.bucket),
            SnsPublisher(client("sns", self.endpoint), stack.topic_arn),  # type: ignore[attr-defined]
            PinnedVideoSource(
                allow_loopback=allow_loopback,
                resolve=self.resolver,
                ssl_context=ssl_context,
                transport_factory=lambda: Guard(self.connections, self.violations, ssl_context or True),
            ),
        )

    def announced(self) -> list[dict]:
        return [m["body"] for m in receive_all(self.endpoint, self.topic_queue)]

    def stored_keys(self) -> list[str]:
        listed = client("s3", self.endpoint).list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def rig(aws, moto_endpoint) -> Iterator[Rig]:
    suffix = uuid.uuid4().hex[:8]
    with VideoHost() as host:
        stack = deploy_local(
            moto_endpoint,
            providers={"gw": (host.url(""), TOKEN)},
            template_path=str(ROOT / "template.yaml"),
            suffix=suffix,
        )
        bucket = f"archive-boundary-{suffix}"
        client("s3", moto_endpoint).create_bucket(Bucket=bucket)
        queue = subscribe_queue(moto_endpoint, stack.topic_arn, name=f"archive-boundary-{suffix}")
        rig = Rig(host, stack, bucket, queue, moto_endpoint, Resolver(dict(NAMES)), [], [])
        yield rig
    assert rig.violations == [], "a connection to an address other than 127.0.0.1 was attempted"


def completed(video_id: str, **data) -> dict:
    base = {"provider": "gw", "id": video_id, "status": "completed", "video_url": None, "content_url": None}
    return {
        "id": f"evt_{video_id}",
        "object": "event",
        "type": "video.completed",
        "created_at": 1,
        "data": {**base, **data},
    }


@pytest.mark.parametrize(
    ("location", "where"),
    [
        ("http://internal.test/latest/meta-data/", "internal.test (10.0.0.1)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://2852039166/latest/meta-data/", "2852039166 (169.254.169.254)"),
        ("http://[::ffff:0:a9fe:a9fe]/latest/", "::ffff:0:a9fe:a9fe"),
        ("http://10.0.0.1/v.mp4", "10.0.0.1"),
        ("http://8.8.8.8/v.mp4", "8.8.8.8"),  # public, but plain http
        ("ftp://cdn.test/v.mp4", "cdn.test"),
    ],
)
def test_a_redirect_to_a_refused_destination_is_refused_without_connecting_and_still_announced(rig, location, where):
    rig.host.redirect("/moved.mp4", location)
    video_url = rig.host.url("/moved.mp4", host="videos.test")

    archive = rig.archiver().handle(completed("v_redirected", video_url=video_url), attempt=1)

    assert archive["error"]["code"] == "refused"
    assert where in archive["error"]["message"] and "after 1 redirect" in archive["error"]["message"]
    assert "meta-data" not in archive["error"]["message"]  # never the path (nor a query with a token)
    # one connection, to the first hop's checked address; nothing towards the refused one
    assert [(u.host, u.path) for u in rig.connections] == [("127.0.0.1", "/moved.mp4")]
    assert rig.host.seen("/moved.mp4")[0].headers["host"] == f"videos.test:{rig.host.port}"
    assert rig.stored_keys() == []
    (event,) = rig.announced()
    assert event["id"] == "evt_v_redirected" and event["data"]["archive"] == archive


def test_without_the_development_flag_a_loopback_video_url_is_refused_before_any_connection(rig):
    rig.host.route("/v.mp4", Reply(body=BODY))
    for url in (rig.host.url("/v.mp4"), rig.host.url("/v.mp4", host="videos.test")):
        archive = rig.archiver(allow_loopback=False).handle(completed("v_loop", video_url=url), attempt=1)
        assert archive["error"]["code"] == "refused" and "loopback" in archive["error"]["message"]
    assert rig.connections == [] and rig.host.connections == 0
    assert len(rig.announced()) == 2


def test_redirects_are_followed_by_hand_each_hop_checked_and_pinned(rig):
    rig.host.redirect("/a", "/b")  # relative
    rig.host.redirect("/b", rig.host.url("/c", host="cdn.test"), status=307)
    rig.host.route("/c", Reply(headers={"content-type": "video/mp4"}, body=BODY))

    archive = rig.archiver().handle(completed("v_hops", video_url=rig.host.url("/a", host="videos.test")), attempt=1)

    assert archive["bytes"] == len(BODY) and archive["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert rig.stored_keys() == ["videos/gw/v_hops"]
    stored = client("s3", rig.endpoint).get_object(Bucket=rig.bucket, Key="videos/gw/v_hops")
    assert stored["Body"].read() == BODY and stored["ContentType"] == "video/mp4"
    # every hop looked up once and connected to the address checked, with its own name as Host
    assert rig.resolver.calls == ["videos.test", "videos.test", "cdn.test"]
    assert [(u.host, u.path) for u in rig.connections] == [("127.0.0.1", p) for p in ("/a", "/b", "/c")]
    port = rig.host.port
    assert [s.headers["host"] for s in rig.host.seen()] == [f"videos.test:{port}"] * 2 + [f"cdn.test:{port}"]


def test_more_than_the_allowed_redirects_is_a_permanent_refusal(rig):
    rig.host.redirect("/loop", "/loop")
    archive = rig.archiver().handle(completed("v_loop", video_url=rig.host.url("/loop")), attempt=1)
    assert archive["error"]["code"] == "too_many_redirects"
    assert len(rig.host.seen("/loop")) == MAX_REDIRECTS + 1
    assert len(rig.announced()) == 1


def test_the_token_goes_only_to_the_providers_base_url_and_never_after_a_redirect_has_left_it(rig):
    host = rig.host
    host.redirect("/v1/videos/v_tok/content", "/v1/files/v_tok")  # still on base_url: the token goes along
    host.redirect("/v1/files/v_tok", host.url("/cdn/v_tok.mp4", host="cdn.test"))  # another origin
    host.redirect("/cdn/v_tok.mp4", host.url("/v1/back/v_tok"))  # back on base_url
    host.route("/v1/back/v_tok", Reply(body=BODY))

    archive = rig.archiver().handle(completed("v_tok", content_url=host.url("/v1/videos/v_tok/content")), attempt=1)

    assert archive["bytes"] == len(BODY)
    authorization = [(s.path, s.headers.get("authorization")) for s in host.seen()]
    assert authorization == [
        ("/v1/videos/v_tok/content", f"Bearer {TOKEN}"),
        ("/v1/files/v_tok", f"Bearer {TOKEN}"),
        ("/cdn/v_tok.mp4", None),
        ("/v1/back/v_tok", None),
    ]
    assert TOKEN not in json.dumps(rig.announced())


def test_a_redirect_to_a_host_that_does_not_resolve_is_retried_then_announced(rig):
    rig.host.redirect("/moved", "https://gone.test/v.mp4")
    event = completed("v_gone", video_url=rig.host.url("/moved"))
    with pytest.raises(ArchiveRetry, match=r"gone\.test"):
        rig.archiver().handle(event, attempt=1)
    assert rig.announced() == []
    archive = rig.archiver().handle(event, attempt=MAX_ATTEMPTS)
    assert archive["error"]["code"] == "archive_failed"
    assert [e["data"]["archive"] for e in rig.announced()] == [archive]


def test_https_goes_to_the_checked_address_with_the_name_for_host_and_certificate(rig, tmp_path):
    tls = make_tls_files(tmp_path, hostname="videos.test")
    trusted = ssl.create_default_context(cafile=str(tls.ca_cert))
    with VideoHost(tls=tls) as secure:
        secure.route("/v.mp4", Reply(body=BODY))
        good = rig.archiver(ssl_context=trusted).handle(
            completed("v_tls", video_url=secure.url("/v.mp4", host="videos.test")), attempt=1
        )
        assert good["bytes"] == len(BODY)
        assert secure.seen("/v.mp4")[0].headers["host"] == f"videos.test:{secure.port}"
        # cdn.test resolves to the same address, but the certificate is not for that name: nothing is asked
        with pytest.raises(ArchiveRetry):
            rig.archiver(ssl_context=trusted).handle(
                completed("v_tls_wrong", video_url=secure.url("/v.mp4", host="cdn.test")), attempt=1
            )
        assert len(secure.seen()) == 1
