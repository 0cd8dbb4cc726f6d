"""The fault proxy in front of moto answers exactly the faults it is told to, in each protocol's shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from devtools.fault_proxy import FaultProxy
from devtools.local_aws import client, receive_all, subscribe_queue


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_endpoint) as running:
        yield running


def test_binds_loopback_and_forwards_to_loopback_only(moto_endpoint: str) -> None:
    with pytest.raises(ValueError):
        FaultProxy(moto_endpoint, host="0.0.0.0")
    with pytest.raises(ValueError):
        FaultProxy("http://example.com:80")


def test_throttling_is_retried_by_botocore_and_lost_answers_are_ambiguous(proxy: FaultProxy) -> None:
    dynamodb = client("dynamodb", proxy.url)  # standard retry mode, 2 attempts
    dynamodb.create_table(
        TableName="proxy-test",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    proxy.add("dynamodb:PutItem", "throttle", times=1)
    dynamodb.put_item(TableName="proxy-test", Item={"pk": {"S": "a"}})
    assert proxy.injected["dynamodb:PutItem throttle"] == 1 and proxy.forwarded["dynamodb:PutItem"] == 1

    proxy.add("dynamodb:PutItem", "internal", times=3)  # max_attempts=2 means 2 retries: 3 tries
    with pytest.raises(ClientError, match="InternalServerError"):
        dynamodb.put_item(TableName="proxy-test", Item={"pk": {"S": "b"}})
    assert "Item" not in dynamodb.get_item(TableName="proxy-test", Key={"pk": {"S": "b"}})

    # The write lands, the answer is lost: botocore's retry then meets its own write.
    proxy.add("dynamodb:PutItem", "lost_answer", times=1)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.put_item(
            TableName="proxy-test", Item={"pk": {"S": "c"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    assert "Item" in dynamodb.get_item(TableName="proxy-test", Key={"pk": {"S": "c"}})
    assert proxy.total_injected() == 5


def test_partial_publish_batch_fails_only_the_chosen_entries(proxy: FaultProxy, moto_endpoint: str) -> None:
    sns = client("sns", proxy.url)
    topic = sns.create_topic(Name="proxy-partial")["TopicArn"]
    queue = subscribe_queue(moto_endpoint, topic, name="proxy-partial-q")
    proxy.add("sns:PublishBatch", "partial", times=1, fail_entries=lambda position, _message: position % 2 == 0)
    entries = [{"Id": f"e{i}", "Message": f"m{i}"} for i in range(5)]
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    assert sorted(entry["Id"] for entry in answer["Successful"]) == ["e1", "e3"]
    assert sorted(entry["Id"] for entry in answer["Failed"]) == ["e0", "e2", "e4"]
    assert sorted(message["raw"] for message in receive_all(moto_endpoint, queue, expect=2)) == ["m1", "m3"]

    proxy.add("sns:PublishBatch", "partial", times=1, fail_entries=lambda _position, _message: True)
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries[:2])
    assert answer.get("Successful", []) == [] and len(answer["Failed"]) == 2
    assert receive_all(moto_endpoint, queue, wait_s=0.5) == []


def test_every_and_times_bound_the_injections(proxy: FaultProxy) -> None:
    secrets = client("secretsmanager", proxy.url)
    secrets.create_secret(Name="proxy-secret", SecretString="value")
    proxy.add("secretsmanager:GetSecretValue", "unavailable", times=2, every=2)
    for _ in range(4):
        assert secrets.get_secret_value(SecretId="proxy-secret")["SecretString"] == "value"
    assert proxy.injected["secretsmanager:GetSecretValue unavailable"] == 2
