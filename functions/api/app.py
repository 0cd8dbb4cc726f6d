"""ApiFunction: POST /v1/jobs, GET and DELETE /v1/jobs/{provider}/{video_id}, and
POST /v1/jobs/{provider}/{video_id}/redeliver (HTTP API, IAM auth).

Each request acts for its caller, the IAM principal API Gateway authenticated (`local` without an authorizer):
a caller sees only the jobs they tracked, operators (OPERATOR_PRINCIPALS) every job (videohook.services.tracking)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.domain.validation import InvalidRequest
from videohook.observability import logger
from videohook.runtime import redelivery, tracking
from videohook.services.redelivery import CannotRedeliver
from videohook.services.tracking import Caller, JobNotFound, JobOwnedElsewhere

app = APIGatewayHttpResolver()


@app.post("/v1/jobs")
def track_job() -> Response:
    try:
        body = app.current_event.decoded_body  # API Gateway base64-encodes bodies it deems binary
        payload = json.loads(body) if body else None
    except (ValueError, RecursionError):  # not JSON, not UTF-8, bad base64, or nested too deep to parse
        raise InvalidRequest("The request body is not valid JSON", code="invalid_json") from None
    job, created = tracking().track(payload, _caller())
    logger.info(
        "job tracked" if created else "job already tracked", extra={"provider": job.provider, "video_id": job.video_id}
    )
    return _json(201 if created else 200, job.to_public())


@app.get("/v1/jobs/<provider>/<video_id>")
def get_job(provider: str, video_id: str) -> Response:
    return _json(200, tracking().get(unquote(provider), unquote(video_id), _caller()).to_public())


@app.delete("/v1/jobs/<provider>/<video_id>")
def stop_job(provider: str, video_id: str) -> Response:
    job = tracking().stop(unquote(provider), unquote(video_id), _caller())
    logger.info("job stopped", extra={"provider": job.provider, "video_id": job.video_id})
    return _json(200, job.to_public())


@app.post("/v1/jobs/<provider>/<video_id>/redeliver")
def redeliver_job(provider: str, video_id: str) -> Response:
    """Send the finished job's final event (same id) to its callback URL again, through the webhook queue."""
    queued = redelivery().redeliver(unquote(provider), unquote(video_id), _caller())
    logger.info("webhook redelivery queued", extra={"provider": provider, "event_id": queued["event_id"]})
    return _json(202, queued)


@app.exception_handler(JobOwnedElsewhere)
def job_owned_elsewhere(exc: JobOwnedElsewhere) -> Response:
    logger.info("video id tracked by another principal; nothing written", extra={"principal": _caller().principal})
    return _error(409, str(exc), code="job_owned_elsewhere", param="video_id")


@app.exception_handler(CannotRedeliver)
def cannot_redeliver(exc: CannotRedeliver) -> Response:
    return _error(409, exc.message, code=exc.code)


@app.exception_handler(InvalidRequest)
def invalid_request(exc: InvalidRequest) -> Response:
    return _error(400, exc.message, code=exc.code, param=exc.param)


@app.exception_handler(JobNotFound)
def job_not_found(exc: JobNotFound) -> Response:
    return _error(404, str(exc), code="job_not_found")


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    """Anything else (the table throttled past its retries...): a 500 in the same shape, details in the log."""
    logger.exception("request failed", extra={"path": app.current_event.path})
    return _error(500, "The request could not be completed; retry later", code="internal_error", kind="server_error")


@app.not_found
def no_route(_exc: Exception) -> Response:
    return _error(404, f"No route for {app.current_event.http_method} {app.current_event.path}", code="unknown_route")


def _caller() -> Caller:
    """The request's caller: `requestContext.authorizer.iam.userArn` (empty without an authorizer: `local`)."""
    return tracking().caller(app.current_event.request_context.authorizer.iam.user_arn)


def _json(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _error(
    status: int, message: str, *, code: str, param: str | None = None, kind: str = "invalid_request_error"
) -> Response:
    """OpenAI's error shape."""
    error = {"message": message, "type": kind, "code": code, "param": param}
    return _json(status, {"error": error})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
