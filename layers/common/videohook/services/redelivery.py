"""The API's replay use case: send a finished job's final event (same id, same body) to its callback URL again.

The event is queued on WebhookQueue, not published to EventsTopic: only the webhook is sent again (other
subscribers of the topic are not bothered), and the replay gets the same signing, SSRF checks, retries,
dead-lettering and delivery log as the first delivery. The API never holds the signing secret, and answers
at once instead of waiting on a slow receiver. WebhookFunction takes only the event's id, type and job from
the message and rebuilds the body from the stored job, so what is queued here is what any queued event is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videohook.config import Settings
from videohook.domain.events import event_message, final_event
from videohook.domain.validation import check_provider, check_video_id
from videohook.ports import JobStore, WebhookQueue
from videohook.services.tracking import Caller, JobNotFound


class CannotRedeliver(Exception):
    """The job exists but has nothing to redeliver (answered 409)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Redelivery:
    settings: Settings
    store: JobStore
    queue: WebhookQueue

    def redeliver(self, provider: str, video_id: str, caller: Caller) -> dict[str, Any]:
        """Queue the job's final event for its webhook; another principal's job is not found (404)."""
        provider = check_provider(provider, self.settings.providers)
        video_id = check_video_id(video_id, any_form=True)
        job = self.store.get(provider, video_id)
        if job is None or not caller.may_see(job):
            raise JobNotFound(provider, video_id)
        if not job.callback_url:
            raise CannotRedeliver("The job has no callback_url; there is no webhook to send", code="no_callback_url")
        if not job.status.is_terminal:
            raise CannotRedeliver(
                f"The job is {job.status.value}; only a finished job's event can be redelivered",
                code="job_not_finished",
            )
        event = final_event(job)
        body, attributes = event_message(job, event)
        self.queue.send(body, attributes)
        return {
            "object": "webhook.redelivery",
            "event_id": event.id,
            "type": event.type,
            "callback_url": job.callback_url,
            "status": "queued",
        }
