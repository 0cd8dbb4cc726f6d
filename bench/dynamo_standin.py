"""A DynamoDB stand-in for the benchmarks: DynamoDB's JSON protocol on 127.0.0.1, costing next to no CPU.

moto is a faithful DynamoDB but an expensive one: on this machine it spends ~3 ms of CPU per conditional
PutItem and ~2 ms per item a GSI query returns, on the same 2 cores as the poller. To measure the poller's
own capacity (its boto3 calls included: the client code is the real one, only the server differs) the
benchmark can point `AWS_ENDPOINT_URL_DYNAMODB` here. It answers, after a fixed `latency` (5 ms, a typical
in-region DynamoDB latency), exactly the requests videohook makes: PutItem (with its two condition forms),
GetItem, BatchWriteItem, Query on the `due` index (`due_shard = :shard AND due_at <= :x`, optional Limit),
(or the whole shard: the backlog metric's query), the two UpdateItem forms that settle a pending event,
and the run coordination's requests (BatchGetItem of provider pauses, conditional PutItem/DeleteItem of
pause and shard-lease items). It is a measuring aid, not a test double.

    python -m bench.dynamo_standin --latency 0.005
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

from bench.httpd import serve

JSON = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "standin"}
CONFLICT = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"


class DynamoStandIn:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: Counter[str] = Counter()

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if target == "/_bench/stats":
            return 200, JSON, json.dumps({"calls": dict(self.calls)}).encode()
        operation = headers.get("x-amz-target", "").rpartition(".")[2]
        self.calls[operation] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        request = json.loads(body or b"{}")
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            return 400, JSON, json.dumps({"__type": "UnknownOperationException", "message": operation}).encode()
        try:
            return 200, JSON, json.dumps(handler(request)).encode()
        except _Conflict:
            return 400, JSON, json.dumps({"__type": CONFLICT, "message": "The conditional request failed"}).encode()

    def _table(self, request: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(request["TableName"], {})

    def _BatchWriteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        for name, writes in request["RequestItems"].items():
            table = self.tables.setdefault(name, {})
            for write in writes:
                item = write["PutRequest"]["Item"]
                table[item["pk"]["S"]] = item
        return {"UnprocessedItems": {}}

    def _GetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        item = self._table(request).get(request["Key"]["pk"]["S"])
        return {"Item": item} if item is not None else {}

    def _PutItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table, item = self._table(request), request["Item"]
        stored = table.get(item["pk"]["S"])
        condition = request.get("ConditionExpression", "")
        values = request.get("ExpressionAttributeValues", {})
        if condition == "attribute_not_exists(pk)" and stored is not None:
            raise _Conflict
        if condition == "version = :version" and (stored is None or stored["version"] != values[":version"]):
            raise _Conflict
        if condition.startswith("attribute_not_exists(pk) OR") and stored is not None:
            if "paused_until" in condition and float(stored["paused_until"]["N"]) >= float(values[":until"]["N"]):
                raise _Conflict
            if "held_until" in condition and not (
                float(stored["held_until"]["N"]) < float(values[":now"]["N"]) or stored["holder"] == values[":holder"]
            ):
                raise _Conflict
        table[item["pk"]["S"]] = item
        return {}

    def _DeleteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table, values = self._table(request), request.get("ExpressionAttributeValues", {})
        stored = table.get(request["Key"]["pk"]["S"])
        if stored is None or stored.get("holder") != values.get(":holder"):
            raise _Conflict
        del table[request["Key"]["pk"]["S"]]
        return {}

    def _BatchGetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        responses: dict[str, list[dict[str, Any]]] = {}
        for name, spec in request["RequestItems"].items():
            table = self.tables.setdefault(name, {})
            responses[name] = [table[key["pk"]["S"]] for key in spec["Keys"] if key["pk"]["S"] in table]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _UpdateItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table, values = self._table(request), request.get("ExpressionAttributeValues", {})
        item = table.get(request["Key"]["pk"]["S"])
        pending = (item or {}).get("pending_event", {}).get("M", {}).get("id", {})
        if item is None or pending != values.get(":event"):
            raise _Conflict
        item["version"] = {"N": str(int(item["version"]["N"]) + 1)}
        if "REMOVE pending_event, due_shard, due_at" in request["UpdateExpression"]:
            for name in ("pending_event", "due_shard", "due_at"):
                item.pop(name, None)
            item["purge_at"] = values[":purge"]
        else:
            item["due_at"] = values[":now"]
        return {}

    def _Query(self, request: dict[str, Any]) -> dict[str, Any]:
        values = request["ExpressionAttributeValues"]
        shard = values[":shard"]["S"]
        limit = values.get(":now") or values.get(":until")  # absent: the backlog query, the whole shard
        bound = float(limit["N"]) if limit else float("inf")
        found = [
            item
            for item in self._table(request).values()
            if item.get("due_shard", {}).get("S") == shard and float(item["due_at"]["N"]) <= bound
        ]
        found.sort(key=lambda item: float(item["due_at"]["N"]))
        if "Limit" in request:
            found = found[: request["Limit"]]
        return {"Items": found, "Count": len(found), "ScannedCount": len(found)}


class _Conflict(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DynamoDB stand-in for benchmarks (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.005)
    parser.add_argument("--lifetime", type=float, default=1800)
    args = parser.parse_args(argv)
    from bench.services import exit_after

    exit_after(args.lifetime)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(DynamoStandIn(args.latency).answer, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
