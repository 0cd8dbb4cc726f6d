"""Input rules of the HTTP API (PRODUCT.md, "Input rules"). Every refusal names the field and the rule."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from videohook.domain.ssrf import DestinationRefused, check_url

if TYPE_CHECKING:
    from videohook.domain.dialects import Dialect

MAX_VIDEO_ID = 200
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_CALLBACK_URL = 2048
MAX_DURATION_S = 86400
TRACK_FIELDS = ("provider", "video_id", "callback_url", "metadata", "duration", "events")
EVENT_OPTIONS = ("progress",)  # optional events a job may ask for (videohook.domain.progress)


class InvalidRequest(ValueError):
    """A caller's mistake: answered 400 in OpenAI's error shape, and nothing is written."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class TrackRequest:
    provider: str
    video_id: str
    callback_url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    duration: int | None = None
    progress_events: bool = False


def parse_track_request(
    body: Any, *, providers: Collection[str], allow_loopback: bool, dialects: Mapping[str, Dialect] | None = None
) -> TrackRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object", code="invalid_body")
    unknown = sorted(str(name) for name in body if name not in TRACK_FIELDS)
    if unknown:
        raise InvalidRequest(
            f"Unrecognized request argument supplied: {unknown[0][:64]}",
            param=unknown[0][:64],
            code="unknown_parameter",
        )
    provider = check_provider(body.get("provider"), providers)
    video_id = check_video_id(body.get("video_id"), (dialects or {}).get(provider))
    return TrackRequest(
        provider=provider,
        video_id=video_id,
        callback_url=_callback_url(body.get("callback_url"), allow_loopback),
        metadata=_metadata(body.get("metadata")),
        duration=_duration(body.get("duration")),
        progress_events="progress" in _events(body.get("events")),
    )


def check_provider(value: Any, providers: Collection[str]) -> str:
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'provider'", param="provider", code="missing_required_parameter"
        )
    if not isinstance(value, str):
        raise InvalidRequest("'provider' must be a string", param="provider", code="invalid_type")
    if value not in providers:
        known = ", ".join(sorted(providers))
        raise InvalidRequest(
            f"Unknown provider {value[:64]!r}; configured providers: {known}", param="provider", code="unknown_provider"
        )
    return value


def check_video_id(value: Any, dialect: Dialect | None = None, *, any_form: bool = False) -> str:
    """A video id: 1-200 printable characters. A dialect whose ids are paths (Gemini's operation names, Kling's
    `text2video/<task_id>`) says their form in `id_pattern`; other ids hold no '/'. `any_form`: an id already
    tracked, of whatever dialect (redeliver, webhook messages)."""
    if value is None:
        raise InvalidRequest(
            "Missing required parameter: 'video_id'", param="video_id", code="missing_required_parameter"
        )
    if not isinstance(value, str):
        raise InvalidRequest("'video_id' must be a string", param="video_id", code="invalid_type")
    if not 1 <= len(value) <= MAX_VIDEO_ID:
        raise InvalidRequest(f"'video_id' must be 1 to {MAX_VIDEO_ID} characters", param="video_id")
    pattern = dialect.id_pattern if dialect is not None else None
    slash = "" if (pattern is not None or any_form) else "/"
    if not value.isprintable() or any(char in value for char in slash + "?#"):
        banned = "'/', '?' or '#'" if slash else "'?' or '#'"
        raise InvalidRequest(f"'video_id' must be printable characters without {banned}", param="video_id")
    if any(segment in ("", ".", "..") for segment in value.split("/")):
        # A path segment of its own: `GET .../v1/videos/..` would be another resource, with the token.
        raise InvalidRequest("'video_id' must not be '.' or '..' (or have an empty part)", param="video_id")
    if dialect is not None and pattern is not None and not pattern.fullmatch(value):
        hint = f": {dialect.id_hint}" if dialect.id_hint else ""
        raise InvalidRequest(f"'video_id' is not a {dialect.name} id{hint}", param="video_id", code="invalid_id_form")
    return value


def _callback_url(value: Any, allow_loopback: bool) -> str | None:
    """Refused exactly when delivery would refuse it whatever its host resolves to: the same code decides
    (ssrf.check_url, which check_destination runs before it resolves anything)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("'callback_url' must be a string", param="callback_url", code="invalid_type")
    if len(value) > MAX_CALLBACK_URL:
        raise InvalidRequest(
            f"'callback_url' must be a URL of at most {MAX_CALLBACK_URL} characters", param="callback_url"
        )
    try:
        check_url(value, allow_loopback=allow_loopback)
    except DestinationRefused as refused:
        # The reason names the rule; the URL itself (whose query may hold a token) is not echoed.
        raise InvalidRequest(
            f"'callback_url' is refused: {refused.reason}; it must be an absolute https URL to a public host",
            param="callback_url",
        ) from None
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("'metadata' must be an object of string pairs", param="metadata", code="invalid_type")
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidRequest(f"'metadata' may hold at most {MAX_METADATA_PAIRS} pairs", param="metadata")
    for key, item in value.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY:
            raise InvalidRequest(f"'metadata' keys must be 1 to {MAX_METADATA_KEY} characters", param="metadata")
        if not isinstance(item, str):
            raise InvalidRequest(f"'metadata.{key[:64]}' must be a string", param="metadata", code="invalid_type")
        if len(item) > MAX_METADATA_VALUE:
            raise InvalidRequest(f"'metadata' values must be at most {MAX_METADATA_VALUE} characters", param="metadata")
        if not _is_unicode(key) or not _is_unicode(item):
            # JSON can spell lone surrogates (\ud800); DynamoDB cannot store them, so they never get that far.
            raise InvalidRequest("'metadata' keys and values must be valid Unicode text", param="metadata")
    return dict(value)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _duration(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("'duration' must be a positive integer (seconds)", param="duration", code="invalid_type")
    if not 1 <= value <= MAX_DURATION_S:
        raise InvalidRequest(f"'duration' must be from 1 to {MAX_DURATION_S} seconds", param="duration")
    return value


def _events(value: Any) -> set[str]:
    """Optional events the caller asks for; none unless asked (terminal events are always sent)."""
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest("'events' must be a list of strings", param="events", code="invalid_type")
    unknown = [item for item in value if item not in EVENT_OPTIONS]
    if unknown:
        raise InvalidRequest(
            f"'events' may only hold {', '.join(repr(o) for o in EVENT_OPTIONS)}, not {unknown[0][:64]!r}",
            param="events",
        )
    return set(value)
