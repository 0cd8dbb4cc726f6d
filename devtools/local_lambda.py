"""A Docker-free ``sam local start-lambda``: Lambda's Invoke API on 127.0.0.1, running template functions.

Functions that invoke other functions (the poller's fan-out to ``PollerWorkerFunction``) reach it through
boto3's own ``AWS_ENDPOINT_URL_LAMBDA``, as they would reach Lambda. Each invoke runs the function from
``template.yaml`` with :func:`devtools.local_invoke.invoke`, on a fresh Lambda Runtime Interface Emulator and
awslambdaric (a cold start, the function's Timeout enforced by the emulator); ``InvocationType: Event``
answers 202 at once and runs it in the background.

    with LocalLambda("template.yaml", env_overrides=..., extra_env=aws_env(moto)) as lam:
        ... AWS_ENDPOINT_URL_LAMBDA=lam.endpoint_url ...
        lam.wait_idle(timeout=120)
        lam.invocations  # what ran, with each result
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from devtools.local_invoke import InvokeResult, function_names, invoke, load_template

LOOPBACK = "127.0.0.1"
_ROUTE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


@dataclass
class Invocation:
    function: str
    event: Any
    invocation_type: str
    started: float
    finished: float | None = None
    result: InvokeResult | None = None


class LocalLambda:
    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        *,
        env_overrides: Mapping[str, Any] | None = None,
        extra_env: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self._template_path = str(template_path)
        self._functions = set(function_names(load_template(template_path)))
        self._env_overrides = env_overrides
        self._extra_env = dict(extra_env or {})
        self._port = port
        self._lock = threading.Lock()
        self._running: list[threading.Thread] = []
        self.invocations: list[Invocation] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalLambda is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalLambda:
        lam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = lam._handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer((LOOPBACK, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-lambda", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalLambda:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every background (Event) invoke has finished; False if some still run at `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = [thread for thread in self._running if thread.is_alive()]
            if not running:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            running[0].join(timeout=min(remaining, 1.0))

    # -- the Invoke API -----------------------------------------------------------------------------------
    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        match = _ROUTE.match(path.split("?", 1)[0])
        if match is None:
            return _error(404, "ResourceNotFoundException", f"No route {path}")
        name = unquote(match.group("name")).rsplit(":function:", 1)[-1].split(":", 1)[0]
        if name not in self._functions:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        kind = {key.lower(): value for key, value in headers.items()}.get("x-amz-invocation-type", "RequestResponse")
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if kind == "DryRun":
            return 204, {}, b""
        invocation = Invocation(name, event, kind, time.time())
        with self._lock:
            self.invocations.append(invocation)
        if kind == "Event":
            thread = threading.Thread(target=self._run, args=(invocation,), name=f"invoke-{name}", daemon=True)
            with self._lock:
                self._running.append(thread)
            thread.start()
            return 202, {}, b""
        result = self._run(invocation)
        payload = json.dumps(result.error if result.error is not None else result.payload).encode()
        extra = {"X-Amz-Function-Error": "Unhandled"} if result.error is not None else {}
        return 200, {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST", **extra}, payload

    def _run(self, invocation: Invocation) -> InvokeResult:
        result = invoke(
            invocation.function,
            invocation.event,
            template_path=self._template_path,
            env_overrides=self._env_overrides,
            extra_env=self._extra_env,
        )
        invocation.result = result
        invocation.finished = time.time()
        return result


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": kind}
    return status, headers, json.dumps({"Type": "User", "message": message}).encode()
