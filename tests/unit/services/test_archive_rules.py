"""Archive rules that need no AWS: the provider token goes only to the provider's own base_url, and failures
are announced rather than lost."""

import json

import pytest
from videohook.adapters.event_routing import RoutedPublisher
from videohook.adapters.video_download import PinnedVideoSource
from videohook.config import ProviderSettings, Settings
from videohook.domain.events import OutgoingEvent
from videohook.services.archive import MAX_ATTEMPTS, Archiver, ArchiveRetry

SETTINGS = Settings(
    jobs_table="t",
    events_topic_arn="arn",
    providers={"skyengine": ProviderSettings("skyengine", "https://sky.example", "videohook/sky")},
    archive_bucket="b",
)


class Tokens:
    asked: list[str]

    def __init__(self):
        self.asked = []

    def token(self, secret_id):
        self.asked.append(secret_id)
        return "tok-secret"


class Store:
    def get(self, provider, video_id):
        return None

    def record_archive(self, provider, video_id, archive):
        return None


class Publisher:
    def __init__(self, refuse=False):
        self.events, self.refuse = [], refuse

    def publish(self, events):
        self.events.extend(events)
        return {e.event_id: "KMS.Throttled" for e in events} if self.refuse else {}


def event(**data):
    base = {"provider": "skyengine", "id": "v1", "status": "completed", "video_url": None, "content_url": None}
    return {"id": "evt_1", "object": "event", "type": "video.completed", "created_at": 1, "data": {**base, **data}}


def test_a_content_url_off_the_providers_base_url_never_gets_the_token():
    tokens, publisher = Tokens(), Publisher()
    archiver = Archiver(SETTINGS, Store(), tokens, bucket=None, publisher=publisher, source=None)
    archive = archiver.handle(event(content_url="https://sky.example.evil.net/v1/videos/v1/content"), attempt=1)
    assert archive["error"]["code"] == "foreign_link" and tokens.asked == []
    (sent,) = publisher.events
    assert json.loads(sent.body)["data"]["archive"] == archive
    assert sent.attributes == {"type": "video.completed", "provider": "skyengine", "status": "completed"}


def test_a_link_whose_host_does_not_resolve_is_retried_then_announced_without_the_archive():
    def no_dns(host, port):
        raise OSError("temporary failure in name resolution")

    archiver = Archiver(
        SETTINGS, Store(), Tokens(), bucket=None, publisher=Publisher(), source=PinnedVideoSource(resolve=no_dns)
    )
    with pytest.raises(ArchiveRetry):
        archiver.handle(event(video_url="https://cdn.example/v1.mp4"), attempt=MAX_ATTEMPTS - 1)
    archive = archiver.handle(event(video_url="https://cdn.example/v1.mp4"), attempt=MAX_ATTEMPTS)
    assert archive["error"]["code"] == "archive_failed"


def test_a_refused_announcement_is_retried_by_sqs():
    archiver = Archiver(SETTINGS, Store(), Tokens(), bucket=None, publisher=Publisher(refuse=True), source=None)
    with pytest.raises(ArchiveRetry, match=r"KMS\.Throttled"):
        archiver.handle(event(), attempt=1)


def test_events_are_routed_by_type():
    topic, queue = Publisher(), Publisher()
    routed = RoutedPublisher(topic, {"video.completed": queue})
    done, failed = (OutgoingEvent(f"e{t}", "{}", {"type": f"video.{t}"}) for t in ("completed", "failed"))
    assert routed.publish([done, failed]) == {}
    assert queue.events == [done] and topic.events == [failed]
