"""A fast simulated gateway for benchmarks: asyncio, HTTP/1.1 keep-alive, 127.0.0.1 only.

`devtools.sim_provider` is the faithful one (scripted timelines, both seed styles, faults); it is a threaded
stdlib server that opens a connection and a thread per request, which costs CPU this 2-core machine needs
for the poller and moto (`bench.sweep` measures both servers). This one answers
`GET /{provider}/v1/videos/{id}` after `delay` seconds (+- `jitter`, uniform), in the HingNet (Veo) shape,
with a status fixed per video id by a hash: `completed_pct` % completed, `failed_pct` % failed, the rest
in_progress. It checks the bearer token and counts requests per job (for the duplicate check).

    python -m bench.upstream --token hingnet=tok --delay 0.2 --jitter 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import zlib
from collections import Counter
from urllib.parse import unquote, urlsplit

from bench.httpd import serve

JSON = {"Content-Type": "application/json"}


class BenchGateway:
    def __init__(
        self, tokens: dict[str, str], *, delay: float, jitter: float, completed_pct: int, failed_pct: int
    ) -> None:
        self.tokens = tokens
        self.delay = delay
        self.jitter = jitter
        self.completed_pct = completed_pct
        self.failed_pct = failed_pct
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.base_url = ""

    def status_of(self, video_id: str) -> str:
        bucket = zlib.crc32(video_id.encode()) % 100
        if bucket < self.completed_pct:
            return "completed"
        if bucket < self.completed_pct + self.failed_pct:
            return "failed"
        return "in_progress"

    def video(self, provider: str, video_id: str, duration: str | None) -> dict[str, object]:
        status = self.status_of(video_id)
        video: dict[str, object] = {
            "id": video_id,
            "object": "video",
            "status": status,
            "model": "veo-3.1-fast-generate-preview",
            "progress": 45.5,
            "created_at": 1761234567,
        }
        if status == "completed":
            seconds = int(duration) if duration and duration.isdigit() else 6
            url = f"{self.base_url}/{provider}/files/{video_id}.mp4"
            video.update(progress=100, video_url=url, seconds=seconds, size="1280x720", completed_at=1761234690)
        elif status == "failed":
            video["error"] = {"code": "generation_failed", "message": "The video could not be generated"}
        return video

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        split = urlsplit(target)
        if split.path == "/_bench/stats":
            return 200, JSON, json.dumps(self.stats()).encode()
        if split.path == "/_bench/reset" and method == "POST":
            self.requests.clear()
            self.peak_in_flight = 0
            return 200, JSON, b"{}"
        parts = [unquote(part) for part in split.path.strip("/").split("/")]
        if method != "GET" or len(parts) != 4 or parts[1:3] != ["v1", "videos"]:
            return 404, JSON, b'{"error": {"message": "not found", "code": "not_found"}}'
        provider, video_id = parts[0], parts[3]
        self.requests[f"{provider}#{video_id}"] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(max(0.0, self.delay + random.uniform(-self.jitter, self.jitter)))
        finally:
            self.in_flight -= 1
        token = self.tokens.get(provider)
        if token is None or headers.get("authorization") != f"Bearer {token}":
            return 401, JSON, b'{"error": {"message": "Invalid API key", "code": "invalid_api_key"}}'
        query = dict(pair.split("=", 1) for pair in split.query.split("&") if "=" in pair)
        return 200, JSON, json.dumps(self.video(provider, video_id, query.get("duration"))).encode()

    def stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "requests": sum(self.requests.values()),
            "jobs": len(self.requests),
            "max_per_job": max(self.requests.values(), default=0),
            "peak_in_flight": self.peak_in_flight,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "pid": os.getpid(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fast simulated gateway for benchmarks (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", required=True, metavar="PROVIDER=TOKEN")
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--jitter", type=float, default=0.02)
    parser.add_argument("--completed-pct", type=int, default=15)
    parser.add_argument("--failed-pct", type=int, default=5)
    parser.add_argument("--lifetime", type=float, default=1800, help="seconds; the server then ends by itself")
    args = parser.parse_args(argv)
    tokens = dict(item.split("=", 1) for item in args.token)
    gateway = BenchGateway(
        tokens, delay=args.delay, jitter=args.jitter, completed_pct=args.completed_pct, failed_pct=args.failed_pct
    )
    from bench.services import exit_after

    exit_after(args.lifetime)

    def ready(url: str) -> None:
        gateway.base_url = url

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(gateway.answer, args.port, ready))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
