"""What a run reports (the log line, the metrics, the invocation's result), and how it fails when it must."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class RunFailed(RuntimeError):
    """The run did what it could but needs attention (e.g. a provider token could not be read)."""


@dataclass
class RunReport:
    due: int = 0
    polled: int = 0
    changed: int = 0
    completed: int = 0
    failed: int = 0
    published: int = 0
    publish_failed: int = 0
    conflicts: int = 0
    skipped: int = 0
    errors: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    unknown_statuses: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)  # polls answered "held for rate limits", by provider
    seen_by_poll: Counter[str] = field(default_factory=Counter)  # transitions this run's polls saw first, by provider
    out_of_time: bool = False
    shards_busy: int = 0  # due shards another run held the lease of
    sweeps: int = 0
    # why the run ended: nothing_due (within the sweep window), window_closed, out_of_time, all_skipped, error
    ended: str = ""
    lease_renewals: int = 0  # renewal rounds of the due-shard leases (each extends every lease still held)
    leases_lost: int = 0  # due shards whose lease this run could not keep (their unstarted polls were left)
    unavailable_secrets: list[str] = field(default_factory=list)
    misconfigured_providers: list[str] = field(default_factory=list)  # PROVIDERS entries that are not usable
    unread_shards: int = 0  # due shards whose query failed: their jobs stay due for the next sweep or run

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["faults"] = dict(self.faults)
        data["unknown_statuses"] = dict(self.unknown_statuses)
        data["throttled"] = dict(self.throttled)
        data["seen_by_poll"] = dict(self.seen_by_poll)
        data["unavailable_secrets"] = list(self.unavailable_secrets)
        data["misconfigured_providers"] = list(self.misconfigured_providers)
        return data

    def raise_for_failure(self) -> None:
        """Make the invocation fail (Errors metric, alarms) when a token or a due shard could not be read (the
        rest of the run went on); names, not values."""
        if self.unavailable_secrets:
            names = ", ".join(repr(name) for name in self.unavailable_secrets)
            raise RunFailed(
                f"cannot read provider token secret(s) {names} (or the token in it is unusable); their jobs stay "
                "due for the next run"
            )
        if self.misconfigured_providers:
            names = ", ".join(repr(name) for name in sorted(set(self.misconfigured_providers)))
            raise RunFailed(f"provider(s) {names} misconfigured in PROVIDERS; their jobs stay due (see the log)")
        if self.unread_shards:
            raise RunFailed(
                f"{self.unread_shards} due shard(s) could not be read or leased; their jobs stay due for the next run"
            )
