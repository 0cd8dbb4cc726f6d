"""HTTP API (payload format 2.0) events for ApiFunction, as API Gateway would send them with IAM auth.

Used by the tests and the demo to call the API handler exactly as `sam local invoke -e` would.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
ROUTES = {
    ("POST", "/v1/jobs"): "POST /v1/jobs",
    ("GET", "job"): "GET /v1/jobs/{provider}/{video_id}",
    ("DELETE", "job"): "DELETE /v1/jobs/{provider}/{video_id}",
    ("POST", "redeliver"): "POST /v1/jobs/{provider}/{video_id}/redeliver",
}


def http_api_event(method: str, path: str, body: Any = None, *, raw_body: str | None = None) -> dict[str, Any]:
    """An event for `method path`, built on events/api-track-job.json (the route key as the API's own)."""
    event = copy.deepcopy(json.loads((EVENTS_DIR / "api-track-job.json").read_text()))
    parts = path.strip("/").split("/")
    params: dict[str, str] | None = None
    if len(parts) in (4, 5) and parts[:2] == ["v1", "jobs"]:
        params = {"provider": unquote(parts[2]), "video_id": unquote(parts[3])}
        action = parts[4] if len(parts) == 5 else "job"
        route_key = ROUTES.get((method, action), "$default")
        # Each segment encoded once, whether the caller encoded it (an id with '/' must be: text2video%2F123) or not.
        raw_path = f"/v1/jobs/{_segment(parts[2])}/{_segment(parts[3])}" + (f"/{parts[4]}" if len(parts) == 5 else "")
    else:
        route_key = ROUTES.get((method, path), "$default")
        raw_path = path
    event["routeKey"] = route_key
    event["rawPath"] = raw_path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["routeKey"] = route_key
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    if params is None:
        event.pop("pathParameters", None)
    else:
        event["pathParameters"] = params
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    else:
        event.pop("body", None)
    event["isBase64Encoded"] = False
    return event


def job_path(provider: str, video_id: str) -> str:
    return f"/v1/jobs/{_segment(provider)}/{_segment(video_id)}"


def _segment(text: str) -> str:
    return quote(unquote(text), safe="")
