"""The pure decision of what one poll means for a job."""

from videohook.domain.models import Job, VideoStatus
from videohook.domain.polling import Answered, Fault, PollPolicy, decide

NOW = 1_761_234_600.0
POLICY = PollPolicy(base_s=10, max_age_s=21600, rand=lambda: 1.0)
BASE = "https://gw.example"


def job(**changes):
    return Job("hingnet", "video_1", tracked_at=int(NOW) - 30, next_poll_at=NOW, version=3).with_changes(**changes)


def run(result, before=None, now=NOW):
    return decide(before or job(), result, now=now, base_url=BASE, policy=POLICY)


def test_progress_change_is_recorded_and_next_poll_scheduled():
    decision = run(Answered({"status": "in_progress", "progress": 45.5}))
    assert decision.changed
    assert decision.event is None
    assert decision.job.status is VideoStatus.IN_PROGRESS
    assert decision.job.progress == 45.5
    assert decision.job.polls == 1
    assert decision.job.last_polled_at == int(NOW)
    assert decision.job.next_poll_at == NOW + 10
    assert decision.job.active


def test_unchanged_answer_is_not_a_change():
    before = job(status=VideoStatus.IN_PROGRESS, progress=40)
    decision = run(Answered({"status": "in_progress", "progress": 40}), before)
    assert not decision.changed
    assert decision.job.polls == 1


def test_absent_progress_keeps_the_last_known_value():
    decision = run(Answered({"status": "in_progress"}), job(progress=30))
    assert decision.job.progress == 30


def test_completion_makes_the_job_terminal_with_a_pending_event():
    decision = run(Answered({"status": "completed", "progress": 100, "video_url": "https://cdn/v.mp4"}))
    assert decision.job.status is VideoStatus.COMPLETED
    assert not decision.job.active
    assert decision.event is not None
    assert decision.event.type == "video.completed"
    assert decision.job.pending_event == decision.event


def test_unknown_status_keeps_polling_and_is_reported():
    decision = run(Answered({"status": "moderating"}), job(status=VideoStatus.IN_PROGRESS))
    assert decision.unknown_status == "moderating"
    assert decision.job.status is VideoStatus.IN_PROGRESS
    assert decision.job.active
    assert decision.event is None


def test_three_404s_in_a_row_fail_the_job_with_not_found():
    first = run(Fault("not_found", 404))
    second = run(Fault("not_found", 404), first.job)
    assert first.job.active and second.job.active
    third = run(Fault("not_found", 404), second.job)
    assert third.job.status is VideoStatus.FAILED
    assert third.job.error["code"] == "not_found"
    assert third.event is not None and third.event.type == "video.failed"


def test_a_200_between_404s_resets_the_count():
    first = run(Fault("not_found", 404))
    ok = run(Answered({"status": "queued"}), first.job)
    assert ok.job.not_found_streak == 0
    again = run(Fault("not_found", 404), run(Fault("not_found", 404), ok.job).job)
    assert again.job.active


def test_transient_fault_backs_off_without_changing_the_job():
    decision = run(Fault("server_error", 503))
    assert not decision.changed
    assert decision.job.error_streak == 1
    assert decision.job.next_poll_at == NOW + 10  # rand=1: the full first step
    second = run(Fault("server_error", 503), decision.job)
    assert second.job.next_poll_at == NOW + 20


def test_retry_after_is_honoured_when_longer_than_backoff():
    decision = run(Fault("rate_limited", 429, retry_after_s=120))
    assert decision.job.next_poll_at == NOW + 120


def test_unreadable_200_is_a_bad_body_fault():
    decision = run(Answered(["not", "an", "object"]))
    assert decision.fault is not None and decision.fault.kind == "bad_body"
    assert decision.job.active


def test_job_older_than_max_age_fails_with_timeout():
    old = job(tracked_at=int(NOW) - 30_000, status=VideoStatus.IN_PROGRESS)
    decision = run(Answered({"status": "in_progress", "progress": 50}), old)
    assert decision.job.status is VideoStatus.FAILED
    assert decision.job.error["code"] == "timeout"
    assert decision.event is not None


def test_completed_skyengine_answer_gets_a_content_url():
    decision = run(Answered({"status": "completed", "seconds": "8"}))
    assert decision.job.video_url is None
    assert decision.job.content_url == f"{BASE}/v1/videos/video_1/content"
    assert decision.job.seconds == 8
