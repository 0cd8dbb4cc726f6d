"""Where to ask: a dialect's request template filled in for one job. Ids are percent-encoded (`{id}` as one
segment; `{id:path}` segment by segment, for ids that are paths such as Gemini's operation names), and `.`
and `..` segments are refused, so an id can never climb out of the provider's base_url. Pure: no IO."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from videohook.domain.dialects import paths
from videohook.domain.dialects.spec import Dialect, RequestSpec
from videohook.domain.models import VideoStatus

_VAR = re.compile(r"\{([a-z_]+)(:path)?\}")


class UnsafeId(ValueError):
    """A video id that would not stay one path below the provider's base_url."""


@dataclass(frozen=True)
class ProviderRequest:
    url: str
    params: dict[str, str] | None


def status_request(dialect: Dialect, base_url: str, video_id: str, duration: int | None) -> ProviderRequest:
    return _fill(dialect.request, base_url, {"id": video_id, "duration": str(duration) if duration else None})


def follow_up_request(
    dialect: Dialect, base_url: str, video_id: str, status: VideoStatus | None, body: Any
) -> ProviderRequest | None:
    """The dialect's second read when the first answer's status calls for it and has what it needs."""
    step = dialect.follow_up
    if step is None or status is not step.when:
        return None
    values: dict[str, str | None] = {"id": video_id, "duration": None}
    for var, path in step.vars.items():
        value = paths.get(body, path)
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            return None  # nothing to follow; the reader decides what a completed job without it means
        values[var] = str(value)
    return _fill(step.request, base_url, values)


def content_url(dialect: Dialect, base_url: str, video_id: str) -> str | None:
    if dialect.content_url is None:
        return None
    return _fill(RequestSpec(dialect.content_url), base_url, {"id": video_id, "duration": None}).url


def _fill(spec: RequestSpec, base_url: str, values: Mapping[str, str | None]) -> ProviderRequest:
    path = _VAR.sub(lambda match: _value(values, match.group(1), bool(match.group(2))), spec.path)
    params: dict[str, str] = {}
    for key, template in spec.query.items():
        names = [name for name, _ in _VAR.findall(template)]
        if any(values.get(name) is None for name in names):
            continue  # e.g. ?duration= only for a job registered with one
        params[key] = _VAR.sub(lambda match: str(values[match.group(1)]), template)
    return ProviderRequest(url=base_url + path, params=params or None)


def _value(values: Mapping[str, str | None], name: str, as_path: bool) -> str:
    value = values.get(name) or ""
    segments = value.split("/") if as_path else [value]
    if any(segment in ("", ".", "..") for segment in segments):
        raise UnsafeId(f"{name} has an empty, '.' or '..' segment")
    return "/".join(quote(segment, safe="") for segment in segments)
