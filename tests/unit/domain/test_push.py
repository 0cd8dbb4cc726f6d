"""A provider's callback as a decision: it moves a job forward only, a finished or stopped job ignores it, a
terminal one records one event (the same id as a poll's would be), and each status says how it was seen."""

from __future__ import annotations

from videohook.domain.events import event_id
from videohook.domain.models import Job, Reading, VideoStatus
from videohook.domain.polling import Answered, PollPolicy, decide
from videohook.domain.push import apply_push

POLICY = PollPolicy(base_s=10, max_age_s=21600, rand=lambda: 0.5)
NOW = 1_780_000_000.0


def job(**changes) -> Job:
    return Job(provider="luma", video_id="v1", tracked_at=int(NOW) - 60, next_poll_at=NOW + 5).with_changes(**changes)


def reading(status: VideoStatus | None, progress=None, **fields) -> Reading:
    return Reading(status=status, raw_status=status.value if status else "weird", progress=progress, fields=fields)


def push(before: Job, seen: Reading, now: float = NOW):
    return apply_push(before, seen, now=now, policy=POLICY, backstop_s=300)


def test_a_running_callback_moves_the_job_on_and_puts_the_next_poll_at_the_backstop():
    decision = push(job(), reading(VideoStatus.IN_PROGRESS, 40))
    assert decision.changed and decision.event is None
    assert (decision.job.status, decision.job.progress) == (VideoStatus.IN_PROGRESS, 40)
    assert decision.job.seen == {"in_progress": "push"}
    assert decision.job.next_poll_at == NOW + 300


def test_a_completed_callback_records_the_same_event_a_poll_would():
    done = reading(VideoStatus.COMPLETED, None, video_url="https://cdn.example/v1.mp4")
    decision = push(job(status=VideoStatus.IN_PROGRESS, seen={"in_progress": "poll"}), done)
    assert decision.event is not None and decision.job.pending_event == decision.event
    assert not decision.job.active and decision.job.video_url == "https://cdn.example/v1.mp4"
    assert decision.job.seen == {"in_progress": "poll", "completed": "push"}
    assert decision.event.id == event_id("luma", "v1", VideoStatus.COMPLETED)
    polled = decide(job(), Answered({"status": "completed"}), now=NOW, base_url="https://x", policy=POLICY)
    assert polled.event is not None and polled.event.id == decision.event.id


def test_duplicate_late_and_out_of_order_callbacks_change_nothing():
    running = push(job(), reading(VideoStatus.IN_PROGRESS, 40)).job
    assert not push(running, reading(VideoStatus.IN_PROGRESS, 40)).changed  # the same callback again
    assert not push(running, reading(VideoStatus.QUEUED)).changed  # an older one, late
    lower = push(running, reading(VideoStatus.IN_PROGRESS, 20))
    assert not lower.changed and lower.job.progress == 40  # progress never goes back
    failed = job(status=VideoStatus.FAILED, active=False, error={"code": "fail", "message": None})
    for late in (reading(VideoStatus.COMPLETED), reading(VideoStatus.IN_PROGRESS, 99), reading(VideoStatus.FAILED)):
        decision = push(failed, late)
        assert not decision.changed and decision.event is None and decision.job == failed


def test_a_stopped_job_and_an_unknown_status_are_ignored():
    assert not push(job(active=False), reading(VideoStatus.COMPLETED)).changed
    assert not push(job(), reading(None)).changed


def test_a_poll_notes_the_statuses_it_saw_first():
    decision = decide(job(), Answered({"status": "in_progress"}), now=NOW, base_url="https://x", policy=POLICY)
    assert decision.job.seen == {"in_progress": "poll"}
    after = push(decision.job, reading(VideoStatus.COMPLETED))
    assert after.job.seen == {"in_progress": "poll", "completed": "push"}


def test_a_provider_that_pushes_is_polled_no_sooner_than_its_backstop():
    answer = Answered({"status": "in_progress"})
    backstop = decide(job(), answer, now=NOW, base_url="https://x", policy=POLICY, backstop_s=600)
    plain = decide(job(), answer, now=NOW, base_url="https://x", policy=POLICY)
    assert plain.job.next_poll_at is not None and plain.job.next_poll_at < NOW + 600
    assert backstop.job.next_poll_at == NOW + 600
