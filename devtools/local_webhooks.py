"""The webhook side of the stack on the local AWS (moto), and the SQS event source mapping's part.

:func:`deploy_webhooks` creates what template.yaml declares for webhooks, from the template's own properties:
``WebhookDeadLetterQueue``, ``WebhookQueue`` (its RedrivePolicy pointing there), the queue policy and the
raw-delivery subscription to the topic, and ``WebhookSecret`` (generated the way GenerateSecretString says).

:func:`pump` does what Lambda's SQS event source mapping does for ``WebhookFunction``: receive a batch from
the queue, build the SQS event from those very messages, invoke the function (via devtools.local_invoke, as
``sam local invoke`` would) and delete the messages it did not report as batch item failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.local_aws import client, subscribe_queue
from devtools.local_invoke import LOCAL_REGION, InvokeResult, Resolver, invoke, load_template

FUNCTION = "WebhookFunction"


@dataclass
class LocalWebhooks:
    endpoint_url: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    secret_arn: str
    secret: str  # the signing secret; receivers verify with "whsec_" + secret (or the secret itself)
    retry_schedule: str
    template_path: str = "template.yaml"

    def variables(self) -> dict[str, str]:
        """The functions' webhook variables pointing at these resources."""
        return {
            "WEBHOOK_SECRET_ARN": self.secret_arn,
            "WEBHOOK_QUEUE_URL": self.queue_url,
            "WEBHOOK_RETRY_SCHEDULE": self.retry_schedule,
        }


def deploy_webhooks(
    endpoint_url: str,
    topic_arn: str,
    *,
    template_path: str = "template.yaml",
    suffix: str = "",
    retry_schedule: str | None = None,
) -> LocalWebhooks:
    """Create the webhook resources of ``template_path`` in the local AWS, subscribed to ``topic_arn``.

    ``retry_schedule`` replaces the template's WEBHOOK_RETRY_SCHEDULE (tests compress it); the queue's
    maxReceiveCount is then its number of attempts, as the template keeps them equal.
    """
    template = load_template(Path(template_path))
    resolver = Resolver(template)
    resources = template["Resources"]
    queue_properties = resolver.resolve(resources["WebhookQueue"]["Properties"])
    dlq_properties = resolver.resolve(resources["WebhookDeadLetterQueue"]["Properties"])
    schedule = retry_schedule or str(
        resources[FUNCTION]["Properties"]["Environment"]["Variables"]["WEBHOOK_RETRY_SCHEDULE"]
    )
    max_receive_count = len(schedule.split(","))

    sqs = client("sqs", endpoint_url)
    dlq_url = str(
        sqs.create_queue(
            QueueName=f"WebhookDeadLetterQueue{suffix}",
            Attributes={"MessageRetentionPeriod": str(dlq_properties["MessageRetentionPeriod"])},
        )["QueueUrl"]
    )
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = subscribe_queue(endpoint_url, topic_arn, name=f"WebhookQueue{suffix}")
    subscription = resolver.resolve(resources["WebhookSubscription"]["Properties"])
    assert subscription["RawMessageDelivery"] is True, "the webhook queue expects raw delivery"
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(queue_properties["VisibilityTimeout"]),
            "MessageRetentionPeriod": str(queue_properties["MessageRetentionPeriod"]),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
        },
    )

    generate = resolver.resolve(resources["WebhookSecret"]["Properties"])["GenerateSecretString"]
    secrets = client("secretsmanager", endpoint_url)
    value = str(secrets.get_random_password(**generate)["RandomPassword"])
    secret_arn = str(secrets.create_secret(Name=f"videohook/webhook-signing{suffix}", SecretString=value)["ARN"])
    return LocalWebhooks(
        endpoint_url=endpoint_url,
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dead_letter_queue_url=dlq_url,
        secret_arn=secret_arn,
        secret=value,
        retry_schedule=schedule,
        template_path=template_path,
    )


def _queue_arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


# --------------------------------------------------------------------------------------------------
# The event source mapping
# --------------------------------------------------------------------------------------------------


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages (ReceiveMessage output)."""
    return {"Records": [_record(message, queue_arn) for message in messages]}


def _record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {
        name: message.get("Attributes", {})[name]
        for name in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
        if name in message.get("Attributes", {})
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": LOCAL_REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


@dataclass
class PumpResult:
    received: list[dict[str, Any]] = field(default_factory=list)  # the SQS messages handed to the function
    failures: list[str] = field(default_factory=list)  # message ids it reported as batch item failures
    result: InvokeResult | None = None

    @property
    def logs(self) -> str:
        return self.result.logs if self.result is not None else ""


def pump(
    webhooks: LocalWebhooks,
    *,
    env_overrides: Mapping[str, Any] | None = None,
    batch_size: int = 10,
    wait_s: int = 1,
) -> PumpResult:
    """One poll of the event source mapping: receive up to ``batch_size`` messages (waiting up to ``wait_s``),
    invoke WebhookFunction with them, delete the ones it did not report as failed. A function error deletes
    nothing (the messages come back after the queue's visibility timeout, as in Lambda)."""
    sqs = client("sqs", webhooks.endpoint_url)
    answer = sqs.receive_message(
        QueueUrl=webhooks.queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=wait_s,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages = answer.get("Messages", [])
    if not messages:
        return PumpResult()
    result = invoke(
        FUNCTION,
        sqs_event(messages, webhooks.queue_arn),
        template_path=webhooks.template_path,
        env_overrides=env_overrides,
    )
    if result.error is not None:
        return PumpResult(messages, [m["MessageId"] for m in messages], result)
    failed = [str(item["itemIdentifier"]) for item in (result.payload or {}).get("batchItemFailures", [])]
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])]
        sqs.delete_message_batch(QueueUrl=webhooks.queue_url, Entries=entries)
    return PumpResult(messages, failed, result)
