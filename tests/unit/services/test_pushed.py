"""services/pushed.py, the step inbound callbacks and tracking share: one pushed reading recorded with the
poll's conditional write, decided again on a concurrent write's state, given up after a few lost races. An
in-process store stub; the decision itself is domain.push's (tests/unit/domain/test_push.py)."""

from __future__ import annotations

from videohook.domain.models import Job, Reading, VideoStatus
from videohook.domain.polling import PollPolicy
from videohook.services.pushed import SAVE_ATTEMPTS, record_pushed

NOW = 1_800_000_000.0
POLICY = PollPolicy(base_s=10, max_age_s=86_400)


class Store:
    """Saves win only on the stored version; `races` saves in a row first lose to a concurrent write that
    moves the job to `raced_to`."""

    def __init__(self, job: Job, *, races: int = 0, raced_to: Job | None = None) -> None:
        self.job = job
        self.races = races
        self.raced_to = raced_to
        self.writes: list[Job] = []

    def get(self, provider: str, video_id: str) -> Job | None:
        return self.job

    def save(self, job: Job, *, now: float) -> Job | None:
        self.writes.append(job)
        if self.races:
            self.races -= 1
            if self.raced_to is not None:
                self.job = self.raced_to.with_changes(version=self.job.version + 1)
            return None
        if job.version != self.job.version:
            return None
        self.job = job.with_changes(version=job.version + 1)
        return self.job


def seen(status: VideoStatus, progress: int | None = None) -> Reading:
    return Reading(status=status, raw_status=status.value, progress=progress)


def running(**changes) -> Job:
    job = Job(provider="luma", video_id="gen_1", status=VideoStatus.IN_PROGRESS, tracked_at=int(NOW) - 60)
    return job.with_changes(active=True, version=2, next_poll_at=NOW + 300, **changes)


def record(store: Store, reading: Reading, *, lease: float = 30.0):
    return record_pushed(
        store, store.job, reading, clock=lambda: NOW, policy=POLICY, backstop_s=300, event_lease_s=lease
    )


def test_a_terminal_reading_is_written_once_with_its_event_pending_for_the_lease():
    store = Store(running())
    pushed = record(store, seen(VideoStatus.COMPLETED, 100), lease=30.0)
    assert pushed.recorded and pushed.event_to_publish and not pushed.gave_up
    assert len(store.writes) == 1 and store.job.status is VideoStatus.COMPLETED
    assert store.job.pending_event is not None and store.job.next_poll_at == NOW + 30.0


def test_tracking_leaves_the_event_due_at_once_for_the_next_poller_run():
    store = Store(running())
    pushed = record(store, seen(VideoStatus.FAILED), lease=0.0)
    assert pushed.event_to_publish and store.job.next_poll_at == NOW


def test_a_duplicate_or_backward_reading_writes_nothing():
    store = Store(running(progress=50))
    assert not record(store, seen(VideoStatus.QUEUED)).recorded
    assert store.writes == []


def test_a_lost_race_decides_again_on_the_winner_state():
    # a poll recorded the completion first: the same callback then has nothing to add (no second event)
    done = running().with_changes(status=VideoStatus.COMPLETED, active=False, progress=100)
    store = Store(running(), races=1, raced_to=done)
    pushed = record(store, seen(VideoStatus.COMPLETED, 100))
    assert not pushed.recorded and not pushed.gave_up
    assert len(store.writes) == 1 and store.job.status is VideoStatus.COMPLETED


def test_a_race_lost_then_won_records_the_reading_on_the_fresh_state():
    store = Store(running(), races=1, raced_to=running(progress=70))
    pushed = record(store, seen(VideoStatus.IN_PROGRESS, 80))
    assert pushed.recorded and not pushed.event_to_publish
    assert len(store.writes) == 2 and store.job.progress == 80


def test_races_lost_every_time_give_up_after_the_attempts():
    store = Store(running(), races=SAVE_ATTEMPTS + 5, raced_to=running(progress=10))
    pushed = record(store, seen(VideoStatus.IN_PROGRESS, 90))
    assert pushed.gave_up and not pushed.recorded
    assert len(store.writes) == SAVE_ATTEMPTS
