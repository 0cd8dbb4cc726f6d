"""The simulated provider's dialects: where each video API is asked (its request and follow-up paths), how it
checks a credential, and what it answers, for devtools/sim_provider.py.

Answers are not invented: each starts from the documented example of that status in
devtools/dialect_fixtures/<dialect>.json (quoted from the API's docs and SDK types), and a timeline step's
values (the common vocabulary: status queued/in_progress/completed/failed, progress 0-100, video_url,
error {code, message}, model, seconds, size, prompt, created_at, completed_at, expires_at) are written into
it at the dialect's own paths (videohook.domain.dialects.paths.put). Step directives beside the common ones:
`_raw_status` (the API's own status string, e.g. Runway's THROTTLED), `_example` (answer a documented example
verbatim, with its HTTP status, e.g. MiniMax's rate_limited_1002), `_follow_example` (the same for the
follow-up read, e.g. fal's result_model_validation_error) and `_omit` (paths to leave out)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
from videohook.domain.dialects import BUILTIN, builtin, names
from videohook.domain.dialects import paths as dpaths
from videohook.domain.dialects.spec import Dialect
from videohook.domain.tokens import UnusableToken, usable_credential

FIXTURES = Path(__file__).resolve().parent / "dialect_fixtures"
DIALECTS: tuple[str, ...] = tuple(names())
SCRIPTED_STATUSES = ("queued", "in_progress", "completed", "failed")
# A meaning with no documented example falls back to the next one (Gemini has no queued state).
_FALLBACK = {"throttled": "queued", "queued": "in_progress", "in_progress": "queued"}
# Where each API's answer names the job itself (the sim writes the job's id there, where the example has it).
# "whole": the registered id; "last": its last segment (Kling's task_id after the task type, fal's request id).
_ID_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "openai": (("id", "whole"),),
    "gemini": (("name", "whole"),),
    "runway": (("id", "whole"),),
    "luma": (("id", "whole"),),
    "kling": (("data.task_id", "last"),),
    "minimax": (("task_id", "whole"),),
    "dashscope": (("output.task_id", "whole"),),
    "ark": (("id", "whole"),),
    "fal": (("request_id", "last"),),
    "replicate": (("id", "whole"),),
    "openrouter": (("id", "whole"),),
}
# Links in an answer back to the API itself, rebuilt on the sim: path -> template after the provider's base.
_SELF_LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "fal": (("response_url", "/{id}"), ("status_url", "/{id}/status"), ("cancel_url", "/{id}/cancel")),
    "replicate": (("urls.get", "/v1/predictions/{id}"), ("urls.cancel", "/v1/predictions/{id}/cancel")),
    "openrouter": (("polling_url", "/api/v1/videos/{id}"),),
}
_VAR = re.compile(r"\{([a-z_]+)(:path)?\}")


@dataclass(frozen=True)
class Route:
    """A request the dialect answers: its status read, its follow-up read, or its content download."""

    kind: str  # video | follow_up | content
    video_id: str | None = None
    file_id: str | None = None  # MiniMax's follow-up names the file, not the job


def is_dialect(style: str) -> bool:
    return style in BUILTIN


@cache
def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def dialect(name: str) -> Dialect:
    return builtin(name)


def file_id_for(provider: str, video_id: str) -> str:
    """A MiniMax-style file id (digits), stable per job."""
    digest = hashlib.sha256(f"{provider}/{video_id}".encode()).digest()
    return str(10**14 + int.from_bytes(digest[:6], "big") % (9 * 10**14))


# -- routing ---------------------------------------------------------------------------------------------


@cache
def _compiled(template: str) -> re.Pattern[str]:
    pattern, pos = "", 0
    for match in _VAR.finditer(template):
        pattern += re.escape(template[pos : match.start()])
        pattern += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        pos = match.end()
    return re.compile("^" + pattern + re.escape(template[pos:]) + "$")


def _match(template: str, query_spec: dict[str, str], path: str, query: dict[str, str]) -> dict[str, str] | None:
    found = _compiled(template).match(path)
    if found is None:
        return None
    values = {key: "/".join(unquote(part) for part in value.split("/")) for key, value in found.groupdict().items()}
    for key, value in query_spec.items():
        var = _VAR.fullmatch(value)
        if var is not None and var.group(1) not in ("duration",):
            if not query.get(key):
                return None
            values[var.group(1)] = query[key]
    return values


def route(name: str, path: str, query: dict[str, str]) -> Route | None:
    """The dialect's route for `path` (raw, after `/{provider}`), or None."""
    spec = dialect(name)
    values = _match(spec.request.path, dict(spec.request.query), path, query)
    if values and values.get("id"):
        return Route("video", values["id"])
    if spec.content_url is not None:
        values = _match(spec.content_url, {}, path, query)
        if values and values.get("id"):
            return Route("content", values["id"])
    if spec.follow_up is not None:
        values = _match(spec.follow_up.request.path, dict(spec.follow_up.request.query), path, query)
        if values and values.get("id"):
            return Route("follow_up", values["id"])
        if values and values.get("file_id"):
            return Route("follow_up", file_id=values["file_id"])
    return None


# -- credentials and refusals ----------------------------------------------------------------------------


def credential_ok(name: str, headers: dict[str, str], token: str) -> bool:
    """The dialect's credential header checked: the token as sent, or (Kling) a JWT signed with the secret
    key, `iss` the access key, with `exp` and `nbf` (PyJWT checks both)."""
    auth = dialect(name).auth
    presented = headers.get(auth.header.lower(), "")
    if auth.mint != "jwt-hs256":
        return hmac.compare_digest(presented.encode(), f"{auth.prefix}{token}".encode())
    if not presented.startswith(auth.prefix):
        return False
    try:
        access, _, secret = usable_credential(auth.mint, token).partition(":")
        jwt.decode(
            presented[len(auth.prefix) :],
            secret,
            algorithms=["HS256"],
            issuer=access,
            options={"require": ["iss", "exp", "nbf"]},
        )
    except (jwt.PyJWTError, UnusableToken):
        return False
    return True


def _documented(name: str, predicate: Any) -> dict[str, Any] | None:
    return next((e for e in fixture(name)["examples"] if predicate(e)), None)


def _error_example(name: str, http_status: int) -> dict[str, Any] | None:
    return _documented(name, lambda e: e.get("http_status") == http_status and e["expect"].get("status") is None)


def refusal(name: str) -> tuple[int, Any]:
    """What the API answers a wrong key: its documented 401 (or, for an API that says so in a 200 body, as
    MiniMax does with base_resp 1004, that answer); a plain 401 where the docs show none."""
    example = _error_example(name, 401) or _error_example(name, 403)
    api_error = dialect(name).api_error
    if example is None and api_error is not None:
        example = _documented(name, lambda e: dpaths.get(e["body"], api_error.path) in api_error.unauthorized)
    if example is not None and example.get("body") is not None:
        return int(example["http_status"]), copy.deepcopy(example["body"])
    return 401, {"error": {"message": "Invalid API key", "type": "invalid_request_error", "code": "invalid_api_key"}}


def not_found(name: str, video_id: str | None) -> tuple[int, Any]:
    example = _error_example(name, 404)
    if example is not None and example.get("body") is not None:
        return 404, copy.deepcopy(example["body"])
    return 404, {"error": {"message": f"{video_id} not found", "type": "invalid_request_error", "code": "not_found"}}


def missing_header(name: str, headers: dict[str, str]) -> tuple[int, Any] | None:
    """A fixed header the API requires (Runway's X-Runway-Version) that the request lacks: its 400."""
    missing = [key for key in dialect(name).headers if not headers.get(key.lower())]
    if not missing:
        return None
    example = _error_example(name, 400)
    if example is not None and example.get("body") is not None:
        return 400, copy.deepcopy(example["body"])
    return 400, {"error": f"missing header {missing[0]}"}


def fault_body(name: str, http_status: int) -> Any:
    """The API's documented body for an HTTP error status (Gemini's RESOURCE_EXHAUSTED 429...), or None."""
    example = _error_example(name, http_status)
    return None if example is None else copy.deepcopy(example.get("body"))


# -- answers ---------------------------------------------------------------------------------------------


def check_step(name: str, step: dict[str, Any]) -> None:
    """ValueError for a step this dialect's sim cannot answer."""
    status = step.get("status")
    if status is not None and status not in SCRIPTED_STATUSES:
        raise ValueError(f"{name} step status must be one of {', '.join(SCRIPTED_STATUSES)}, not {status!r}")
    if "_raw_status" in step and not isinstance(step["_raw_status"], str | bool):
        raise ValueError("_raw_status must be a string (the API's own status)")
    known = {e["name"] for e in fixture(name)["examples"]}
    if "_example" in step and step["_example"] not in known:
        raise ValueError(f"{name} has no documented example {step['_example']!r}; known: {', '.join(sorted(known))}")
    follow_known = {e["name"] for e in (fixture(name).get("follow_up") or {}).get("examples", [])}
    if "_follow_example" in step and step["_follow_example"] not in follow_known:
        raise ValueError(f"{name} has no documented follow-up example {step['_follow_example']!r}")
    for path in step.get("_omit", ()):
        dpaths.compile_path(path)


def meaning(name: str, step: dict[str, Any]) -> str | None:
    """What the step's answer means: its scripted status, or its raw status read through the dialect."""
    if "_raw_status" in step:
        raw = step["_raw_status"]
        key = ("true" if raw else "false") if isinstance(raw, bool) else str(raw).strip().lower()
        return dialect(name).statuses.get(key)
    if "_example" in step:
        example = _documented(name, lambda e: e["name"] == step["_example"])
        return None if example is None else example["expect"].get("status")
    return str(step.get("status", "queued"))


def _status_example(name: str, step: dict[str, Any]) -> dict[str, Any]:
    spec = dialect(name)
    answers = [e for e in fixture(name)["examples"] if 200 <= int(e.get("http_status", 200)) < 300]
    if "_raw_status" in step:
        raw = str(step["_raw_status"]).strip().lower()
        same = [e for e in answers if str(dpaths.get(e["body"], spec.status_path)).lower() == raw]
        if same:
            return same[0]
    wanted = meaning(name, step) or "in_progress"
    seen: set[str] = set()
    while wanted not in seen:
        seen.add(wanted)
        found = [e for e in answers if e["expect"].get("status") == ("queued" if wanted == "throttled" else wanted)]
        if found:
            return found[0]
        wanted = _FALLBACK.get(wanted, "in_progress")
    return answers[0]


def render_status(
    name: str, step: dict[str, Any], *, video_id: str, base_url: str, file_url: str, file_id: str
) -> tuple[int, Any]:
    """(HTTP status, body) of the status read for this step."""
    if "_example" in step:
        example = _documented(name, lambda e: e["name"] == step["_example"])
        assert example is not None  # checked by check_step
        return int(example.get("http_status", 200)), copy.deepcopy(example["body"])
    spec = dialect(name)
    example = _status_example(name, step)
    body: dict[str, Any] = copy.deepcopy(example["body"])
    _write_ids(name, body, video_id, base_url)
    if "_raw_status" in step:
        raw = step["_raw_status"]
        if isinstance(dpaths.get(body, spec.status_path), bool) and str(raw).lower() in ("true", "false"):
            raw = str(raw).lower() == "true"
        dpaths.put(body, spec.status_path, raw)
    if "progress" in step and spec.progress_path:
        progress = step["progress"]
        dpaths.put(body, spec.progress_path[0], None if progress is None else progress / spec.progress_scale)
    status = meaning(name, step)
    _write_link(spec, body, step, status, file_url, file_id)
    if status == "failed" and isinstance(step.get("error"), dict):
        _write_error(spec, body, step["error"])
    _write_fields(spec, body, step)
    for path in step.get("_omit", ()):
        drop(body, path)
    return int(example.get("http_status", 200)), body


def _write_ids(name: str, body: dict[str, Any], video_id: str, base_url: str) -> None:
    for path, part in _ID_FIELDS.get(name, ()):
        if dpaths.get(body, path) is not None:
            dpaths.put(body, path, video_id if part == "whole" else video_id.rsplit("/", 1)[-1])
    for path, template in _SELF_LINKS.get(name, ()):
        if dpaths.get(body, path) is not None:
            dpaths.put(body, path, base_url + template.replace("{id}", video_id))


def _write_link(
    spec: Dialect, body: dict[str, Any], step: dict[str, Any], status: str | None, file_url: str, file_id: str
) -> None:
    """The video's link: the follow-up's key (MiniMax's file_id), or a URL where the API puts one."""
    if status == "completed" and spec.follow_up is not None:
        for var, path in spec.follow_up.vars.items():
            if var == "file_id":
                dpaths.put(body, path, file_id)
        return
    if not spec.video_url or ("video_url" not in step and status != "completed"):
        return
    where = next((p for p in spec.video_url if isinstance(dpaths.get(body, p), str)), None)
    if "video_url" in step:
        dpaths.put(body, where or spec.video_url[0], step["video_url"])
    elif where is not None:  # the API puts a link in this answer: the sim's own file
        dpaths.put(body, where, file_url)


def _write_error(spec: Dialect, body: dict[str, Any], error: dict[str, Any]) -> None:
    if spec.error_code and error.get("code") is not None:
        dpaths.put(body, spec.error_code[0], error["code"])
    if spec.error_message and error.get("message") is not None:
        dpaths.put(body, spec.error_message[0], error["message"])


def render_follow_up(name: str, step: dict[str, Any], *, file_url: str, file_id: str) -> tuple[int, Any]:
    """(HTTP status, body) of the follow-up read (MiniMax's file, fal's result) for this step."""
    spec = dialect(name)
    examples = (fixture(name).get("follow_up") or {}).get("examples", [])
    if "_follow_example" in step:
        example = next(e for e in examples if e["name"] == step["_follow_example"])
        return int(example.get("http_status", 200)), copy.deepcopy(example["body"])
    example = next(e for e in examples if e["expect"].get("status") == "completed")
    body: dict[str, Any] = copy.deepcopy(example["body"])
    assert spec.follow_up is not None
    if name == "minimax" and dpaths.get(body, "file.file_id") is not None:
        dpaths.put(body, "file.file_id", int(file_id))  # typed int64 in the retrieve answer
    if spec.follow_up.video_url:
        dpaths.put(body, spec.follow_up.video_url[0], step.get("video_url", file_url))
    return int(example.get("http_status", 200)), body


def _write_fields(spec: Dialect, body: dict[str, Any], step: dict[str, Any]) -> None:
    for name, where in spec.fields.items():
        if name in step and where:
            dpaths.put(body, where[0], step[name])
    for name, field in spec.times.items():
        if name not in step or not isinstance(step[name], int):
            continue
        value: Any = step[name]
        if field.format == "unix_ms":
            value *= 1000
        elif field.format == "iso8601":
            value = datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
        dpaths.put(body, field.path, value)


def drop(body: Any, path: str) -> None:
    """Remove the value at `path` (nothing when there is none)."""
    steps = dpaths.compile_path(path)
    node = body
    for step in steps[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return
        elif not isinstance(node, dict) or step not in node:
            return
        node = node[step]
    last = steps[-1]
    if isinstance(last, str) and isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(last, int) and isinstance(node, list) and last < len(node):
        node.pop(last)


def without_status(name: str, body: Any) -> Any:
    if isinstance(body, dict):
        drop(body, dialect(name).status_path)
    return body


def timeline(outcome: str = "completed", steps: int = 2, **final_fields: Any) -> list[dict[str, Any]]:
    """A dialect job's timeline in the common vocabulary: queued, `steps` in_progress steps with rising
    progress (an API without progress leaves it out), then the outcome."""
    if outcome not in ("completed", "failed"):
        raise ValueError(f"outcome must be 'completed' or 'failed', not {outcome!r}")
    scripted: list[dict[str, Any]] = [{"status": "queued", "progress": 0}]
    scripted += [{"status": "in_progress", "progress": 100 * i // (steps + 1)} for i in range(1, steps + 1)]
    return [*scripted, {"status": outcome, **final_fields}]


# -- callbacks (the sim pushing, devtools/sim_provider.py) ---------------------------------------------------

INBOUND_FIXTURES = Path(__file__).resolve().parent / "inbound_fixtures"
# What each pushing dialect signs with (the schemes of PROVIDERS' `inbound`, docs/providers.md "Callbacks").
CALLBACK_SCHEMES: dict[str, str] = {
    "gemini": "standard-webhooks",
    "replicate": "standard-webhooks",
    "openrouter": "openrouter",
    "fal": "fal",
    "luma": "token",
    "kling": "token",
    "ark": "token",
    "minimax": "token",
}


def pushes(name: str) -> bool:
    """The dialect has a callback form (its `inbound` part) and a documented callback to start from."""
    return is_dialect(name) and dialect(name).inbound is not None and (INBOUND_FIXTURES / f"{name}.json").is_file()


@cache
def inbound_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INBOUND_FIXTURES / f"{name}.json").read_text())
    return data


def render_callback(name: str, step: dict[str, Any], *, video_id: str, file_url: str, file_id: str) -> Any:
    """The callback body the API sends for this step (its documented example of that status, with the job's
    key, link, progress and error written where its callback carries them), or None when the API sends no
    callback for it (no documented callback of that status: OpenRouter and fal call back only at the end,
    nobody for `queued`) or the step is a fault (a fault is an answer to a poll)."""
    if "_fault" in step or "respond" in step:
        return None
    spec = dialect(name)
    inbound = spec.inbound
    if inbound is None:
        return None
    status = meaning(name, step)
    wanted = "failed" if status == "failed" else status
    example = next((e for e in inbound_fixture(name)["examples"] if e["name"] == wanted), None)
    if example is None:
        return None
    body: Any = copy.deepcopy(example["body"])
    dpaths.put(body, inbound.key[0], inbound.key_of(video_id))
    obj = dpaths.get(body, inbound.object_path) if inbound.object_path else body
    if not isinstance(obj, dict):
        return body
    reads = inbound.reads or spec
    _write_callback_status(reads, obj, step, wanted)
    if status == "completed" and inbound.reads is None and spec.follow_up is not None:
        for var, path in spec.follow_up.vars.items():
            if var == "file_id" and dpaths.get(obj, path) is not None:
                dpaths.put(obj, path, int(file_id) if isinstance(dpaths.get(obj, path), int) else file_id)
    elif status == "completed" and reads.video_url:
        where = next((p for p in reads.video_url if isinstance(dpaths.get(obj, p), str)), reads.video_url[0])
        dpaths.put(obj, where, step.get("video_url", file_url))
    if "progress" in step and step["progress"] is not None and reads.progress_path:
        dpaths.put(obj, reads.progress_path[0], step["progress"] / reads.progress_scale)
    if status == "failed" and isinstance(step.get("error"), dict):
        _write_error(reads, obj, step["error"])
    return body


def _write_callback_status(reads: Dialect, obj: dict[str, Any], step: dict[str, Any], wanted: str | None) -> None:
    """The step's raw status, or the API's word for its meaning where the documented example is of a
    neighbouring status (Replicate's documented "start" webhook says starting, a step may be processing)."""
    if "_raw_status" in step:
        dpaths.put(obj, reads.status_path, step["_raw_status"])
        return
    current = dpaths.get(obj, reads.status_path)
    if not isinstance(current, str) or reads.statuses.get(current.strip().lower()) == wanted:
        return
    raw = next((raw for raw, means in reads.statuses.items() if means == wanted), None)
    if raw is not None:
        dpaths.put(obj, reads.status_path, raw.upper() if current.isupper() else raw)
