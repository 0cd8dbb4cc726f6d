"""Where an event goes before the world sees it: by type, to SNS or to an SQS queue.

With archiving on, `video.completed` events go to the archive queue; ArchiveFunction copies the video and
announces them on the topic itself, so the announcement carries a link that works. Everything else goes to
the topic as before. The poller does not know: it is handed a RoutedPublisher instead of the SnsPublisher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videohook.domain.events import OutgoingEvent
from videohook.ports import EventPublisher

BATCH_SIZE = 10  # SendMessageBatch's limit


class SqsEventQueue:
    """Sends events to an SQS queue in batches of ten, with the same attributes SNS would carry."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def publish(self, events: Sequence[OutgoingEvent]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for start in range(0, len(events), BATCH_SIZE):
            batch = events[start : start + BATCH_SIZE]
            entries = [
                {
                    "Id": f"e{position}",
                    "MessageBody": event.body,
                    "MessageAttributes": {
                        name: {"DataType": "String", "StringValue": value} for name, value in event.attributes.items()
                    },
                }
                for position, event in enumerate(batch)
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                reason = (
                    exc.response.get("Error", {}).get("Code", "ClientError") if isinstance(exc, ClientError) else ""
                )
                failed.update({event.event_id: reason or type(exc).__name__ for event in batch})
                continue
            for entry in answer.get("Failed", []):
                failed[batch[int(entry["Id"][1:])].event_id] = str(entry.get("Code", "Failed"))
        return failed


class RoutedPublisher:
    """Sends each event to the publisher its `type` attribute names, else to the default one."""

    def __init__(self, default: EventPublisher, routes: Mapping[str, EventPublisher]) -> None:
        self._default = default
        self._routes = dict(routes)

    def publish(self, events: Sequence[OutgoingEvent]) -> dict[str, str]:
        groups: dict[int, tuple[EventPublisher, list[OutgoingEvent]]] = {}
        for event in events:
            target = self._routes.get(event.attributes.get("type", ""), self._default)
            groups.setdefault(id(target), (target, []))[1].append(event)
        failed: dict[str, str] = {}
        for target, group in groups.values():
            failed.update(target.publish(group))
        return failed
