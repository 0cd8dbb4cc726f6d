"""Provider pauses after a 429 (issue 3): a 429 pauses its provider for the rest of this run and, through
`RunCoordination`, for later runs until the time it asked for (Retry-After, else DEFAULT_RATE_LIMIT_PAUSE_S)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from videohook.observability import logger
from videohook.services.poller.state import RunState, call

if TYPE_CHECKING:
    from videohook.domain.polling import Fault
    from videohook.ports import RunCoordination

# A 429 without Retry-After pauses its provider this long.
DEFAULT_RATE_LIMIT_PAUSE_S = 30.0


class ProviderPauses:
    def __init__(self, coordination: RunCoordination | None, *, clock: Callable[[], float]) -> None:
        self._coordination = coordination
        self._clock = clock

    async def load(self, run: RunState, providers: set[str]) -> None:
        """The pauses earlier or overlapping runs recorded for `providers`, still running at `run.now`."""
        if self._coordination is None or not providers:
            return
        try:
            stored = await call(run, self._coordination.paused_until, providers)
        except Exception:
            run.report.errors += 1
            logger.exception("cannot read provider pauses; per-job backoff still applies")
            return
        for name, until in stored.items():
            if until > run.now:
                run.paused_until[name] = max(run.paused_until.get(name, 0), until)
                logger.info("provider paused after a 429; not polled", extra={"provider": name, "until": until})

    @staticmethod
    def is_paused(run: RunState, provider: str, now: float) -> bool:
        return now < run.paused_until.get(provider, 0)

    def pause_after(self, run: RunState, provider: str, fault: Fault) -> None:
        """A 429 from `provider`: pause it for this run, and record the pause at the sweep's end."""
        pause = fault.retry_after_s if fault.retry_after_s is not None else DEFAULT_RATE_LIMIT_PAUSE_S
        until = self._clock() + pause
        if until > run.paused_until.get(provider, 0):
            run.paused_until[provider] = run.pauses_to_record[provider] = until

    async def record(self, run: RunState) -> None:
        """Share this sweep's new pauses with later and overlapping runs."""
        if self._coordination is None:
            return
        for name, until in run.pauses_to_record.items():
            try:
                await call(run, self._coordination.pause, name, until)
            except Exception:
                run.report.errors += 1
                logger.exception("cannot record provider pause", extra={"provider": name})
        run.pauses_to_record.clear()
