"""A gateway that speaks HTTP/2 as well as HTTP/1.1, for the sweep benchmark's HTTP/1.1-vs-HTTP/2 comparison.

HTTP/2 clients reach a server over TLS (ALPN picks `h2` or `http/1.1`), so this is hypercorn (an ASGI server
that does both) with a throwaway certificate from `devtools.tls_certs`, on 127.0.0.1 only. It answers
`GET /{provider}/v1/videos/{id}` after `delay` seconds (+- `jitter`) with an in_progress video object, and
ends by itself after `lifetime` seconds. It prints its URL on its first line when it is listening.

    python -m bench.h2_upstream --cert server.pem --key server.key --delay 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
from typing import Any

from bench.services import DEFAULT_LIFETIME_S, exit_after


def make_app(delay: float, jitter: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await asyncio.sleep(max(0.0, delay + random.uniform(-jitter, jitter)))
        video_id = scope["path"].rsplit("/", 1)[-1]
        body = json.dumps({"id": video_id, "object": "video", "status": "in_progress", "progress": 40}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str] | None = None) -> int:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--jitter", type=float, default=0.02)
    parser.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME_S)
    args = parser.parse_args(argv)
    exit_after(args.lifetime)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.set_inheritable(True)
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.certfile = args.cert
    config.keyfile = args.key
    config.alpn_protocols = ["h2", "http/1.1"]
    config.accesslog = None
    config.errorlog = None
    print(f"https://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    asyncio.run(serve(make_app(args.delay, args.jitter), config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
