"""`videohook events tail`: a temporary SQS queue subscribed to the topic, removed again on the way out.

The queue and its subscription live only as long as the command: `TemporaryQueue.__exit__` unsubscribes
and deletes the queue whether the command ends by itself, by an error or by Ctrl-C / SIGTERM (which the
CLI turns into an exception, so this `with` block unwinds). Should the process be killed outright, the
leftover is easy to spot: its name starts with `videohook-tail-` and it keeps messages one hour only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videohook_cli.errors import EXIT_USAGE, CliError
from videohook_cli.target import Target

QUEUE_PREFIX = "videohook-tail-"
RETENTION_S = 3600
MAX_WAIT_S = 5  # long-poll in short slices so --timeout and Ctrl-C are honoured promptly


def filter_policy(filters: list[str]) -> dict[str, list[str]] | None:
    """`["type=video.failed", "provider=hingnet", "type=video.completed"]` -> an SNS filter policy."""
    policy: dict[str, list[str]] = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep or name not in ("type", "provider", "status") or not value:
            raise CliError(f"--filter takes type=..., provider=... or status=..., not {item!r}", EXIT_USAGE)
        policy.setdefault(name, []).append(value)
    return policy or None


class TemporaryQueue:
    def __init__(self, target: Target, policy: dict[str, list[str]] | None) -> None:
        self._target = target
        self._policy = policy
        self._sqs = target.client("sqs")
        self._sns = target.client("sns")
        self.name = QUEUE_PREFIX + uuid.uuid4().hex[:12]
        self.queue_url: str | None = None
        self.subscription_arn: str | None = None
        self.leftovers: list[str] = []

    def __enter__(self) -> TemporaryQueue:
        try:
            self._create()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _create(self) -> None:
        try:
            self.queue_url = str(
                self._sqs.create_queue(QueueName=self.name, Attributes={"MessageRetentionPeriod": str(RETENTION_S)})[
                    "QueueUrl"
                ]
            )
            arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            access = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": self._target.topic_arn}},
                    }
                ],
            }
            self._sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(access)})
            attributes = {"RawMessageDelivery": "true"}
            if self._policy:
                attributes["FilterPolicy"] = json.dumps(self._policy)
            self.subscription_arn = str(
                self._sns.subscribe(
                    TopicArn=self._target.topic_arn,
                    Protocol="sqs",
                    Endpoint=arn,
                    Attributes=attributes,
                    ReturnSubscriptionArn=True,
                )["SubscriptionArn"]
            )
        except (ClientError, BotoCoreError) as exc:
            raise CliError(f"cannot subscribe a queue to {self._target.topic_arn}: {_reason(exc)}") from None

    def remove(self) -> list[str]:
        """Unsubscribe and delete the queue; returns what could not be removed (reported, not raised)."""
        left: list[str] = []
        if self.subscription_arn:
            try:
                self._sns.unsubscribe(SubscriptionArn=self.subscription_arn)
                self.subscription_arn = None
            except (ClientError, BotoCoreError) as exc:
                left.append(f"subscription {self.subscription_arn} ({_reason(exc)})")
        if self.queue_url:
            try:
                self._sqs.delete_queue(QueueUrl=self.queue_url)
                self.queue_url = None
            except (ClientError, BotoCoreError) as exc:
                left.append(f"queue {self.queue_url} ({_reason(exc)})")
        self.leftovers = left
        return left

    def events(self, *, deadline: float | None) -> Iterator[dict[str, Any]]:
        """Each event as it arrives (its message deleted once yielded), until `deadline` (monotonic)."""
        assert self.queue_url is not None
        while deadline is None or time.monotonic() < deadline:
            remaining = MAX_WAIT_S if deadline is None else deadline - time.monotonic()
            wait = max(0, min(MAX_WAIT_S, int(remaining)))
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
                )
            except (ClientError, BotoCoreError) as exc:
                raise CliError(f"cannot read the tail queue: {_reason(exc)}") from None
            messages = answer.get("Messages", [])
            for message in messages:
                try:
                    event = json.loads(message["Body"])
                except ValueError:
                    event = {"object": "unreadable", "body": message["Body"]}
                yield event
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and wait == 0:
                time.sleep(0.2)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)
