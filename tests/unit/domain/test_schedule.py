"""Next-poll decisions."""

import pytest
from videohook.domain.schedule import (
    AIM,
    MAX_BACKOFF_S,
    MAX_EXTRAPOLATION,
    MAX_SPACING_S,
    MIN_AIMED_S,
    backoff_delay,
    estimated_time_left,
    first_poll_delay,
    next_poll_delay,
)


def test_zero_interval_means_every_run():
    assert next_poll_delay(base_s=0, age_s=5000, progress=10, running_s=100) == 0


def test_young_job_is_polled_at_the_base_interval():
    assert next_poll_delay(base_s=10, age_s=30) == 10


def test_long_job_is_spaced_further_but_capped():
    assert next_poll_delay(base_s=10, age_s=600) == 60
    assert next_poll_delay(base_s=10, age_s=100_000) == MAX_SPACING_S


def test_base_larger_than_cap_is_respected():
    assert next_poll_delay(base_s=300, age_s=100_000) == 300


def test_progress_estimate_aims_a_little_before_the_estimated_finish():
    # 600 s in, 90 % done: ~66.7 s to go at that rate; the poll is aimed at AIM of it
    assert next_poll_delay(base_s=10, age_s=600, progress=90, running_s=600) == pytest.approx(AIM * 600 / 9)


def test_a_job_early_in_its_render_is_not_asked_again_every_base_interval():
    # 20 s in, 10 % done: ~180 s to go; polled again once its running time has grown by half, not in 10 s
    delay = next_poll_delay(base_s=10, age_s=20, progress=10, running_s=20)
    assert delay == pytest.approx(MAX_EXTRAPOLATION * 20)
    assert delay > 10


def test_a_job_about_to_finish_is_asked_again_within_seconds():
    assert next_poll_delay(base_s=10, age_s=100, progress=99, running_s=100) == MIN_AIMED_S


def test_the_faster_of_the_recent_and_the_overall_rate_is_used():
    # overall 0.5 %/s, but 20 % in the last 10 s: 25 s to go at 2 %/s
    assert estimated_time_left(50, 100, previous_progress=30, since_previous_s=10) == pytest.approx(25)
    delay = next_poll_delay(base_s=10, age_s=100, progress=50, running_s=100, previous_progress=30, since_previous_s=10)
    assert delay == pytest.approx(AIM * 25)


def test_stalled_progress_falls_back_to_the_overall_rate():
    assert estimated_time_left(50, 100, previous_progress=50, since_previous_s=10) == pytest.approx(100)


def test_no_usable_progress_gives_no_estimate():
    assert estimated_time_left(0, 100, None, None) is None
    assert estimated_time_left(100, 100, None, None) is None
    assert estimated_time_left(40, None, None, None) is None


def test_first_poll_waits_a_couple_of_base_intervals_unless_every_run_polls_everything():
    assert first_poll_delay(10) == 20
    assert first_poll_delay(0) == 0


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    low = [backoff_delay(base_s=10, streak=n, rand=lambda: 0.0) for n in (1, 2, 3)]
    high = [backoff_delay(base_s=10, streak=n, rand=lambda: 1.0) for n in (1, 2, 3)]
    assert low == [5, 10, 20]
    assert high == [10, 20, 40]
    assert backoff_delay(base_s=10, streak=50, rand=lambda: 1.0) == MAX_BACKOFF_S


def test_backoff_with_zero_base_still_waits():
    assert backoff_delay(base_s=0, streak=1, rand=lambda: 1.0) == 5
