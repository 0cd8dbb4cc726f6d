"""Polling the due jobs of a sweep: grouped by provider, each provider's token read once, every job polled
concurrently within its provider's `max_concurrency`, over one HTTP session for the sweep.

Faults (issue 3): each poll is bounded by its provider's `timeout_seconds` and by the run's deadline, and the
poll phase as a whole is cut at the deadline (unfinished jobs stay due, unchanged).

Isolation (issue 10): a provider token that cannot be read or cannot be sent (control characters, say) keeps
that provider's jobs due; every other provider is polled and announced in the same run. What happens to one
job is job.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from videohook.domain.tokens import usable_credential
from videohook.observability import logger
from videohook.services.poller.state import RunState, call

if TYPE_CHECKING:
    from videohook.config import ProviderSettings, Settings
    from videohook.domain.models import Job
    from videohook.ports import PollHttpFactory, TokenSource
    from videohook.services.poller.job import JobPoll

# Polls still unfinished this long after the deadline are cancelled (their jobs stay due).
SAVE_GRACE_S = 3.0


class Polls:
    def __init__(
        self,
        settings: Settings,
        tokens: TokenSource,
        http_factory: PollHttpFactory,
        one: JobPoll,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._http_factory = http_factory
        self._one = one
        self._clock = clock

    async def poll_all(self, run: RunState, jobs: list[Job]) -> None:
        by_provider: dict[str, list[Job]] = {}
        for job in jobs:
            by_provider.setdefault(job.provider, []).append(job)
        for name in [name for name in by_provider if name not in self._settings.providers]:
            self._skip_unknown(run, name, by_provider.pop(name))
        providers = [self._settings.providers[name] for name in by_provider]
        tokens = await asyncio.gather(*(self._token(run, provider) for provider in providers))
        connections = sum(p.max_concurrency for p in self._settings.providers.values())
        async with self._http_factory(connections) as http:
            tasks = []
            for provider, token in zip(providers, tokens, strict=True):
                if token is None:
                    run.report.skipped += len(by_provider[provider.name])
                    continue
                gate = asyncio.Semaphore(provider.max_concurrency)
                tasks += [
                    asyncio.create_task(self._one.poll(run, http, gate, provider, token, job))
                    for job in by_provider[provider.name]
                ]
            if not tasks:
                return
            done, late = await asyncio.wait(tasks, timeout=max(0.0, run.deadline + SAVE_GRACE_S - self._clock()))
            if late:
                # Out of time: whatever is still running is abandoned; those jobs stay due, unchanged.
                run.report.out_of_time = True
                run.report.skipped += len(late)
                logger.warning(
                    "out of time; unfinished polls abandoned, their jobs stay due", extra={"jobs": len(late)}
                )
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            for task in done:
                task.result()  # JobPoll.poll handles every Exception; anything else (a bug, an exit) must surface

    def _skip_unknown(self, run: RunState, name: str, skipped: list[Job]) -> None:
        """Jobs of a provider not in PROVIDERS (or misconfigured there): skipped; misconfigured fails the run."""
        run.report.skipped += len(skipped)
        problem = self._settings.provider_errors.get(name)
        if problem is None:
            logger.warning(
                "provider not configured; its jobs are skipped", extra={"provider": name, "jobs": len(skipped)}
            )
            return
        run.report.errors += 1
        run.report.misconfigured_providers.append(name)
        logger.error(
            "provider misconfigured in PROVIDERS; its jobs stay due",
            extra={"provider": name, "jobs": len(skipped), "reason": problem},
        )

    async def _token(self, run: RunState, provider: ProviderSettings) -> str | None:
        try:
            return usable_credential(
                provider.dialect.auth.mint, await call(run, self._tokens.token, provider.api_key_secret)
            )
        except Exception as exc:  # this provider's jobs stay due; the run fails at its end (raise_for_failure)
            run.report.errors += 1
            run.report.unavailable_secrets.append(provider.api_key_secret)
            logger.error(
                "cannot read provider token (or it is unusable); its jobs stay due",
                extra={"provider": provider.name, "secret": provider.api_key_secret, "reason": str(exc)[:300]},
            )
            return None
