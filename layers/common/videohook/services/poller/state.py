"""What one run carries from part to part (the report, the leases held, the events to publish, the pauses),
and the one way the parts call the blocking store and AWS clients: on the run's own thread pool."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from videohook.services.poller.report import RunReport

if TYPE_CHECKING:
    from videohook.domain.models import Job

T = TypeVar("T")


@dataclass
class RunState:
    now: float
    deadline: float
    lease_until: float  # what a pending event's lease is without coordination (past the run's end)
    pool: ThreadPoolExecutor
    sweep_until: float
    lease_s: float  # how long a due-shard lease lasts past its claim or its last renewal
    shards: Sequence[int] | None = None
    # Lease renewals and releases run here, not on `pool`: behind a sweep's queued writes a renewal would come
    # too late, and polls stop starting once a lease may run out (a 2,000-job sweep on moto skipped half).
    lease_pool: ThreadPoolExecutor | None = None
    report: RunReport = field(default_factory=RunReport)
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    to_publish: list[Job] = field(default_factory=list)
    publishing: list[asyncio.Task[None]] = field(default_factory=list)  # batches already on their way to SNS
    progress: list[Job] = field(default_factory=list)  # opt-in video.progress events (best effort)
    paused_until: dict[str, float] = field(default_factory=dict)
    pauses_to_record: dict[str, float] = field(default_factory=dict)
    fault_logged: set[tuple[str, str]] = field(default_factory=set)
    leased_shards: list[int] = field(default_factory=list)
    unsure_leases: list[int] = field(default_factory=list)  # claims that failed: released anyway, in case
    held: dict[int, float] = field(default_factory=dict)  # shard -> until when its lease is known to be ours
    renewing: asyncio.Task[None] | None = None  # the sweep's lease renewals (ShardLeases.keep), while it holds any
    renew_now: asyncio.Event = field(default_factory=asyncio.Event)  # set: renew at once, not at the next time
    renewed: asyncio.Event = field(default_factory=asyncio.Event)  # set after each round of renewals

    def start_sweep(self, now: float) -> None:
        """A new sweep: its own leases and events; the report, the pauses and the logged faults carry on."""
        self.now = now
        self.report.sweeps += 1
        self.leased_shards = []
        self.unsure_leases = []
        self.held = {}
        self.renewing = None
        self.renew_now = asyncio.Event()
        self.renewed = asyncio.Event()
        self.to_publish = []
        self.publishing = []
        self.progress = []


async def call(run: RunState, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on the run's thread pool (a blocking store or AWS call), awaited."""
    return await asyncio.get_running_loop().run_in_executor(run.pool, functools.partial(fn, *args, **kwargs))


async def call_leases(run: RunState, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on the run's lease thread (the run's pool when it has none), awaited."""
    pool = run.lease_pool or run.pool
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
