"""Callbacks that came before their job was tracked, and the ids callbacks name jobs by, in the jobs table
under keys starting with `_` (as the run coordination's: adapters/coordination.py), so that no job listing
or due query sees them.

- `_early#<provider>#<key>`: the readings of callbacks for a job not tracked yet, oldest first, at most
  MAX_KEPT, removed by DynamoDB's TTL (`purge_at`) after KEEP_S unless tracking takes them first.
- `_alias#<provider>#<key>`: the tracked video id a callback's key stands for, where the two differ (fal
  names a request by its request id, the job is `<owner>/<app>/requests/<request id>`), written at tracking.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from videohook.domain.models import Reading, VideoStatus
from videohook.observability import logger

KEEP_S = 24 * 3600
MAX_KEPT = 20


class DynamoEarlyCallbacks:
    def __init__(self, client: Any, table: str, *, retention_s: float) -> None:
        self._client = client
        self._table = table
        self._retention_s = retention_s

    def keep(self, provider: str, key: str, reading: Reading, *, now: float) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"_early#{provider}#{key}"}},
                UpdateExpression="SET readings = list_append(if_not_exists(readings, :empty), :one), purge_at = :purge",
                ConditionExpression="attribute_not_exists(readings) OR size(readings) < :most",
                ExpressionAttributeValues={
                    ":empty": {"L": []},
                    ":one": {"L": [{"S": _dump(reading)}]},
                    ":purge": {"N": str(int(now + KEEP_S))},
                    ":most": {"N": str(MAX_KEPT)},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            logger.warning(
                "too many callbacks kept for one untracked job; this one is dropped",
                extra={"provider": provider, "kept": MAX_KEPT},
            )

    def take(self, provider: str, key: str) -> list[Reading]:
        answer = self._client.delete_item(
            TableName=self._table, Key={"pk": {"S": f"_early#{provider}#{key}"}}, ReturnValues="ALL_OLD"
        )
        kept = answer.get("Attributes", {}).get("readings", {}).get("L", [])
        return [reading for item in kept if (reading := _load(item.get("S", ""))) is not None]

    def resolve(self, provider: str, key: str) -> str | None:
        answer = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"_alias#{provider}#{key}"}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return str(item["video_id"]["S"]) if item and "video_id" in item else None

    def alias(self, provider: str, key: str, video_id: str, *, now: float) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"_alias#{provider}#{key}"},
                "video_id": {"S": video_id},
                "purge_at": {"N": str(int(now + self._retention_s))},
            },
        )


def _dump(reading: Reading) -> str:
    return json.dumps(
        {
            "status": reading.status.value if reading.status is not None else None,
            "raw_status": reading.raw_status,
            "progress": reading.progress,
            "fields": reading.fields,
            "throttled": reading.throttled,
        },
        separators=(",", ":"),
    )


def _load(text: str) -> Reading | None:
    try:
        data = json.loads(text)
        return Reading(
            status=VideoStatus(data["status"]) if data.get("status") else None,
            raw_status=str(data.get("raw_status", "")),
            progress=data.get("progress"),
            fields=dict(data.get("fields") or {}),
            throttled=bool(data.get("throttled", False)),
        )
    except (ValueError, KeyError, TypeError):
        return None
