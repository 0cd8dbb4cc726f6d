"""Reading a provider's answer into one normalised shape (PRODUCT.md, "Reading a provider's answer").

Tolerant of every shape in the seeds (HingNet: `queued`, float progress, top-level or nested `video_url`;
SkyEngine: `pending`, `seconds` as a string, no `video_url`) and of OpenAI's own video object. Never raises.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from videohook.domain.models import Reading, Unreadable, VideoStatus

STATUS_MAP: dict[str, VideoStatus] = {
    "queued": VideoStatus.QUEUED,
    "pending": VideoStatus.QUEUED,
    "in_progress": VideoStatus.IN_PROGRESS,
    "processing": VideoStatus.IN_PROGRESS,
    "running": VideoStatus.IN_PROGRESS,
    "completed": VideoStatus.COMPLETED,
    "succeeded": VideoStatus.COMPLETED,
    "failed": VideoStatus.FAILED,
    "error": VideoStatus.FAILED,
    "cancelled": VideoStatus.FAILED,
    "canceled": VideoStatus.FAILED,
    "expired": VideoStatus.FAILED,
}

_TEXT_FIELDS = ("model", "prompt", "size", "remixed_from_video_id")
_TIME_FIELDS = ("created_at", "completed_at", "expires_at")
_MAX_TEXT = 4096  # keeps one poll's write small whatever the provider sends


def normalise_status(raw: str) -> VideoStatus | None:
    return STATUS_MAP.get(raw.strip().lower())


def read_answer(body: Any, *, base_url: str, video_id: str) -> Reading | Unreadable:
    """Turn a decoded JSON body into a Reading, or say why it is Unreadable."""
    if not isinstance(body, dict):
        return Unreadable(f"answer is a JSON {type(body).__name__}, not an object")
    raw_status = body.get("status")
    if not isinstance(raw_status, str) or not raw_status.strip():
        return Unreadable("answer has no status")
    status = normalise_status(raw_status)
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        text = _text(body.get(name))
        if text is not None:
            fields[name] = text
    for name in _TIME_FIELDS:
        stamp = _int(body.get(name))
        if stamp is not None:
            fields[name] = stamp
    seconds = _int(body.get("seconds"))
    if seconds is not None:
        fields["seconds"] = seconds
    url = _video_url(body)
    if url is not None:
        fields["video_url"] = url
    if status is VideoStatus.COMPLETED:
        fields.setdefault("video_url", None)
        fields["content_url"] = (
            None if fields["video_url"] else f"{base_url}/v1/videos/{quote(video_id, safe='')}/content"
        )
    if status is VideoStatus.FAILED:
        fields["error"] = _error(body.get("error"), raw_status.strip().lower())
    elif isinstance(body.get("error"), dict):
        fields["error"] = _error(body["error"], raw_status.strip().lower())
    return Reading(status=status, raw_status=raw_status[:64], progress=_progress(body.get("progress")), fields=fields)


def _progress(value: Any) -> int | float | None:
    number: float | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    if number is None or math.isnan(number):
        return None
    number = min(100.0, max(0.0, number))
    return int(number) if number.is_integer() else round(number, 2)


def _int(value: Any) -> int | None:
    """An int from `6`, `6.0` or `"6"`; None for anything else (bools, junk, non-finite)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if math.isfinite(number) and number.is_integer():
            return int(number)
    return None


def _text(value: Any) -> str | None:
    return value[:_MAX_TEXT] if isinstance(value, str) else None


def _video_url(body: dict[str, Any]) -> str | None:
    url = body.get("video_url")
    if isinstance(url, str) and url:
        return url[:_MAX_TEXT]
    result = body.get("result")
    if isinstance(result, dict):
        nested = result.get("video_url")
        if isinstance(nested, str) and nested:
            return nested[:_MAX_TEXT]
    return None


def _error(value: Any, raw_status: str) -> dict[str, Any]:
    """`{code, message, type?}` as given; the raw status stands in for a missing code."""
    error: dict[str, Any] = {"code": raw_status, "message": None}
    if isinstance(value, dict):
        code = value.get("code")
        if isinstance(code, str | int) and not isinstance(code, bool) and str(code):
            error["code"] = str(code)[:200]
        message = value.get("message")
        if isinstance(message, str):
            error["message"] = message[:1000]
        kind = value.get("type")
        if isinstance(kind, str):
            error["type"] = kind[:200]
    elif isinstance(value, str):
        error["message"] = value[:1000]
    return error
