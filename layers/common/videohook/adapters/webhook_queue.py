"""SQS adapter for WebhookQueue: per-message retry delays (visibility changes) and replays (new messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SqsWebhookQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """The message comes back (as the next attempt) `seconds` from now; 0 = at once."""
        self._client.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def send(self, body: str, attributes: Mapping[str, str]) -> str:
        """Queue an event for delivery, with the same attributes SNS would carry over; return the message id."""
        answer = self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )
        return str(answer["MessageId"])
