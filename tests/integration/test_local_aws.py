"""devtools.local_aws: moto on 127.0.0.1 holding the stack's resources, built from template.yaml itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalMoto, LocalStack, deploy_local, receive_all, start_moto, subscribe_queue
from devtools.local_invoke import invoke, load_template

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
FIXTURE_TEMPLATE = REPO / "tests" / "fixtures" / "template.yaml"
PROVIDERS = {
    "hingnet": ("http://127.0.0.1:18081", "sk-hing-test-token"),
    "skyengine": ("http://127.0.0.1:18082", "sk-sky-test-token"),
}


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def moto() -> Iterator[LocalMoto]:
    with start_moto() as server:
        yield server


@pytest.fixture
def stack(moto: LocalMoto) -> LocalStack:
    suffix = f"-{uuid.uuid4().hex[:8]}"  # moto's state is per process: keep each test's stack apart
    return deploy_local(moto.endpoint_url, providers=PROVIDERS, template_path=TEMPLATE, suffix=suffix)


def test_moto_listens_on_loopback_only(moto: LocalMoto) -> None:
    assert moto.endpoint_url.startswith("http://127.0.0.1:")
    assert moto.port > 0


def test_table_is_built_from_the_templates_own_properties(stack: LocalStack) -> None:
    properties = load_template(TEMPLATE)["Resources"]["JobsTable"]["Properties"]
    dynamodb = stack.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.table_name)["Table"]
    assert table["KeySchema"] == properties["KeySchema"]
    key = itemgetter("AttributeName")
    assert sorted(table["AttributeDefinitions"], key=key) == sorted(properties["AttributeDefinitions"], key=key)
    assert table["BillingModeSummary"]["BillingMode"] == properties["BillingMode"]
    indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
    expected = {index["IndexName"]: index for index in properties.get("GlobalSecondaryIndexes", [])}
    assert indexes.keys() == expected.keys()
    for name, index in expected.items():
        assert indexes[name]["KeySchema"] == index["KeySchema"]
        assert indexes[name]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        described = dynamodb.describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
        assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["AttributeName"]}


def test_topic_and_secrets(stack: LocalStack) -> None:
    pages = stack.client("sns").get_paginator("list_topics").paginate()  # 100 a page; the suite makes more
    topics = [topic["TopicArn"] for page in pages for topic in page["Topics"]]
    assert stack.topic_arn in topics
    assert stack.topic_arn.startswith("arn:aws:sns:us-east-1:123456789012:EventsTopic-")
    secrets = stack.client("secretsmanager")
    for name, (base_url, token) in PROVIDERS.items():
        secret_id = stack.secret_ids[name]
        assert secret_id == f"videohook/{name}{stack.suffix}"
        assert secrets.get_secret_value(SecretId=secret_id)["SecretString"] == token
        assert json.loads(stack.providers_json)[name] == {"base_url": base_url, "api_key_secret": secret_id}
    assert stack.env_overrides() == {
        "Parameters": {
            "JOBS_TABLE": stack.table_name,
            "EVENTS_TOPIC_ARN": stack.topic_arn,
            "PROVIDERS": stack.providers_json,
        }
    }
    assert all(token not in json.dumps(stack.env_overrides()) for _, token in PROVIDERS.values())


def test_parallel_stacks_and_redeploy(moto: LocalMoto, stack: LocalStack) -> None:
    other = deploy_local(moto.endpoint_url, providers={"hingnet": ("http://127.0.0.1:1", "other")}, suffix="-other")
    assert other.table_name != stack.table_name
    assert other.topic_arn != stack.topic_arn
    dynamodb = stack.client("dynamodb")
    dynamodb.put_item(TableName=stack.table_name, Item={"pk": {"S": "kept"}})
    again = deploy_local(moto.endpoint_url, providers=PROVIDERS, template_path=TEMPLATE, suffix=stack.suffix)
    assert again.table_name == stack.table_name
    assert dynamodb.get_item(TableName=stack.table_name, Key={"pk": {"S": "kept"}}).get("Item")
    assert "Item" not in dynamodb.get_item(TableName=other.table_name, Key={"pk": {"S": "kept"}})


def _publish(stack: LocalStack, body: str, attributes: dict[str, str]) -> None:
    stack.client("sns").publish(
        TopicArn=stack.topic_arn,
        Message=body,
        MessageAttributes={key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()},
    )


def test_filter_policy_lets_only_matching_events_through(moto: LocalMoto, stack: LocalStack) -> None:
    completed = subscribe_queue(
        moto.endpoint_url,
        stack.topic_arn,
        filter_policy={"type": ["video.completed"], "provider": ["hingnet"]},
        name=f"completed{stack.suffix}",
    )
    everything = subscribe_queue(moto.endpoint_url, stack.topic_arn, name=f"all{stack.suffix}")
    matching = json.dumps({"id": "evt_1", "type": "video.completed", "data": {"id": "video_abc123", "progress": 100}})
    _publish(stack, matching, {"type": "video.completed", "provider": "hingnet", "status": "completed"})
    _publish(stack, '{"id": "evt_2", "type": "video.failed"}', {"type": "video.failed", "provider": "hingnet"})
    _publish(stack, '{"id": "evt_3", "type": "video.completed"}', {"type": "video.completed", "provider": "skyengine"})

    arrived = receive_all(moto.endpoint_url, completed, wait_s=2)
    assert len(arrived) == 1
    assert arrived[0]["raw"] == matching  # raw delivery: the body is exactly what was published
    assert arrived[0]["body"] == json.loads(matching)
    assert arrived[0]["attributes"] == {"type": "video.completed", "provider": "hingnet", "status": "completed"}
    assert receive_all(moto.endpoint_url, completed, wait_s=1) == []  # drained

    all_ids = sorted(message["body"]["id"] for message in receive_all(moto.endpoint_url, everything, expect=3))
    assert all_ids == ["evt_1", "evt_2", "evt_3"]


def test_invoked_function_reaches_the_stack_through_aws_endpoint_url(moto: LocalMoto, stack: LocalStack) -> None:
    """local_invoke + deploy_local: env overrides and AWS_ENDPOINT_URL are all a function needs."""
    queue = subscribe_queue(
        moto.endpoint_url, stack.topic_arn, filter_policy={"type": ["probe"]}, name=f"probe{stack.suffix}"
    )
    event: dict[str, Any] = {"action": "aws", "message": {"hello": "moto"}, "attributes": {"type": "probe"}}
    result = invoke(
        "AwsFunction",
        event,
        template_path=FIXTURE_TEMPLATE,
        env_overrides=stack.env_overrides(),
        extra_env=stack.aws_env(),
    )
    assert result.error is None, result.logs
    assert result.payload == {
        "table_status": "ACTIVE",
        "tokens": {name: token for name, (_, token) in PROVIDERS.items()},
    }
    (message,) = receive_all(moto.endpoint_url, queue, expect=1, wait_s=5)
    assert message["body"] == {"hello": "moto"}
    assert message["attributes"] == {"type": "probe"}
