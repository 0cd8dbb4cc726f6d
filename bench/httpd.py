"""A minimal asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) for the benchmarks' stand-ins.
Binds 127.0.0.1 only; prints its URL on the first line of stdout when ready."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

LOOPBACK = "127.0.0.1"
Handler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, dict[str, str], bytes]]]


def connection_handler(handler: Handler) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                try:
                    status, extra, payload = await handler(method, target, headers, body)
                except Exception as exc:  # a request the stand-in does not know: say so, keep the connection
                    status, extra, payload = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
                keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                head_out = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}"]
                head_out += [f"{name}: {value}" for name, value in extra.items()]
                head_out += [
                    f"Content-Length: {len(payload)}",
                    f"Connection: {'keep-alive' if keep_alive else 'close'}",
                ]
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + payload)
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    return handle


async def serve(handler: Handler, port: int, on_ready: Callable[[str], None] | None = None) -> None:
    server = await asyncio.start_server(connection_handler(handler), LOOPBACK, port, backlog=1024)
    host, bound = server.sockets[0].getsockname()[:2]
    url = f"http://{host}:{bound}"
    if on_ready is not None:
        on_ready(url)
    print(url, flush=True)
    async with server:
        await server.serve_forever()
