"""Archive end to end: with archiving on, completed videos are streamed into S3 (moto) by ArchiveFunction and
only then announced, with a presigned link; including a SkyEngine video whose only link needs the token."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest

from devtools import sim_provider
from devtools.local_aws import client
from devtools.local_invoke import invoke
from devtools.sim_provider import standard_timeline
from tests.integration.conftest import ROOT, TOKENS
from tests.integration.video_host import VideoHost

BIG = 12 * 1024 * 1024 + 123  # two multipart parts of 8 MiB + the rest


@pytest.fixture
def archiving(deployed, monkeypatch) -> dict[str, str]:
    """Archiving on: a bucket and a queue in moto, and the variables the functions read."""
    suffix = uuid.uuid4().hex[:8]
    s3, sqs = client("s3", deployed.endpoint), client("sqs", deployed.endpoint)
    s3.create_bucket(Bucket=f"archive-{suffix}")
    queue_url = sqs.create_queue(QueueName=f"archive-{suffix}")["QueueUrl"]
    deployed.variables.update({"ARCHIVE_QUEUE_URL": queue_url, "ARCHIVE_BUCKET": f"archive-{suffix}"})
    monkeypatch.setattr(sim_provider, "CONTENT_SIZE", BIG)
    return {"queue_url": queue_url, "bucket": f"archive-{suffix}"}


def sqs_event(endpoint: str, queue_url: str, *, receive_count: int | None = None) -> dict[str, Any]:
    """The SQS event Lambda would hand ArchiveFunction for the messages now in the queue."""
    sqs = client("sqs", endpoint)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    records = []
    for message in messages:
        attributes = dict(message["Attributes"])
        if receive_count is not None:
            attributes["ApproximateReceiveCount"] = str(receive_count)
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": {
                    name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def archive(deployed, event: dict[str, Any], **variables: str):
    result = invoke(
        "ArchiveFunction",
        event,
        template_path=str(ROOT / "template.yaml"),
        env_overrides=deployed.env_overrides(**variables),
        parameter_overrides={"ArchiveVideos": "true"},
    )
    assert result.error is None, f"{result.error}\n{result.logs}"
    return result


def settle(deployed, runs: int = 8) -> None:
    for _ in range(runs):
        deployed.poll()
        if not any("due_shard" in item for item in deployed.items()):
            return
    raise AssertionError("jobs still due")


def test_completed_videos_are_archived_then_announced_with_a_working_link(deployed, sim, archiving):
    veo, sora, blocked = (f"video_{name}_{uuid.uuid4().hex[:8]}" for name in ("veo", "sora", "blocked"))
    sim.add_job("hingnet", veo, "hingnet", standard_timeline("hingnet", steps=1))
    sim.add_job("skyengine", sora, "skyengine", standard_timeline("skyengine", steps=1))
    sim.add_job("skyengine", blocked, "skyengine", standard_timeline("skyengine", "failed", steps=1))
    topic = deployed.queue("archive-all-" + uuid.uuid4().hex[:6])
    for provider, video in (("hingnet", veo), ("skyengine", sora), ("skyengine", blocked)):
        assert deployed.api("POST", "/v1/jobs", {"provider": provider, "video_id": video})[0] == 201

    # When the poller sees them end: the failure is announced at once, the completions wait for their archive
    settle(deployed)
    early = [m["body"] for m in deployed.drain(topic)]
    assert [(e["type"], e["data"]["id"]) for e in early] == [("video.failed", blocked)]
    event = sqs_event(deployed.endpoint, archiving["queue_url"])
    assert sorted(json.loads(r["body"])["data"]["id"] for r in event["Records"]) == sorted([veo, sora])

    result = archive(deployed, event)

    # Then both are announced, each with an archive whose bytes, checksum and presigned link are right
    assert result.payload == {"batchItemFailures": []}
    announced = {m["body"]["data"]["id"]: m["body"] for m in deployed.drain(topic)}
    assert set(announced) == {veo, sora}
    s3 = client("s3", deployed.endpoint)
    for provider, video in (("hingnet", veo), ("skyengine", sora)):
        expected = sim_provider._content_bytes(provider, video)
        record = announced[video]["data"]["archive"]
        assert announced[video]["type"] == "video.completed"
        assert record["bytes"] == BIG == len(expected)
        assert record["sha256"] == hashlib.sha256(expected).hexdigest()
        assert record["s3_uri"] == f"s3://{archiving['bucket']}/videos/{provider}/{video}"
        stored = s3.get_object(Bucket=archiving["bucket"], Key=f"videos/{provider}/{video}")
        assert stored["ETag"].strip('"').endswith("-2")  # streamed as two multipart parts
        assert stored["Body"].read() == expected
        assert httpx.get(record["url"], timeout=30).content == expected
        assert record["url_expires_at"] > announced[video]["created_at"]
        assert deployed.api("GET", f"/v1/jobs/{provider}/{video}")[1]["archive"] == record
    # The SkyEngine video had no direct link: its content endpoint was fetched with the token, and only it
    content = [r for r in sim.requests("skyengine", sora) if r.route == "content"]
    assert content and content[-1].headers["authorization"] == f"Bearer {TOKENS['skyengine']}"
    files = [r for r in sim.requests("hingnet", veo) if r.route == "file"]
    assert files and "authorization" not in files[-1].headers
    assert TOKENS["skyengine"] not in result.logs


def test_a_video_that_cannot_be_copied_is_still_announced(deployed, sim, archiving, closed_port):
    gone, unreachable = f"video_gone_{uuid.uuid4().hex[:8]}", f"video_down_{uuid.uuid4().hex[:8]}"
    sim.add_job("hingnet", gone, "hingnet", [{"status": "completed", "video_url": f"{sim.url}/hingnet/files/x.mp4"}])
    down = f"http://127.0.0.1:{closed_port}/v.mp4"
    sim.add_job("hingnet", unreachable, "hingnet", [{"status": "completed", "video_url": down}])
    topic = deployed.queue("archive-fail-" + uuid.uuid4().hex[:6])
    for video in (gone, unreachable):
        deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video})
    settle(deployed)

    # A link that answers 404 is permanent: announced at once with the archive's error.
    # A link that cannot be reached is transient: redelivered by SQS, until the last attempt announces it.
    delivered = sqs_event(deployed.endpoint, archiving["queue_url"])
    first = archive(deployed, delivered)
    failures = first.payload["batchItemFailures"]
    assert len(failures) == 1
    (announced,) = [m["body"] for m in deployed.drain(topic)]
    assert announced["data"]["id"] == gone and announced["data"]["archive"]["error"]["code"] == "unavailable"

    (retry,) = [r for r in delivered["Records"] if r["messageId"] == failures[0]["itemIdentifier"]]
    client("sqs", deployed.endpoint).change_message_visibility(
        QueueUrl=archiving["queue_url"], ReceiptHandle=retry["receiptHandle"], VisibilityTimeout=0
    )
    last = archive(deployed, sqs_event(deployed.endpoint, archiving["queue_url"], receive_count=3))
    assert last.payload == {"batchItemFailures": []}
    (given_up,) = [m["body"] for m in deployed.drain(topic)]
    assert given_up["data"]["id"] == unreachable
    assert given_up["data"]["archive"]["error"]["code"] == "archive_failed"


def test_a_video_url_that_leads_to_an_internal_address_is_refused_and_the_video_still_announced(
    deployed, sim, archiving
):
    # ArchiveFunction as deployed (the system resolver; loopback allowed only by the development flag, on here)
    metadata, internal = f"video_imds_{uuid.uuid4().hex[:8]}", f"video_internal_{uuid.uuid4().hex[:8]}"
    with VideoHost() as host:
        host.redirect("/v.mp4", "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
        sim.add_job("hingnet", metadata, "hingnet", [{"status": "completed", "video_url": host.url("/v.mp4")}])
        sim.add_job("hingnet", internal, "hingnet", [{"status": "completed", "video_url": "http://10.0.0.1/v.mp4"}])
        topic = deployed.queue("archive-ssrf-" + uuid.uuid4().hex[:6])
        for video in (metadata, internal):
            assert deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video})[0] == 201
        settle(deployed)

        result = archive(deployed, sqs_event(deployed.endpoint, archiving["queue_url"]))

        assert result.payload == {"batchItemFailures": []}
        announced = {m["body"]["data"]["id"]: m["body"]["data"]["archive"] for m in deployed.drain(topic)}
        assert set(announced) == {metadata, internal}
        assert announced[metadata]["error"]["code"] == "refused"
        assert "169.254.169.254" in announced[metadata]["error"]["message"]
        assert "after 1 redirect" in announced[metadata]["error"]["message"]
        assert (
            announced[internal]["error"]["code"] == "refused" and "private" in announced[internal]["error"]["message"]
        )
        assert [s.path for s in host.seen()] == ["/v.mp4"]  # the redirect was asked for, its target never
        assert "security-credentials" not in result.logs
    assert "Contents" not in client("s3", deployed.endpoint).list_objects_v2(Bucket=archiving["bucket"])


def test_without_the_development_flag_a_loopback_link_is_not_fetched(deployed, sim, archiving):
    video = f"video_loop_{uuid.uuid4().hex[:8]}"
    sim.add_job("hingnet", video, "hingnet", standard_timeline("hingnet", steps=1))
    topic = deployed.queue("archive-loop-" + uuid.uuid4().hex[:6])
    deployed.api("POST", "/v1/jobs", {"provider": "hingnet", "video_id": video})
    settle(deployed)

    archive(deployed, sqs_event(deployed.endpoint, archiving["queue_url"]), ALLOW_LOOPBACK_CALLBACKS="false")

    (announced,) = [m["body"] for m in deployed.drain(topic)]
    assert announced["data"]["archive"]["error"]["code"] == "refused"
    assert "loopback" in announced["data"]["archive"]["error"]["message"]
    assert [r for r in sim.requests("hingnet", video) if r.route == "file"] == []
