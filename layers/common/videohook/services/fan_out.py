"""Scale-out: a scheduled run hands the due index's shards to parallel worker invocations.

One run polls at most ~250-290 jobs a second (one Python process at 1 vCPU, docs/performance.md); 100,000
pending jobs need ~4,400 polls a second. With POLLER_WORKERS = N > 1 the scheduled PollerFunction only
splits the DUE_SHARDS shards into N groups and starts one PollerWorkerFunction invocation per group
(Lambda asynchronous invoke); each worker sweeps its own shards only, so no job is polled by two workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from videohook.observability import logger
from videohook.ports import WorkerLauncher

LAUNCH_THREADS = 8


def shard_groups(due_shards: int, workers: int) -> list[list[int]]:
    """Split shards 0..due_shards-1 into min(workers, due_shards) groups, round robin."""
    count = max(1, min(workers, due_shards))
    return [list(range(first, due_shards, count)) for first in range(count)]


def shards_of(event: Any, due_shards: int) -> list[int]:
    """The shard numbers a worker event `{"shards": [...]}` names, checked."""
    shards = event.get("shards") if isinstance(event, dict) else None
    if (
        not isinstance(shards, list)
        or not shards
        or any(isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < due_shards for shard in shards)
    ):
        raise ValueError(f'a worker event is {{"shards": [...]}} with shard numbers from 0 to {due_shards - 1}')
    return sorted(set(shards))


@dataclass
class DispatchReport:
    workers: int
    launched: int = 0
    failed: int = 0
    groups: list[list[int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Dispatcher:
    def __init__(self, launcher: WorkerLauncher, *, due_shards: int, workers: int) -> None:
        self._launcher = launcher
        self._groups = shard_groups(due_shards, workers)

    def dispatch(self) -> DispatchReport:
        """Start one worker per shard group. A group that cannot be started stays due for the next run."""
        report = DispatchReport(workers=len(self._groups), groups=self._groups)
        with ThreadPoolExecutor(max_workers=min(LAUNCH_THREADS, len(self._groups))) as pool:
            outcomes = list(pool.map(self._launch, self._groups))
        report.launched = sum(outcomes)
        report.failed = len(outcomes) - report.launched
        return report

    def _launch(self, shards: Sequence[int]) -> bool:
        try:
            self._launcher.launch(shards)
        except Exception as exc:  # one group's failure must not stop the others
            logger.error("cannot start a poller worker", extra={"shards": list(shards), "reason": type(exc).__name__})
            return False
        return True
