"""Next-poll decisions."""

import pytest
from videohook.schedule import MAX_BACKOFF_S, MAX_SPACING_S, backoff_delay, next_poll_delay


def test_zero_interval_means_every_run():
    assert next_poll_delay(base_s=0, age_s=5000, progress=10, running_s=100) == 0


def test_young_job_is_polled_at_the_base_interval():
    assert next_poll_delay(base_s=10, age_s=30) == 10


def test_long_job_is_spaced_further_but_capped():
    assert next_poll_delay(base_s=10, age_s=600) == 60
    assert next_poll_delay(base_s=10, age_s=100_000) == MAX_SPACING_S


def test_base_larger_than_cap_is_respected():
    assert next_poll_delay(base_s=300, age_s=100_000) == 300


def test_progress_estimate_pulls_the_next_poll_forward():
    # 600 s in, 90 % done: about 67 s to go, sooner than the 60 s spacing? no: spacing is 60, estimate 66.7
    assert next_poll_delay(base_s=10, age_s=600, progress=90, running_s=600) == 60
    # 1200 s in, 95 % done: ~63 s left, sooner than the 120 s spacing
    assert next_poll_delay(base_s=10, age_s=1200, progress=95, running_s=1200) == pytest.approx(63.16, abs=0.01)
    # never below the base interval
    assert next_poll_delay(base_s=10, age_s=1200, progress=99.9, running_s=1200) == 10


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    low = [backoff_delay(base_s=10, streak=n, rand=lambda: 0.0) for n in (1, 2, 3)]
    high = [backoff_delay(base_s=10, streak=n, rand=lambda: 1.0) for n in (1, 2, 3)]
    assert low == [5, 10, 20]
    assert high == [10, 20, 40]
    assert backoff_delay(base_s=10, streak=50, rand=lambda: 1.0) == MAX_BACKOFF_S


def test_backoff_with_zero_base_still_waits():
    assert backoff_delay(base_s=0, streak=1, rand=lambda: 1.0) == 5
