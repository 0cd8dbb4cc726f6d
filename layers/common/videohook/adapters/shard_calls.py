"""One call per due shard, in parallel, where a shard that fails costs only itself (the job store's due
queries, the run coordination's lease claims). Plain Python: the poller imports it at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from videohook.ports import ShardsFailed

T = TypeVar("T")
R = TypeVar("R")


def each_shard(
    shards: Iterable[int], call: Callable[[int], T], combine: Callable[[dict[int, T]], R], *, what: str
) -> R:
    """`combine({shard: call(shard)})` over the shards, 16 at a time. Some shards failing: ShardsFailed with
    the others' combined result; all of them failing: the first error, as a single call would raise it."""
    wanted = sorted(set(shards))
    if not wanted:
        return combine({})

    def attempt(shard: int) -> T | Exception:
        try:
            return call(shard)
        except Exception as exc:  # reported with the shard's number
            return exc

    with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
        outcomes = dict(zip(wanted, pool.map(attempt, wanted), strict=True))
    failed = {shard: outcome for shard, outcome in outcomes.items() if isinstance(outcome, Exception)}
    answered: dict[int, T] = {s: o for s, o in outcomes.items() if not isinstance(o, Exception)}
    if failed and not answered:
        raise next(iter(failed.values()))
    if failed:
        raise ShardsFailed(what, combine(answered), failed)
    return combine(answered)
