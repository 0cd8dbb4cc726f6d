"""The jobs API as the CLI calls it: httpx, SigV4-signed for a deployed stack (IAM auth), plain locally."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from videohook_cli.errors import EXIT_ERROR, EXIT_NOT_FOUND, CliError
from videohook_cli.target import Target

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def sigv4_headers(target: Target, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus SigV4 `Authorization`, `X-Amz-Date` (and the session token) for `execute-api`."""
    credentials = target.session.get_credentials()
    if credentials is None:
        raise CliError("no AWS credentials to sign the API request: configure them or pass --profile")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", target.region).add_auth(request)
    return dict(request.headers.items())


def job_path(provider: str, video_id: str) -> str:
    return f"/v1/jobs/{quote(provider, safe='')}/{quote(video_id, safe='')}"


class JobsApi:
    def __init__(self, target: Target, *, transport: httpx.BaseTransport | None = None) -> None:
        self._target = target
        self._http = httpx.Client(timeout=TIMEOUT, transport=transport, follow_redirects=False)

    def __enter__(self) -> JobsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def track(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(job, created)."""
        status, job = self._call("POST", "/v1/jobs", body)
        return job, status == 201

    def get(self, provider: str, video_id: str) -> dict[str, Any]:
        return self._call("GET", job_path(provider, video_id))[1]

    def stop(self, provider: str, video_id: str) -> dict[str, Any]:
        return self._call("DELETE", job_path(provider, video_id))[1]

    def redeliver(self, provider: str, video_id: str) -> dict[str, Any]:
        """Queue the job's final event for its webhook again: {"object": "webhook.redelivery", "event_id", ...}."""
        return self._call("POST", job_path(provider, video_id) + "/redeliver")[1]

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        url = self._target.api_url + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"content-type": "application/json"} if body is not None else {}
        if self._target.signed:
            headers = sigv4_headers(self._target, method, url, data, headers)
        try:
            response = self._http.request(method, url, content=data or None, headers=headers)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the API at {self._target.api_url}: {type(exc).__name__}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return response.status_code, answer
        raise _api_error(response.status_code, answer, method, path)


def _api_error(status: int, answer: Any, method: str, path: str) -> CliError:
    """One line (`HTTP 409: <the API's message> (<its code>)`); the JSON form also carries the API's error."""
    error = answer.get("error") if isinstance(answer, dict) else None
    details: dict[str, Any] = {"http_status": status}
    if isinstance(error, dict) and error.get("message"):
        code = f" ({error['code']})" if error.get("code") else ""
        message = f"{error['message']}{code}"
        details["api_error"] = error
    elif isinstance(answer, dict) and isinstance(answer.get("message"), str):  # API Gateway's own refusals
        message = answer["message"]
    else:
        message = f"unexpected answer to {method} {path}"
    one_line = " ".join(f"HTTP {status}: {message}".split())
    return CliError(one_line, EXIT_NOT_FOUND if status == 404 else EXIT_ERROR, **details)
