"""The poller's HTTP client (aiohttp's session) turns every upstream failure into the same fault as httpx's own
transport would, and so does httpx over aiohttp's pool (the benchmark's comparison): real sockets on
127.0.0.1 answering badly on purpose."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from videohook.adapters.provider_client import fetch_video, make_http_client
from videohook.config import ProviderSettings
from videohook.domain.polling import Answered, Fault

# Each answer, and whether it is held back until the test ends ("slow": it never comes within any timeout).
ANSWERS = {
    "ok": (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{"status":"queued"}',
        False,
    ),
    "garbage": (b"HELLO WORLD\r\n\r\n", False),
    "hang_up": (None, False),
    "slow": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", True),
    "cut_short": (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a"', False),
    "busy": (b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 5\r\n\r\n<html", False),
    "not_json": (b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>", False),
}
# The poll's timeout: short for the answer that never comes in time, generous for the others, which must be
# read as what they are however slow a loaded machine is to answer on loopback.
SLOW_TIMEOUT_S, TIMEOUT_S = 0.5, 30.0


@pytest.fixture(scope="module")
def ports(closed_port_module: int) -> Iterator[dict[str, int]]:
    servers, stop = [], threading.Event()

    def serve(listener: socket.socket, reply: bytes | None, held: bool) -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                if held:
                    stop.wait()  # answered only after the test is over: never before the client's timeout
                if reply is not None and not stop.is_set():
                    conn.sendall(reply)

    found = {"refused": closed_port_module}
    for name, (reply, held) in ANSWERS.items():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        thread = threading.Thread(target=serve, args=(listener, reply, held), daemon=True)
        thread.start()
        servers.append((listener, thread))
        found[name] = listener.getsockname()[1]
    yield found
    stop.set()
    for listener, thread in servers:
        thread.join(timeout=2)
        listener.close()


@pytest.fixture(scope="module")
def closed_port_module() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def httpcore_client(max_connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(retries=0), timeout=10)


def httpx_over_aiohttp(max_connections: int) -> httpx.AsyncClient:
    from bench.httpx_aiohttp_transport import AiohttpPoolTransport

    return httpx.AsyncClient(transport=AiohttpPoolTransport(retries=0), timeout=10)


async def poll_all(factory, ports: dict[str, int]) -> dict[str, object]:
    results = {}
    async with factory(4) as http:
        for name, port in ports.items():
            timeout_s = SLOW_TIMEOUT_S if name == "slow" else TIMEOUT_S
            provider = ProviderSettings(name, f"http://127.0.0.1:{port}", "secret", timeout_seconds=timeout_s)
            results[name] = await fetch_video(http, provider, "tok-never-logged", "video_1", None)
    return results


@pytest.mark.parametrize("factory", [make_http_client, httpx_over_aiohttp], ids=["aiohttp", "httpx-aiohttp"])
def test_every_answer_is_read_as_httpx_own_transport_reads_it(ports, factory):
    ours = asyncio.run(poll_all(factory, ports))
    reference = asyncio.run(poll_all(httpcore_client, ports))

    assert ours["ok"] == Answered({"status": "queued"})
    assert ours["busy"] == Fault("server_error", 503, retry_after_s=7.0)
    assert isinstance(ours["not_json"], Fault) and ours["not_json"].kind == "bad_body"
    assert isinstance(ours["slow"], Fault) and ours["slow"].kind == "timeout"
    for name in ("refused", "garbage", "hang_up", "cut_short"):
        assert isinstance(ours[name], Fault) and ours[name].kind == "network", (name, ours[name])
    for name in ours:
        assert type(ours[name]) is type(reference[name]), name
        if isinstance(ours[name], Fault):
            assert ours[name].kind == reference[name].kind, (name, ours[name], reference[name])  # type: ignore[union-attr]
        assert "tok-never-logged" not in repr(ours[name])
