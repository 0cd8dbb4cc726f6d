"""Reading an OpenAI-shaped answer (PRODUCT.md, "Reading a provider's answer"): the `openai` dialect.

Tolerant of every shape in the seeds (HingNet: `queued`, float progress, top-level or nested `video_url`;
SkyEngine: `pending`, `seconds` as a string, no `video_url`), of OpenAI's own video object and of new-api
gateways (`metadata.url`, `completed_at` while running). Never raises. Every other API: domain/dialects.
"""

from __future__ import annotations

from typing import Any

from videohook.domain.dialects import builtin
from videohook.domain.dialects.reader import MEANING, Refusal, read
from videohook.domain.models import Reading, Unreadable, VideoStatus

# The openai dialect's status table: raw status -> normalised status.
STATUS_MAP: dict[str, VideoStatus] = {raw: MEANING[meaning] for raw, meaning in builtin("openai").statuses.items()}


def read_answer(body: Any, *, base_url: str, video_id: str) -> Reading | Unreadable:
    """Turn a decoded JSON body into a Reading, or say why it is Unreadable."""
    reading = read(builtin("openai"), body, base_url=base_url, video_id=video_id)
    return reading if not isinstance(reading, Refusal) else Unreadable(reading.detail)  # openai has no api_error
