"""Small JobsTable items that coordinate poller runs: provider pauses (429) and due-shard leases.

They live in the jobs table so the stack needs no other resource, under keys no job can have (a job's key
starts with a provider name, which starts with a-z or 0-9), and never carry `due_shard`, so they never enter
the due index. Each gets a TTL (`purge_at`) so stale ones disappear by themselves.

- `_pause#<provider>` holds `paused_until`: after a 429 no run sends that provider a request before then.
  Read once per run (one BatchGetItem), written when a 429 extends the pause (conditional: only extends).
- `_lease#s003` holds `holder` and `held_until`: a run polls the jobs of a due shard only while it holds the
  shard's lease, so overlapping runs never poll the same job at the same moment. Claimed with a conditional
  PutItem, released with a conditional DeleteItem: two small writes per non-empty shard per sweep, whatever
  the number of jobs (a per-job lease would double the writes of every unchanged poll). A lease is short
  (seconds, see poller.LEASE_S) and renewed by its holder while it works (a conditional PutItem on the
  holder, one per held shard every few seconds), so a run that dies holds nothing for longer than one lease.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from videohook.adapters.shard_calls import each_shard

PURGE_AFTER_S = 86400


class DynamoRunCoordination:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    # -- provider pauses ------------------------------------------------------------------------------
    def paused_until(self, providers: Iterable[str]) -> dict[str, float]:
        """{provider: paused_until} for the providers with a pause item (past pauses included)."""
        names = sorted(set(providers))
        found: dict[str, float] = {}
        for start in range(0, len(names), 100):  # BatchGetItem's limit
            keys = [{"pk": {"S": _pause_key(name)}} for name in names[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for _ in range(5):  # unprocessed keys (throttling) are asked again, a bounded number of times
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"].split("#", 1)[1]] = float(item["paused_until"]["N"])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def pause(self, provider: str, until: float) -> None:
        """Record that `provider` asked for no requests before `until` (never shortens a longer pause)."""
        until = math.ceil(until)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _pause_key(provider)},
                    "paused_until": {"N": str(until)},
                    "purge_at": {"N": str(until + PURGE_AFTER_S)},
                },
                ConditionExpression="attribute_not_exists(pk) OR paused_until < :until",
                ExpressionAttributeValues={":until": {"N": str(until)}},
            )
        except ClientError as exc:
            if not _is_conflict(exc):
                raise

    # -- due-shard leases -----------------------------------------------------------------------------
    def claim_shards(self, shards: Iterable[int], *, holder: str, until: float, now: float) -> list[int]:
        """Take the lease of each shard that is free (or whose lease expired); return the shards taken.
        A claim that fails (the call, not a busy lease) costs only its shard (ShardsFailed), unless all fail."""

        def taken(claims: dict[int, bool]) -> list[int]:
            return [shard for shard, ok in claims.items() if ok]

        return each_shard(shards, lambda shard: self._claim(shard, holder, until, now), taken, what="lease claim")

    def renew_shards(self, shards: Iterable[int], *, holder: str, until: float) -> list[int]:
        """Extend the leases `holder` still holds to `until`; return those extended (a lease another run has
        taken since is not). A renewal that fails (the call) costs only its shard (ShardsFailed), unless all fail."""

        def kept(renewals: dict[int, bool]) -> list[int]:
            return [shard for shard, ok in renewals.items() if ok]

        return each_shard(shards, lambda shard: self._renew(shard, holder, until), kept, what="lease renewal")

    def release_shards(self, shards: Iterable[int], *, holder: str) -> None:
        wanted = sorted(set(shards))
        if not wanted:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
            list(pool.map(lambda shard: self._release(shard, holder), wanted))

    def _claim(self, shard: int, holder: str, until: float, now: float) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_lease_item(shard, holder, until),
                ConditionExpression="attribute_not_exists(pk) OR held_until < :now OR holder = :holder",
                ExpressionAttributeValues={":now": {"N": str(math.floor(now))}, ":holder": {"S": holder}},
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return False
            raise
        return True

    def _renew(self, shard: int, holder: str, until: float) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_lease_item(shard, holder, until),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if _is_conflict(exc):
                return False
            raise
        return True

    def _release(self, shard: int, holder: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": _lease_key(shard)}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if not _is_conflict(exc):
                raise


def _pause_key(provider: str) -> str:
    return f"_pause#{provider}"


def _lease_item(shard: int, holder: str, until: float) -> dict[str, Any]:
    return {
        "pk": {"S": _lease_key(shard)},
        "holder": {"S": holder},
        "held_until": {"N": str(math.ceil(until))},
        "purge_at": {"N": str(math.ceil(until) + PURGE_AFTER_S)},
    }


def _lease_key(shard: int) -> str:
    return f"_lease#s{shard:03d}"  # named like the shard's due_shard value


def _is_conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
