"""What a dialect is: where a provider's status answer is, how to ask for it, and how to read it. Data, not
code: every built-in dialect (builtin.py) and every custom one in `PROVIDERS` is the same JSON form, read by
`parse_dialect` (docs/providers.md documents it). Pure: no IO."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from videohook.domain.dialects.paths import BadPath, compile_path
from videohook.domain.models import VideoStatus

# What a raw status may mean. `throttled`: queued, held by the provider for its rate limits (Runway's THROTTLED).
MEANINGS = ("queued", "throttled", "in_progress", "completed", "failed")
AUTH_SCHEMES: dict[str, tuple[str, str, str | None]] = {
    # name -> (header, value prefix, how the header's token is made from the secret)
    "bearer": ("Authorization", "Bearer ", None),
    "x-goog-api-key": ("x-goog-api-key", "", None),
    "key": ("Authorization", "Key ", None),
    "kling-jwt": ("Authorization", "Bearer ", "jwt-hs256"),  # a JWT signed with the secret key, 30 min long
}
TIME_FORMATS = ("unix", "unix_ms", "iso8601")
TEXT_FIELDS = ("model", "prompt", "size", "remixed_from_video_id")
_TEMPLATE_VAR = re.compile(r"\{([a-z_]+)(:path)?\}")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_FORBIDDEN_HEADERS = {"authorization", "host", "content-length", "cookie", "x-goog-api-key"}
_KEYS = {
    "request", "default_base_url", "id_pattern", "id_hint", "status", "progress", "video_url",
    "video_url_needs_key", "content_url", "error", "fields", "times", "url_lifetime_s", "api_error",
    "follow_up", "pushes", "docs", "inbound",
}  # fmt: skip
_INBOUND_KEYS = {"object", "key", "key_from_id", "reads", "challenge"}


class DialectError(ValueError):
    """A dialect description that cannot be used; the message names the key and says why."""


@dataclass(frozen=True)
class Auth:
    header: str
    prefix: str
    mint: str | None = None  # None: the secret is sent as it is; "jwt-hs256": Kling's access key + secret key


@dataclass(frozen=True)
class RequestSpec:
    path: str  # after base_url; {id} (percent-encoded whole), {id:path} (per segment), {duration}, {<var>}
    query: Mapping[str, str] = field(default_factory=dict)  # a parameter whose variable is absent is left out


@dataclass(frozen=True)
class TimeField:
    path: str
    format: str = "unix"
    only_when_terminal: bool = False  # some gateways stamp completed_at while the job still runs


@dataclass(frozen=True)
class ApiError:
    """An API that answers 200 with its own error code in the body (MiniMax's base_resp, Kling's code)."""

    path: str
    ok: tuple[Any, ...]
    rate_limited: tuple[Any, ...] = ()
    unauthorized: tuple[Any, ...] = ()
    message: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """A second read once the status says `when` (MiniMax's file lookup, fal's result): its answer holds the
    video. `vars` name values of the first answer that the request's template uses."""

    when: VideoStatus
    request: RequestSpec
    vars: Mapping[str, str]
    video_url: tuple[str, ...]
    error_code: tuple[str, ...] = ()
    error_message: tuple[str, ...] = ()
    api_error: ApiError | None = None
    read_errors: bool = False  # a 4xx answer (not 401/403/404/429) is the job's failure, read from its body


@dataclass(frozen=True)
class InboundSpec:
    """How the API's callback names its job and carries its state (services/inbound.py)."""

    object_path: str | None  # where the job object is in the callback; None: the body itself
    key: tuple[str, ...]  # paths, into the callback body, of the key naming the job
    key_from_id: re.Pattern[str] | None  # the key of a tracked video id: the group `key` (None: the id itself)
    reads: Dialect | None = None  # the dialect the job object is read with, when not the polling one
    challenge: str | None = None  # a handshake field to echo (MiniMax's `challenge`)

    def key_of(self, video_id: str) -> str:
        if self.key_from_id is None:
            return video_id
        match = self.key_from_id.search(video_id)
        return match.group("key") if match else video_id


@dataclass(frozen=True)
class Dialect:
    name: str
    request: RequestSpec
    auth: Auth
    status_path: str
    statuses: Mapping[str, str]  # raw status (lower case) -> one of MEANINGS
    headers: Mapping[str, str] = field(default_factory=dict)
    default_base_url: str | None = None
    id_pattern: re.Pattern[str] | None = None
    id_hint: str = ""
    status_missing: str | None = None  # the meaning when the answer has no status (Gemini leaves out done=false)
    # any of these paths present: failed, the label standing in for a missing error code (Gemini's error)
    failed_when_present: tuple[tuple[str, str], ...] = ()
    progress_path: tuple[str, ...] = ()
    progress_scale: float = 1.0
    video_url: tuple[str, ...] = ()
    video_url_needs_key: bool = False  # the URL needs the provider's key: it becomes content_url
    content_url: str | None = None  # template of the provider's download endpoint, for a video with no URL
    error_code: tuple[str, ...] = ()
    error_message: tuple[str, ...] = ()
    error_type: tuple[str, ...] = ()
    error_ok: tuple[Any, ...] = ()  # codes that mean "no error" (a gateway's error {code: 0} on success)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # model, prompt, seconds, size, ...
    times: Mapping[str, TimeField] = field(default_factory=dict)  # created_at, completed_at, expires_at
    url_lifetime_s: int | None = None  # how long the provider keeps a result URL (expires_at when not given)
    api_error: ApiError | None = None
    follow_up: FollowUp | None = None
    pushes: str = ""  # how the API can call back (documentation)
    inbound: InboundSpec | None = None  # the API's callbacks, read as a poll's answer is

    @property
    def terminal_statuses(self) -> frozenset[str]:
        return frozenset(raw for raw, meaning in self.statuses.items() if meaning in ("completed", "failed"))

    @property
    def throttled_statuses(self) -> frozenset[str]:
        return frozenset(raw for raw, meaning in self.statuses.items() if meaning == "throttled")

    @property
    def path_prefix(self) -> str:
        """The request path's fixed first segment (`/v1`), which a base_url must not repeat; '' if none."""
        head = self.request.path.lstrip("/").split("/", 1)[0]
        return "" if "{" in head else "/" + head


def parse_dialect(name: str, spec: Any) -> Dialect:
    """A Dialect from its JSON form; DialectError naming the key that is wrong."""
    where = f"dialect {name!r}"
    if not isinstance(spec, Mapping):
        raise DialectError(f"{where} must be an object")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise DialectError(f"{where}: unknown key(s) {', '.join(unknown)}")
    request = _object(spec, "request", where, required=True)
    status = _object(spec, "status", where, required=True)
    statuses = status.get("map")
    if not isinstance(statuses, Mapping) or not statuses:
        raise DialectError(f"{where}.status.map must be an object: raw status -> one of {', '.join(MEANINGS)}")
    table: dict[str, str] = {}
    for raw, meaning in statuses.items():
        if meaning not in MEANINGS:
            raise DialectError(f"{where}.status.map[{raw!r}] must be one of {', '.join(MEANINGS)}")
        table[str(raw).strip().lower()] = meaning
    missing = status.get("missing")
    if missing is not None and missing not in MEANINGS:
        raise DialectError(f"{where}.status.missing must be one of {', '.join(MEANINGS)}")
    progress = _object(spec, "progress", where)
    error = _object(spec, "error", where)
    fields = _object(spec, "fields", where)
    for key in fields:
        if key not in (*TEXT_FIELDS, "seconds"):
            raise DialectError(f"{where}.fields.{key}: one of {', '.join((*TEXT_FIELDS, 'seconds'))}")
    times = _object(spec, "times", where)
    for key in times:
        if key not in ("created_at", "completed_at", "expires_at"):
            raise DialectError(f"{where}.times.{key}: one of created_at, completed_at, expires_at")
    pattern = spec.get("id_pattern")
    scale = progress.get("scale", 1)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 0 < scale <= 100:
        raise DialectError(f"{where}.progress.scale must be a number above 0 and at most 100")
    lifetime = spec.get("url_lifetime_s")
    if lifetime is not None and (not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0):
        raise DialectError(f"{where}.url_lifetime_s must be a positive integer (seconds)")
    dialect = Dialect(
        name=name,
        request=_request(request, f"{where}.request"),
        auth=_auth(request.get("auth", "bearer"), f"{where}.request.auth"),
        headers=check_headers(request.get("headers", {}), f"{where}.request.headers"),
        status_path=_path(status.get("path"), f"{where}.status.path"),
        statuses=table,
        status_missing=missing,
        failed_when_present=_labelled(status.get("failed_when_present", []), f"{where}.status.failed_when_present"),
        default_base_url=_base_url(spec.get("default_base_url"), f"{where}.default_base_url"),
        id_pattern=_pattern(pattern, f"{where}.id_pattern"),
        id_hint=str(spec.get("id_hint", ""))[:200],
        progress_path=_paths(progress.get("path", []), f"{where}.progress.path"),
        progress_scale=float(scale),
        video_url=_paths(spec.get("video_url", []), f"{where}.video_url"),
        video_url_needs_key=bool(spec.get("video_url_needs_key", False)),
        content_url=_template(spec["content_url"], f"{where}.content_url") if spec.get("content_url") else None,
        error_code=_paths(error.get("code", []), f"{where}.error.code"),
        error_message=_paths(error.get("message", []), f"{where}.error.message"),
        error_type=_paths(error.get("type", []), f"{where}.error.type"),
        error_ok=tuple(error.get("ok", ())) if isinstance(error.get("ok", ()), list | tuple) else (),
        fields={key: _paths(value, f"{where}.fields.{key}") for key, value in fields.items()},
        times={key: _time(value, f"{where}.times.{key}") for key, value in times.items()},
        url_lifetime_s=lifetime,
        api_error=_api_error(spec.get("api_error"), f"{where}.api_error"),
        follow_up=_follow_up(spec.get("follow_up"), f"{where}.follow_up"),
        pushes=str(spec.get("pushes", ""))[:300],
    )
    inbound = spec.get("inbound")
    return dialect if inbound is None else replace(dialect, inbound=_inbound(name, spec, inbound, f"{where}.inbound"))


def _inbound(name: str, spec: Mapping[str, Any], value: Any, where: str) -> InboundSpec:
    if not isinstance(value, Mapping):
        raise DialectError(f"{where} must be an object")
    unknown = sorted(set(value) - _INBOUND_KEYS)
    if unknown:
        raise DialectError(f"{where}: unknown key(s) {', '.join(unknown)}")
    reads = value.get("reads")
    reader = None
    if reads is not None:
        if not isinstance(reads, Mapping):
            raise DialectError(f"{where}.reads must be an object: the keys of the dialect that differ in callbacks")
        merged = {key: item for key, item in spec.items() if key not in ("inbound", "follow_up")}
        reader = parse_dialect(f"{name}/inbound", {**merged, **reads})
    pattern = _pattern(value.get("key_from_id"), f"{where}.key_from_id")
    if pattern is not None and "key" not in pattern.groupindex:
        raise DialectError(f"{where}.key_from_id must have a group named key: (?P<key>...)")
    obj = value.get("object")
    challenge = value.get("challenge")
    return InboundSpec(
        object_path=_path(obj, f"{where}.object") if obj else None,
        key=_paths(value.get("key", []), f"{where}.key") or ("id",),
        key_from_id=pattern,
        reads=reader,
        challenge=_path(challenge, f"{where}.challenge") if challenge else None,
    )


def _object(spec: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> Mapping[str, Any]:
    value = spec.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise DialectError(f"{where}.{key} must be an object")
    return value


def _path(value: Any, where: str) -> str:
    try:
        compile_path(value)
    except BadPath as exc:
        raise DialectError(f"{where}: {exc}") from None
    return str(value)


def _paths(value: Any, where: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple):
        raise DialectError(f"{where} must be a path or a list of paths")
    return tuple(_path(item, where) for item in values)


def _labelled(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """Paths, each with a label: a list (each path labelled by its last name) or an object path -> label."""
    if isinstance(value, Mapping):
        return tuple((_path(path, where), str(label)[:64]) for path, label in value.items())
    return tuple((path, path.rsplit(".", 1)[-1].split("[", 1)[0]) for path in _paths(value, where))


def _template(value: Any, where: str, variables: Mapping[str, str] | None = None) -> str:
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 300:
        raise DialectError(f"{where} must be a path template starting with '/'")
    allowed = {"id", "duration", *(variables or {})}
    for name, _ in _TEMPLATE_VAR.findall(value):
        if name not in allowed:
            raise DialectError(f"{where}: unknown variable {{{name}}} (known: {', '.join(sorted(allowed))})")
    if "?" in value or "#" in value:
        raise DialectError(f"{where}: put query parameters in 'query', not in the path")
    return value


def _request(spec: Mapping[str, Any], where: str, variables: Mapping[str, str] | None = None) -> RequestSpec:
    path = _template(spec.get("path"), f"{where}.path", variables)
    query = spec.get("query", {})
    if not isinstance(query, Mapping) or not all(isinstance(v, str) for v in query.values()):
        raise DialectError(f"{where}.query must be an object of string templates")
    for key, value in query.items():
        _template("/" + value.lstrip("/"), f"{where}.query.{key}", variables)
    return RequestSpec(path=path, query=dict(query))


def _auth(value: Any, where: str) -> Auth:
    if isinstance(value, str):
        if value not in AUTH_SCHEMES:
            raise DialectError(f"{where} must be one of {', '.join(AUTH_SCHEMES)} or {{header, prefix}}")
        header, prefix, mint = AUTH_SCHEMES[value]
        return Auth(header, prefix, mint)
    if isinstance(value, Mapping) and isinstance(value.get("header"), str) and _HEADER_NAME.match(value["header"]):
        prefix = value.get("prefix", "")
        if not isinstance(prefix, str) or not all(" " <= c <= "~" for c in prefix):
            raise DialectError(f"{where}.prefix must be printable ASCII")
        return Auth(value["header"], prefix)
    raise DialectError(f'{where} must be one of {", ".join(AUTH_SCHEMES)} or {{"header": ..., "prefix": ...}}')


def check_headers(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DialectError(f"{where} must be an object of header name -> value")
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name) or name.lower() in _FORBIDDEN_HEADERS:
            raise DialectError(f"{where}: {name!r} is not a header this can set (credentials come from the secret)")
        if not isinstance(text, str) or not all(" " <= c <= "~" for c in text):
            raise DialectError(f"{where}.{name} must be printable ASCII")
    return dict(value)


def _base_url(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("https://"):
        raise DialectError(f"{where} must be an https URL")
    return value.rstrip("/")


def _pattern(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise DialectError(f"{where} is not a regular expression: {exc}") from None


def _time(value: Any, where: str) -> TimeField:
    if isinstance(value, str):
        return TimeField(_path(value, where))
    if not isinstance(value, Mapping):
        raise DialectError(f"{where} must be a path or {{path, format}}")
    fmt = value.get("format", "unix")
    if fmt not in TIME_FORMATS:
        raise DialectError(f"{where}.format must be one of {', '.join(TIME_FORMATS)}")
    return TimeField(_path(value.get("path"), f"{where}.path"), fmt, bool(value.get("only_when_terminal", False)))


def _api_error(value: Any, where: str) -> ApiError | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("ok"), list):
        raise DialectError(f"{where} must be {{path, ok: [...], rate_limited?, unauthorized?, message?}}")
    message = value.get("message")
    return ApiError(
        path=_path(value.get("path"), f"{where}.path"),
        ok=tuple(value["ok"]),
        rate_limited=tuple(value.get("rate_limited", ())),
        unauthorized=tuple(value.get("unauthorized", ())),
        message=_path(message, f"{where}.message") if message is not None else None,
    )


def _follow_up(value: Any, where: str) -> FollowUp | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise DialectError(f"{where} must be an object")
    if value.get("when") not in ("completed",):
        raise DialectError(f"{where}.when must be 'completed'")
    variables = value.get("vars", {})
    if not isinstance(variables, Mapping):
        raise DialectError(f"{where}.vars must be an object: variable -> path into the first answer")
    for var, path in variables.items():
        if not re.fullmatch(r"[a-z_]+", var) or var in ("id", "duration"):
            raise DialectError(f"{where}.vars: {var!r} must be a-z and '_', not id or duration")
        _path(path, f"{where}.vars.{var}")
    error = value.get("error", {})
    return FollowUp(
        when=VideoStatus.COMPLETED,
        request=_request(_object(value, "request", where, required=True), f"{where}.request", variables),
        vars=dict(variables),
        video_url=_paths(value.get("video_url", []), f"{where}.video_url"),
        error_code=_paths(error.get("code", []), f"{where}.error.code"),
        error_message=_paths(error.get("message", []), f"{where}.error.message"),
        api_error=_api_error(value.get("api_error"), f"{where}.api_error"),
        read_errors=bool(value.get("read_errors", False)),
    )
