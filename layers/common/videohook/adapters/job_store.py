"""DynamoDB adapter for jobs (JobsTable).

Item design: key `pk = "<provider>#<video_id>"`. A job that is still polled, or whose event is not yet
confirmed by SNS, carries `due_shard` (a fixed hash of the key into DUE_SHARDS shards) and `due_at` (epoch
seconds): the sparse `due` index holds exactly those jobs, and a run asks each shard for `due_at <= now`.
Finished and stopped jobs lose both attributes, leave the index and get a TTL (`purge_at`).
Every write is conditional on `version`, so of two overlapping runs only one records a transition.
`owner` is the principal that tracked the job (absent on jobs stored before jobs had owners).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from videohook.adapters.shard_calls import each_shard
from videohook.domain.models import VIDEO_FIELDS, Job, PendingEvent, VideoStatus
from videohook.observability import logger

DUE_INDEX = "due"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class JobConflict(Exception):
    """The item changed since it was read (another run or an API call got there first)."""


class DynamoJobStore:
    def __init__(self, client: Any, table: str, *, due_shards: int, retention_s: float) -> None:
        self._client = client
        self._table = table
        self._due_shards = due_shards
        self._retention_s = retention_s

    # -- API side -------------------------------------------------------------------------------------
    def create(self, job: Job) -> tuple[Job, bool]:
        """Insert a new job; if it is already tracked, return the stored one and False (nothing written).
        One conditional write: of two callers tracking the same id at once, one creates it (and owns it), the
        other gets the stored job as it was when its write failed."""
        item = self._to_item(job.with_changes(version=1), now=job.tracked_at)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _is_conflict(exc) and "Item" in exc.response:
                return self._from_item(exc.response["Item"]), False
            raise
        return job.with_changes(version=1), True

    def get(self, provider: str, video_id: str) -> Job | None:
        answer = self._client.get_item(TableName=self._table, Key=_key(provider, video_id), ConsistentRead=True)
        return self._from_item(answer["Item"]) if "Item" in answer else None

    def stop(self, provider: str, video_id: str, now: float, owner: str | None = None) -> Job | None:
        """Stop polling: the job leaves the due index, and any unpublished event is dropped with it. With
        `owner`, only a job of that owner is stopped (one conditional write); None when there is no such job."""
        condition = "attribute_exists(pk)"
        values: dict[str, Any] = {":false": False, ":one": 1, ":purge": int(now + self._retention_s)}
        names: dict[str, str] = {}
        if owner is not None:
            condition += " AND #owner = :owner"
            values[":owner"] = owner
            names["#owner"] = "owner"  # a reserved word
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(provider, video_id),
                UpdateExpression="SET active = :false, version = version + :one, purge_at = :purge "
                "REMOVE due_shard, due_at, pending_event",
                ConditionExpression=condition,
                ExpressionAttributeValues=_values(values),
                **({"ExpressionAttributeNames": names} if names else {}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return None
            raise
        return self._from_item(answer["Attributes"])

    # -- poller side ----------------------------------------------------------------------------------
    def due_jobs(self, now: float, shards: Iterable[int] | None = None) -> list[Job]:
        """Every job due at `now`, each once, asking all shards (or the given ones) in parallel (no scan).
        A shard whose query fails costs only its own jobs (ShardsFailed carries the others'), unless all fail."""

        def merged(pages: dict[int, list[Job]]) -> list[Job]:
            return list({job.key: job for page in pages.values() for job in page}.values())

        wanted = range(self._due_shards) if shards is None else shards
        return each_shard(wanted, lambda shard: self._query_shard(shard, now), merged, what="due query")

    def due_shards(self, now: float, shards: Iterable[int] | None = None) -> list[int]:
        """The shards (of all, or the given ones) with a job due at `now`: one item read per shard (half a read
        unit), not their jobs. The poller leases these before it reads their jobs (once, under the lease).
        A shard whose query fails costs only itself (ShardsFailed carries the others'), unless all fail."""

        def has_due(shard: int) -> bool:
            answer = self._client.query(
                TableName=self._table,
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_shard = :shard AND due_at <= :now",
                ExpressionAttributeValues=_values({":shard": _shard_name(shard), ":now": math.floor(now)}),
                ProjectionExpression="due_at",
                Limit=1,
            )
            return bool(answer.get("Items"))

        def found(answers: dict[int, bool]) -> list[int]:
            return sorted(shard for shard, due in answers.items() if due)

        wanted = range(self._due_shards) if shards is None else shards
        return each_shard(wanted, has_due, found, what="due query")

    def next_due_at(self, until: float, shards: Sequence[int] | None = None) -> float | None:
        """The earliest `due_at` up to `until` (in `shards`, or all); None when nothing falls due by then.
        One item read per shard: the index is sorted by `due_at`."""

        def earliest(shard: int) -> float | None:
            answer = self._client.query(
                TableName=self._table,
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_shard = :shard AND due_at <= :until",
                ExpressionAttributeValues=_values({":shard": _shard_name(shard), ":until": math.floor(until)}),
                ProjectionExpression="due_at",
                Limit=1,
            )
            items = answer.get("Items", [])
            return float(items[0]["due_at"]["N"]) if items else None

        chosen = self._shards(shards)
        with ThreadPoolExecutor(max_workers=min(16, len(chosen))) as pool:
            found = [due for due in pool.map(earliest, chosen) if due is not None]
        return min(found, default=None)

    def _shards(self, shards: Sequence[int] | None) -> Sequence[int]:
        if shards is None:
            return range(self._due_shards)
        if not shards or any(not 0 <= shard < self._due_shards for shard in shards):
            raise ValueError(f"shards must be a non-empty list of shard numbers below {self._due_shards}")
        return shards

    def _query_shard(self, shard: int, now: float) -> list[Job]:
        jobs: list[Job] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_shard = :shard AND due_at <= :now",
            "ExpressionAttributeValues": _values({":shard": _shard_name(shard), ":now": math.floor(now)}),
        }
        while True:
            answer = self._client.query(**request)
            jobs.extend(job for job in map(_readable_job, answer.get("Items", [])) if job is not None)
            if "LastEvaluatedKey" not in answer:
                return jobs
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def save(self, job: Job, *, now: float) -> Job | None:
        """Write the job as one item if nobody changed it since it was read; None when someone did."""
        saved = job.with_changes(version=job.version + 1)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._to_item(saved, now=now),
                ConditionExpression="version = :version",
                ExpressionAttributeValues=_values({":version": job.version}),
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return None
            raise
        return saved

    def clear_pending(self, job: Job, *, now: float) -> bool:
        """SNS has the event: the job leaves the due index for good."""
        assert job.pending_event is not None
        return self._update_pending(
            job,
            "SET version = version + :one, purge_at = :purge REMOVE pending_event, due_shard, due_at",
            {":one": 1, ":purge": int(now + self._retention_s)},
        )

    def release_pending(self, job: Job, *, now: float) -> bool:
        """SNS refused the event: make it due again at once, so the next run retries it."""
        return self._update_pending(
            job, "SET due_at = :now, version = version + :one", {":now": math.floor(now), ":one": 1}
        )

    def _update_pending(self, job: Job, expression: str, values: dict[str, Any]) -> bool:
        assert job.pending_event is not None
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(job.provider, job.video_id),
                UpdateExpression=expression,
                ConditionExpression="pending_event.id = :event",
                ExpressionAttributeValues=_values({**values, ":event": job.pending_event.id}),
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return False
            raise
        return True

    # -- archive side (ArchiveFunction) ---------------------------------------------------------------
    def record_archive(self, provider: str, video_id: str, archive: dict[str, Any]) -> Job | None:
        """Add the archived copy to a job; None when the job no longer exists."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(provider, video_id),
                UpdateExpression="SET #archive = :archive, version = version + :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#archive": "archive"},  # a reserved word
                ExpressionAttributeValues=_values({":archive": archive, ":one": 1}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return None
            raise
        return self._from_item(answer["Attributes"])

    # -- operator side (the CLI's `videohook ls`; never on the poller's path) --------------------------
    def list_jobs(self, *, pending_only: bool = False, limit: int = 100) -> list[Job]:
        """Up to `limit` jobs, newest first: those still due (the due index, every shard), or any (a Scan)."""
        if pending_only:
            jobs = self.due_jobs(now=2**40)
        else:
            # Run-coordination items (videohook.adapters.coordination) share the table under keys starting with `_`.
            jobs = []
            request: dict[str, Any] = {
                "TableName": self._table,
                "Limit": min(limit, 1000),
                "FilterExpression": "NOT begins_with(pk, :coordination)",
                "ExpressionAttributeValues": {":coordination": {"S": "_"}},
            }
            while len(jobs) < limit:
                answer = self._client.scan(**request)
                jobs.extend(self._from_item(item) for item in answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return sorted(jobs, key=lambda job: (-job.tracked_at, job.provider, job.video_id))[:limit]

    def backlog(self) -> tuple[int, int | None]:
        """(jobs in the due index, the oldest one's tracked_at) for the PendingJobs / OldestPendingAgeSeconds
        metrics. Every shard in parallel, returning only `tracked_at`. DynamoDB bills the items read (about
        0.08 RRU per job, eventually consistent): ~1.5% of what a minute of polls of the same jobs costs in
        writes at on-demand prices."""

        def shard_backlog(shard: int) -> tuple[int, int | None]:
            count, oldest = 0, None
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "due_shard = :shard",
                "ExpressionAttributeValues": _values({":shard": _shard_name(shard)}),
                "ProjectionExpression": "tracked_at",
            }
            while True:
                answer = self._client.query(**request)
                for item in answer.get("Items", []):
                    count += 1
                    tracked_at = int(item["tracked_at"]["N"]) if "tracked_at" in item else None
                    if tracked_at is not None and (oldest is None or tracked_at < oldest):
                        oldest = tracked_at
                if "LastEvaluatedKey" not in answer:
                    return count, oldest
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

        with ThreadPoolExecutor(max_workers=min(16, self._due_shards)) as pool:
            shards = list(pool.map(shard_backlog, range(self._due_shards)))
        oldests = [oldest for _, oldest in shards if oldest is not None]
        return sum(count for count, _ in shards), min(oldests) if oldests else None

    # -- webhook side ---------------------------------------------------------------------------------
    def record_delivery(self, provider: str, video_id: str, attempt: dict[str, Any], *, keep: int) -> bool:
        """Append a webhook delivery attempt to the job, keeping the last `keep`. False when the job is gone.

        A conditional read-modify-write that bumps `version`, so a poller write based on an older read fails
        instead of dropping the attempt (the poller only rewrites a finished job to re-publish its event).
        """
        for _ in range(3):
            answer = self._client.get_item(
                TableName=self._table,
                Key=_key(provider, video_id),
                ConsistentRead=True,
                ProjectionExpression="version, deliveries",
            )
            if "Item" not in answer:
                return False
            current = {name: _plain(_deserializer.deserialize(value)) for name, value in answer["Item"].items()}
            deliveries = [*(current.get("deliveries") or []), attempt][-keep:]
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=_key(provider, video_id),
                    UpdateExpression="SET deliveries = :deliveries, version = version + :one",
                    ConditionExpression="version = :version",
                    ExpressionAttributeValues=_values(
                        {":deliveries": deliveries, ":one": 1, ":version": current.get("version", 0)}
                    ),
                )
            except ClientError as exc:
                if _is_conflict(exc):
                    continue
                raise
            return True
        return False

    # -- mapping --------------------------------------------------------------------------------------
    def shard_of(self, provider: str, video_id: str) -> int:
        return zlib.crc32(f"{provider}#{video_id}".encode()) % self._due_shards

    def _to_item(self, job: Job, *, now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pk": f"{job.provider}#{job.video_id}",
            "provider": job.provider,
            "video_id": job.video_id,
            "status": job.status.value,
            "progress": _number(job.progress),
            "active": job.active,
            "polls": job.polls,
            "tracked_at": job.tracked_at,
            "version": job.version,
        }
        for name in VIDEO_FIELDS:
            value = getattr(job, name)
            if value is not None:
                data[name] = value
        optional = {
            "metadata": job.metadata or None,
            "callback_url": job.callback_url,
            "duration": job.duration,
            "last_polled_at": job.last_polled_at,
            "not_found_streak": job.not_found_streak or None,
            "error_streak": job.error_streak or None,
            "progress_events": job.progress_events or None,
            "progress_announced": job.progress_announced,
            "progress_announced_at": job.progress_announced_at,
            "archive": job.archive,
            "deliveries": list(job.deliveries) or None,
            "owner": job.owner,
            "seen": dict(job.seen) or None,
        }
        data.update({name: value for name, value in optional.items() if value is not None})
        if job.pending_event is not None:
            event = job.pending_event
            data["pending_event"] = {"id": event.id, "type": event.type, "created_at": event.created_at}
        if (job.active or job.pending_event is not None) and job.next_poll_at is not None:
            data["due_shard"] = _shard_name(self.shard_of(job.provider, job.video_id))
            data["due_at"] = math.floor(job.next_poll_at)
        else:
            data["purge_at"] = int(now + self._retention_s)
        return {name: _serializer.serialize(_number(value)) for name, value in data.items()}

    @staticmethod
    def _from_item(item: dict[str, Any]) -> Job:
        data = {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}
        pending = data.get("pending_event")
        return Job(
            provider=data["provider"],
            video_id=data["video_id"],
            status=VideoStatus(data["status"]),
            progress=data.get("progress", 0),
            metadata=data.get("metadata") or {},
            callback_url=data.get("callback_url"),
            duration=data.get("duration"),
            active=bool(data.get("active", False)),
            polls=data.get("polls", 0),
            tracked_at=data.get("tracked_at", 0),
            last_polled_at=data.get("last_polled_at"),
            next_poll_at=data.get("due_at"),
            version=data.get("version", 0),
            not_found_streak=data.get("not_found_streak", 0),
            error_streak=data.get("error_streak", 0),
            pending_event=PendingEvent(**pending) if pending else None,
            progress_events=bool(data.get("progress_events", False)),
            progress_announced=data.get("progress_announced"),
            progress_announced_at=data.get("progress_announced_at"),
            archive=data.get("archive"),
            deliveries=tuple(data.get("deliveries") or ()),
            owner=data.get("owner"),
            seen=dict(data.get("seen") or {}),
            **{name: data.get(name) for name in VIDEO_FIELDS},
        )


def _readable_job(item: dict[str, Any]) -> Job | None:
    """One unreadable item (hand-edited, or written by a newer version) must not stop every run: skip it."""
    try:
        return DynamoJobStore._from_item(item)
    except (KeyError, ValueError, TypeError) as exc:
        logger.error(
            "unreadable job item in the due index; skipped",
            extra={"pk": str(item.get("pk", {}).get("S", "?"))[:300], "reason": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return None


def _key(provider: str, video_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{provider}#{video_id}"}}


def _shard_name(shard: int) -> str:
    return f"s{shard:03d}"


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(_number(value)) for name, value in values.items()}


def _number(value: Any) -> Any:
    """DynamoDB takes Decimal, not float; nested maps (error, metadata) are converted too."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_number(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _is_conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
