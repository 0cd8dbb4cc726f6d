"""SNS adapter: publishes events in batches of ten, reporting per-entry failures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videohook.domain.events import OutgoingEvent

BATCH_SIZE = 10  # PublishBatch's limit


class SnsPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, events: Sequence[OutgoingEvent]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for start in range(0, len(events), BATCH_SIZE):
            failed.update(self._publish_batch(events[start : start + BATCH_SIZE]))
        return failed

    def _publish_batch(self, batch: Sequence[OutgoingEvent]) -> dict[str, str]:
        # Entry ids only need to be unique within the batch; the position is, and maps back to the event.
        entries = [
            {
                "Id": f"e{position}",
                "Message": event.body,
                "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value} for name, value in event.attributes.items()
                },
            }
            for position, event in enumerate(batch)
        ]
        try:
            answer = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=entries)
        except (ClientError, BotoCoreError) as exc:
            reason = _reason(exc)
            return {event.event_id: reason for event in batch}
        # PublishBatch answers HTTP 200 even when some entries failed: read them one by one.
        failed = {}
        for entry in answer.get("Failed", []):
            position = int(entry["Id"][1:])
            failed[batch[position].event_id] = f"{entry.get('Code', 'Failed')}: {entry.get('Message', '')}".strip()
        return failed


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
