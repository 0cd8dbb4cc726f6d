"""Reading a provider's answer through its dialect into one normalised Reading: the same job fields whatever
the API (PRODUCT.md, "Provider dialects"). Never raises: any JSON gives a Reading, an Unreadable (treated as
a transient fault), or a Refusal (the API said "error" in a 200 body: rate limited, unauthorized...)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from videohook.domain.dialects import paths
from videohook.domain.dialects.requests import content_url
from videohook.domain.dialects.spec import TEXT_FIELDS, ApiError, Dialect, TimeField
from videohook.domain.models import Reading, Unreadable, VideoStatus

MAX_TEXT = 4096  # keeps one poll's write small whatever the provider sends
MEANING = {
    "queued": VideoStatus.QUEUED,
    "throttled": VideoStatus.QUEUED,
    "in_progress": VideoStatus.IN_PROGRESS,
    "completed": VideoStatus.COMPLETED,
    "failed": VideoStatus.FAILED,
}


@dataclass(frozen=True)
class Refusal:
    """A 200 answer whose body is an API error, not the job: `kind` is a poll fault kind."""

    kind: str  # rate_limited, unauthorized, client_error
    detail: str


def status_of(dialect: Dialect, body: Any) -> tuple[VideoStatus | None, str, bool] | None:
    """(status, raw status, throttled) of an answer, or None when it has no readable status."""
    if not isinstance(body, dict):
        return None
    raw = paths.get(body, dialect.status_path)
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    elif isinstance(raw, int | float) and str(raw) in dialect.statuses:
        raw = str(raw)  # an API with numeric statuses names them in its table
    if raw is None and dialect.status_missing is not None:
        raw = ""
    if not isinstance(raw, str) or (not raw.strip() and dialect.status_missing is None):
        return None
    key = raw.strip().lower()
    meaning = dialect.statuses.get(key) if key else dialect.status_missing
    for path, label in dialect.failed_when_present:
        if paths.get(body, path) not in (None, "", {}, []):
            return VideoStatus.FAILED, label, False
    if meaning is None:
        return None, raw[:64], False
    return MEANING[meaning], (raw.strip() or meaning)[:64], meaning == "throttled"


def read(
    dialect: Dialect, body: Any, *, base_url: str, video_id: str, now: float | None = None, follow: Any = None
) -> Reading | Unreadable | Refusal:
    """Turn a decoded JSON body (and the follow-up's answer, if the dialect has one) into a Reading."""
    if not isinstance(body, dict):
        return Unreadable(f"answer is a JSON {type(body).__name__}, not an object")
    found = status_of(dialect, body)
    if found is None:
        # No status: an API error in a 200 body (MiniMax's base_resp, Kling's code), or unreadable.
        return _refusal(dialect.api_error, body) or Unreadable("answer has no status")
    status, raw_status, throttled = found
    fields = _fields(dialect, body, status)
    url = _url(paths.first(body, dialect.video_url, str))
    step = dialect.follow_up
    if step is not None and status is step.when:
        if not isinstance(follow, dict):
            # The video is in a second answer we do not have: still running as far as the job goes.
            return Reading(status=VideoStatus.IN_PROGRESS, raw_status=raw_status, progress=None, fields=fields)
        refusal = _refusal(step.api_error, follow)
        if refusal is not None:
            return refusal
        url = _url(paths.first(follow, step.video_url, str)) or url
        error = _error_of(follow, step.error_code, step.error_message, (), "failed", _ok_codes(step.api_error))
        if error is not None:
            status, fields["error"] = VideoStatus.FAILED, error
    if url is not None:
        # A link that needs the key is one on the provider's own host; a link elsewhere is the video's own.
        keyed = dialect.video_url_needs_key and url.startswith(base_url + "/")
        fields["content_url" if keyed else "video_url"] = url
    if status is VideoStatus.COMPLETED:
        _completed(dialect, fields, base_url, video_id, now)
    if "error" not in fields:
        code = raw_status.strip().lower()
        error = _error_of(body, dialect.error_code, dialect.error_message, dialect.error_type, code, _ok(dialect))
        if status is VideoStatus.FAILED:
            fields["error"] = error or {"code": code, "message": None}
        elif error is not None:
            fields["error"] = error
    progress = _progress(paths.first(body, dialect.progress_path), dialect.progress_scale)
    return Reading(status=status, raw_status=raw_status, progress=progress, fields=fields, throttled=throttled)


def _completed(dialect: Dialect, fields: dict[str, Any], base_url: str, video_id: str, now: float | None) -> None:
    """A completed video's link: its URL, else the provider's download endpoint; and when the link expires."""
    fields.setdefault("video_url", None)
    fields.setdefault("content_url", None if fields["video_url"] else content_url(dialect, base_url, video_id))
    if dialect.url_lifetime_s and "expires_at" not in fields and now is not None:
        fields["expires_at"] = int(now) + dialect.url_lifetime_s


def _fields(dialect: Dialect, body: dict[str, Any], status: VideoStatus | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        text = _text(paths.first(body, dialect.fields.get(name, ()), str))
        if text is not None:
            fields[name] = text
    seconds = _int(paths.first(body, dialect.fields.get("seconds", ())))
    if seconds is not None:
        fields["seconds"] = seconds
    for name, spec in dialect.times.items():
        stamp = _time(paths.get(body, spec.path), spec)
        if stamp is not None and (not spec.only_when_terminal or (status is not None and status.is_terminal)):
            fields[name] = stamp
    return fields


def _refusal(spec: ApiError | None, body: Any) -> Refusal | None:
    if spec is None:
        return None
    code = paths.get(body, spec.path)
    if code is None or code in spec.ok:
        return None
    message = _message(paths.get(body, spec.message)) if spec.message else None
    detail = f"API error {str(code)[:40]}" + (f": {message[:200]}" if message else "")
    if code in spec.rate_limited:
        return Refusal("rate_limited", detail)
    if code in spec.unauthorized:
        return Refusal("unauthorized", detail)
    return Refusal("client_error", detail)


def _ok(dialect: Dialect) -> tuple[Any, ...]:
    return (*dialect.error_ok, *_ok_codes(dialect.api_error))


def _ok_codes(spec: ApiError | None) -> tuple[Any, ...]:
    return spec.ok if spec is not None else ()


def _error_of(
    body: Any,
    codes: tuple[str, ...],
    messages: tuple[str, ...],
    kinds: tuple[str, ...],
    default_code: str,
    ok: tuple[Any, ...] = (),
) -> dict[str, Any] | None:
    """`{code, message, type?}` as given; None when the answer names no error. `default_code` (the raw
    status) stands in for a missing code; codes that mean "no error" (`ok`: MiniMax's 0) are not codes."""
    raw_code = paths.first(body, codes, str, int)
    code = None if raw_code in ok else _code(raw_code)
    message = _message(paths.first(body, messages, str))
    if ok and raw_code in ok and message is not None and code is None:
        message = None  # base_resp's "success" is not an error message
    kind = paths.first(body, kinds, str)
    if code is None and message is None:
        return None
    error: dict[str, Any] = {"code": code or default_code, "message": message}
    if isinstance(kind, str):
        error["type"] = kind[:200]
    return error


def _code(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)[:200]
    return None


def _message(value: Any) -> str | None:
    return value[:1000] if isinstance(value, str) and value else None


def _url(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _progress(value: Any, scale: float = 1.0) -> int | float | None:
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
    if number is None or not math.isfinite(number):
        return None
    number = min(100.0, max(0.0, number * scale))
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


def _time(value: Any, spec: TimeField) -> int | None:
    """Unix seconds from the dialect's format; None for anything unreadable or out of range."""
    if spec.format == "iso8601":
        if not isinstance(value, str) or len(value) > 64:
            return None
        try:
            stamp = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        seconds: int | None = int(stamp.timestamp())
    else:
        number = _int(value)
        seconds = None if number is None else (number // 1000 if spec.format == "unix_ms" else number)
    return seconds
