"""When to poll a job next: plain arithmetic on what the job has reported so far."""

from __future__ import annotations

import random
from collections.abc import Callable

# Without an estimate of the finish, polls are spaced at the base interval, then at this fraction of the
# job's age...
SPACING_FACTOR = 0.1
# ...but never further apart than this (seconds), nor closer than the base interval.
MAX_SPACING_S = 120.0
# With an estimate (from the progress the job reports), the next poll is aimed at this share of the time
# left: a little early, so that the next reading, closer to the end, refines the estimate instead of a
# late poll adding to the caller's wait. Chosen by bench/notify_sim.py (docs/performance.md).
AIM = 0.8
# Aimed polls are at least this far apart (seconds): the last step before the finish is at most this late.
MIN_AIMED_S = 6.0
# An estimate from a little progress is a long extrapolation: an aimed poll comes at the latest when the
# job has run this many times as long again as it has so far (1.0: by the time its running time doubles).
MAX_EXTRAPOLATION = 1.5
# A job is first polled this many base intervals after it is tracked: no render ends sooner (Veo 3.1 fast
# takes 30 s and more), and a first reading with some progress gives a first estimate.
FIRST_POLL_INTERVALS = 2.0
# Transient upstream faults back off exponentially from here, with jitter, up to the cap.
MIN_BACKOFF_S = 5.0
MAX_BACKOFF_S = 900.0


def first_poll_delay(base_s: float) -> float:
    """Seconds from tracking a job to its first poll (0 when every job is due at every run)."""
    return max(0.0, base_s * FIRST_POLL_INTERVALS)


def next_poll_delay(
    *,
    base_s: float,
    age_s: float,
    progress: float | None = None,
    running_s: float | None = None,
    previous_progress: float | None = None,
    since_previous_s: float | None = None,
) -> float:
    """Seconds until the next poll of a job that answered normally.

    Without progress: `base_s`, then, for a long job, `age_s * SPACING_FACTOR` (capped). With progress, the
    poll is aimed at AIM of the estimated time left, which may be later than the base interval (a job at
    10 % of a 2-minute render is not asked again every 10 s) or sooner (one about to finish is asked again
    within seconds). The estimate uses the faster of two rates: the progress since the previous poll
    (`previous_progress`, `since_previous_s` ago) and the progress since the job started (`running_s`);
    the faster rate errs early, which costs a poll, where the slower errs late, which costs the caller.
    `base_s == 0` means every job is due at every run.
    """
    if base_s <= 0:
        return 0.0
    spacing = max(base_s, min(age_s * SPACING_FACTOR, max(base_s, MAX_SPACING_S)))
    left = estimated_time_left(progress, running_s, previous_progress, since_previous_s)
    if left is None:
        return spacing
    latest = max(spacing, min(MAX_EXTRAPOLATION * (running_s or age_s), MAX_SPACING_S))
    return min(max(AIM * left, MIN_AIMED_S), latest)


def estimated_time_left(
    progress: float | None,
    running_s: float | None,
    previous_progress: float | None,
    since_previous_s: float | None,
) -> float | None:
    """Seconds to 100 % at the faster of the two observed rates; None without a usable rate."""
    if progress is None or not 0 < progress < 100:
        return None
    rates = []
    if running_s is not None and running_s > 0:
        rates.append(progress / running_s)
    if previous_progress is not None and since_previous_s and since_previous_s > 0 and progress > previous_progress:
        rates.append((progress - previous_progress) / since_previous_s)
    if not rates:
        return None
    return (100 - progress) / max(rates)


def backoff_delay(*, base_s: float, streak: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds until the next try after `streak` consecutive faults: exponential, capped, 'equal jitter'."""
    ceiling = min(MAX_BACKOFF_S, max(base_s, MIN_BACKOFF_S) * 2 ** max(0, min(streak - 1, 20)))
    return ceiling / 2 + rand() * ceiling / 2
