"""A webhook receiver on 127.0.0.1 for tests and the demo: answers each path from a script (status, headers,
delay), records every request and every TCP connection, and verifies signatures with `standardwebhooks`.

    with WebhookReceiver() as receiver:
        receiver.script("/flaky", [ReceiverAnswer(500), ReceiverAnswer(200)])
        url = receiver.url("/flaky")            # http://127.0.0.1:<port>/flaky
        ...
        (hook,) = receiver.received("/flaky")
        event = hook.verify(secret)             # raises WebhookVerificationError when the signature is wrong

With `tls=TlsFiles(...)` it speaks https with that certificate instead. Standalone, to watch what
`local_invoke WebhookFunction -e events/webhook-sqs.json` (with ALLOW_LOOPBACK_CALLBACKS=true) sends:

    python -m devtools.webhook_receiver --port 8787 --secret whsec_...
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook

from devtools.tls_certs import TlsFiles

LOOPBACK = "127.0.0.1"
WATCH_LIMIT_S = 3600.0  # the standalone receiver stops by itself after this
MAX_BODY_BYTES = 1024 * 1024
MAX_DELAY_S = 30.0  # a scripted slow answer never holds a thread longer than this


@dataclass(frozen=True)
class ReceiverAnswer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long before answering (a slow receiver)


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float

    def verify(self, secret: str) -> Any:
        """The event, once `standardwebhooks` has verified the signature with `secret` (whsec_... or bare)."""
        return Webhook(secret).verify(self.body, self.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, receiver: WebhookReceiver, port: int) -> None:
        self.receiver = receiver
        super().__init__((LOOPBACK, port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        self.receiver._count_connection()
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # e.g. a TLS handshake the sender refused: expected in tests, not worth a traceback


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # the only method webhooks use
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = min(int(self.headers.get("content-length") or 0), MAX_BODY_BYTES)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.receiver._record(ReceivedWebhook(path, headers, body, time.time()))
        if answer.delay_s:
            time.sleep(min(answer.delay_s, MAX_DELAY_S))
        with contextlib.suppress(OSError):  # a sender that gave up has closed the connection
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.send_header("connection", "close")
            self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class WebhookReceiver:
    def __init__(self, *, tls: TlsFiles | None = None, port: int = 0) -> None:
        self._tls = tls
        self._port = port
        self._lock = threading.Lock()
        self._scripts: dict[str, list[ReceiverAnswer]] = {}
        self._received: list[ReceivedWebhook] = []
        self._connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        server = _Server(self, self._port)
        if self._tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self._tls.server_cert, self._tls.server_key)
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- use ------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start() the receiver first"
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = LOOPBACK) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def script(self, path: str, answers: list[ReceiverAnswer]) -> None:
        """Answer the requests to `path` with `answers` in turn; the last one repeats. Default: 200."""
        with self._lock:
            self._scripts[path] = list(answers)

    def received(self, path: str | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            return [hook for hook in self._received if path is None or hook.path == path]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (whether or not a request followed, e.g. a failed TLS handshake)."""
        with self._lock:
            return self._connections

    def _count_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def _record(self, hook: ReceivedWebhook) -> ReceiverAnswer:
        with self._lock:
            self._received.append(hook)
            script = self._scripts.get(hook.path) or [ReceiverAnswer()]
            return script.pop(0) if len(script) > 1 else script[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.webhook_receiver", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--secret", help="whsec_... (or the bare value) to verify signatures with")
    options = parser.parse_args(argv)
    with WebhookReceiver(port=options.port) as receiver:
        print(f"listening on {receiver.url('/')} for {WATCH_LIMIT_S:g} s (Ctrl-C stops)", flush=True)
        shown, deadline = 0, time.monotonic() + WATCH_LIMIT_S
        with contextlib.suppress(KeyboardInterrupt):
            while time.monotonic() < deadline:
                for hook in receiver.received()[shown:]:
                    shown += 1
                    verdict = "not verified (no --secret)"
                    if options.secret:
                        try:
                            hook.verify(options.secret)
                            verdict = "signature verified"
                        except Exception as exc:
                            verdict = f"signature REJECTED: {exc}"
                    print(f"POST {hook.path} webhook-id {hook.headers.get('webhook-id')}: {verdict}", flush=True)
                time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
