"""Serve ApiFunction's handler over real HTTP on 127.0.0.1, converting each request into the HTTP API
(payload 2.0) event API Gateway would send. For schemathesis, the CLI's local stack, and manual curl.
`POST /v1/inbound/...` (the providers' callbacks) goes to InboundFunction's handler instead, as the
template's routes send it (`inbound=False` leaves it to ApiFunction's, which answers 404).

The handlers run in this process, so configuration comes from this process's environment (set the
functions' variables, e.g. from `deploy_local(...).variables()`, before `start()`).

There is no IAM here: requests carry no authorizer, so the caller is the principal `local` (the owner of
every job tracked through this server), unless the server is started for one principal (`principal=`: every
request then carries that `requestContext.authorizer.iam.userArn`, as API Gateway would for a signed call).
The inbound routes take no IAM auth (`Authorizer: NONE`): their requests never carry a principal. Their
bodies are bounded by API Gateway's own limit (`inbound_max_body`, 10 MB), so that InboundFunction's 1 MiB
limit is the one a callback meets.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
INBOUND_PREFIX = "/v1/inbound/"
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # an HTTP API's payload limit


def _load_function_module(directory: str) -> ModuleType:
    """functions/<directory>/app.py, imported under a unique name (every function's module is called `app`)."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    spec = importlib.util.spec_from_file_location(
        f"videohook_{directory}_app", ROOT / "functions" / directory / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def forget_configuration() -> None:
    """Make the in-process handlers read this process's environment afresh: the layer builds its settings, use
    cases, boto3 clients and metrics namespace once per process (as once per cold start), so a server started
    after another stack's (another moto endpoint, table or PROVIDERS) would otherwise talk to that one."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)
    from videohook import observability, runtime
    from videohook.adapters import aws
    from videohook.config import load_settings

    load_settings.cache_clear()
    for module in (runtime, aws):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    # Powertools reads the metrics namespace once, when the layer is first imported (in Lambda, after the
    # function's variables are set); here that import may have come before them.
    provider = observability.metrics.provider
    provider.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or provider.namespace


def load_api_module() -> ModuleType:
    """functions/api/app.py, imported under a unique name (every function's module is called `app`)."""
    return _load_function_module("api")


def load_inbound_module() -> ModuleType:
    """functions/inbound/app.py (InboundFunction), imported under a unique name."""
    return _load_function_module("inbound")


class _Context:
    function_name = "ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    memory_limit_in_mb = 256
    aws_request_id = "local"
    log_group_name = "/aws/lambda/ApiFunction"
    log_stream_name = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


class _InboundContext(_Context):
    function_name = "InboundFunction"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:InboundFunction"
    log_group_name = "/aws/lambda/InboundFunction"


def is_inbound(method: str, target: str) -> bool:
    """Whether API Gateway routes `method target` to InboundFunction (template.yaml: POST /v1/inbound/...)."""
    return method == "POST" and urlsplit(target).path.startswith(INBOUND_PREFIX)


def request_event(
    method: str, target: str, headers: dict[str, str], body: bytes, *, principal: str | None = None
) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event of one request; with `principal`, as signed by that IAM principal."""
    parts = urlsplit(target)
    request_id = uuid.uuid4().hex
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if principal is not None:
        event["requestContext"]["authorizer"] = {"iam": {"accountId": "123456789012", "userArn": principal}}
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class ApiServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body: int = 1024 * 1024,
        principal: str | None = None,
        inbound: bool = True,
        inbound_max_body: int = API_GATEWAY_MAX_BODY,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the local API binds loopback only")
        self._module = load_api_module()
        self._inbound_module = load_inbound_module() if inbound else None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                inbound_module = server._inbound_module if is_inbound(self.command, self.path) else None
                to_inbound = inbound_module is not None
                length = int(self.headers.get("content-length") or 0)
                if length > (inbound_max_body if to_inbound else max_body):
                    self._answer(
                        413,
                        {
                            "error": {
                                "message": "Request body too large",
                                "type": "invalid_request_error",
                                "code": "body_too_large",
                                "param": None,
                            }
                        },
                    )
                    return
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                if inbound_module is not None:  # no IAM on these routes: never a principal
                    event = request_event(self.command, self.path, headers, body)
                    result = inbound_module.lambda_handler(event, _InboundContext())
                else:
                    event = request_event(self.command, self.path, headers, body, principal=principal)
                    result = server._module.lambda_handler(event, _Context())
                self.send_response(int(result["statusCode"]))
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def __getattr__(self, name: str) -> Any:
                # Every method reaches the handler (API Gateway routes any; unknown ones get its 404 there).
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ApiServer:
        forget_configuration()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
