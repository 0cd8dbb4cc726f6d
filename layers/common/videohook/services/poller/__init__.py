"""The poller's run: find due jobs, poll them concurrently, record what changed, announce what finished.

One responsibility a module:
- `run.py`: the Poller, its run and the sweeps of it (when to sweep again, when to stop);
- `leases.py`: which due jobs a sweep may work (claiming, renewing and releasing due-shard leases);
- `pauses.py`: provider pauses after a 429, shared with later runs;
- `polls.py`: a sweep's polls, by provider (tokens, concurrency, the deadline);
- `job.py`: polling one job and recording what the poll decided;
- `publishing.py`: publishing events to SNS and settling them (the no-lost / no-double order of effects);
- `state.py`: what a run carries from part to part; `report.py`: what it reports.

The poller imports no adapter: the store, the publisher, the tokens, the run coordination and the HTTP client
come in through `videohook.ports` (runtime.poller() wires the real ones).
"""

from videohook.services.poller.leases import LEASE_S, RENEW_EVERY_S
from videohook.services.poller.pauses import DEFAULT_RATE_LIMIT_PAUSE_S
from videohook.services.poller.polls import SAVE_GRACE_S
from videohook.services.poller.publishing import PUBLISH_BATCH
from videohook.services.poller.report import RunFailed, RunReport
from videohook.services.poller.run import (
    LEASE_MARGIN_S,
    MAX_SWEEP_WAIT_S,
    MIN_SWEEP_GAP_S,
    SAFETY_MARGIN_S,
    STORE_THREADS,
    Poller,
)

__all__ = [
    "DEFAULT_RATE_LIMIT_PAUSE_S",
    "LEASE_MARGIN_S",
    "LEASE_S",
    "MAX_SWEEP_WAIT_S",
    "MIN_SWEEP_GAP_S",
    "PUBLISH_BATCH",
    "RENEW_EVERY_S",
    "SAFETY_MARGIN_S",
    "SAVE_GRACE_S",
    "STORE_THREADS",
    "Poller",
    "RunFailed",
    "RunReport",
]
