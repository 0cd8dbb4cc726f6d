"""InboundFunction: POST /v1/inbound/{provider} and POST /v1/inbound/{provider}/{token}, the providers' own
callbacks (HTTP API, no IAM auth: the provider's signature, or the path token, is the credential).

202 once recorded (and a terminal transition published), 401 for a bad or missing signature, 400 for a body
the provider's dialect cannot read, 413 above 1 MiB; nothing is written unless it verified. Neither the
token nor a secret is ever logged or answered (videohook.services.inbound)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from videohook.observability import logger, metrics
from videohook.runtime import inbound

app = APIGatewayHttpResolver()


@app.post("/v1/inbound/<provider>")
def signed_callback(provider: str) -> Response:
    return _receive(provider, None)


@app.post("/v1/inbound/<provider>/<token>")
def token_callback(provider: str, token: str) -> Response:
    return _receive(provider, unquote(token))


def _receive(provider: str, token: str | None) -> Response:
    event = app.current_event
    try:
        raw = event.body or ""
        body = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode("utf-8")
    except (binascii.Error, ValueError):
        return _json(
            400,
            {
                "error": {
                    "message": "The body is not valid base64",
                    "type": "invalid_request_error",
                    "code": "invalid_body",
                }
            },
        )
    answer = inbound().receive(unquote(provider), body, dict(event.headers or {}), token)
    return _json(answer.status, answer.body)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
