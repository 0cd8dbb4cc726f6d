"""When to poll a job next: plain arithmetic on what the job has reported so far."""

from __future__ import annotations

import random
from collections.abc import Callable

# After a job has run for a while, polls are spaced at this fraction of its age...
SPACING_FACTOR = 0.1
# ...but never further apart than this (seconds), nor closer than the base interval.
MAX_SPACING_S = 120.0
# Transient upstream faults back off exponentially from here, with jitter, up to the cap.
MIN_BACKOFF_S = 5.0
MAX_BACKOFF_S = 900.0


def next_poll_delay(
    *,
    base_s: float,
    age_s: float,
    progress: float | None = None,
    running_s: float | None = None,
) -> float:
    """Seconds until the next poll of a job that answered normally.

    Starts at `base_s`; a long job is polled less often (`age_s * SPACING_FACTOR`, capped), except that when
    the progress it reports lets us estimate its finish, the poll is aimed no later than that estimate.
    `base_s == 0` means every job is due at every run.
    """
    if base_s <= 0:
        return 0.0
    delay = max(base_s, min(age_s * SPACING_FACTOR, max(base_s, MAX_SPACING_S)))
    if progress is not None and 0 < progress < 100 and running_s is not None and running_s > 0:
        remaining = running_s * (100 - progress) / progress
        delay = min(delay, max(base_s, remaining))
    return delay


def backoff_delay(*, base_s: float, streak: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds until the next try after `streak` consecutive faults: exponential, capped, 'equal jitter'."""
    ceiling = min(MAX_BACKOFF_S, max(base_s, MIN_BACKOFF_S) * 2 ** max(0, min(streak - 1, 20)))
    return ceiling / 2 + rand() * ceiling / 2
