"""A video host on 127.0.0.1 for the archive's boundary tests: each path answers from a script (status,
headers, body; redirects are just answers with a Location), and every request and TCP connection is recorded.
With `tls=TlsFiles(...)` it speaks https with that certificate."""

from __future__ import annotations

import contextlib
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from devtools.tls_certs import TlsFiles


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]  # lower-case names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: VideoHost) -> None:
        self.host = host
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        with self.host._lock:
            self.host.connections += 1
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        reply = self.server.host._record(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        with contextlib.suppress(OSError):
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class VideoHost:
    def __init__(self, *, tls: TlsFiles | None = None) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._routes: dict[str, Reply] = {}
        self._seen: list[Seen] = []
        self.connections = 0
        self._server: _Server | None = None

    def __enter__(self) -> VideoHost:
        server = _Server(self)
        if self._tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self._tls.server_cert, self._tls.server_key)
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}{path}"

    def route(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._routes[path] = reply

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.route(path, Reply(status, {"location": location}))

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if path is None or s.path == path]

    def _record(self, seen: Seen) -> Reply:
        with self._lock:
            self._seen.append(seen)
            return self._routes.get(seen.path, Reply(404))
