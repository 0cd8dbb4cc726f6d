"""A simulated upstream video provider: a real HTTP server on 127.0.0.1 speaking the gateway APIs and every
provider dialect.

The poller must be exercised against real sockets (timeouts, status codes, odd bodies), not mocks, so this
serves `GET /{provider}/v1/videos/{id}` in the HingNet (Veo) and SkyEngine (sora-2) shapes from scripted
timelines, with a `{"_fault": ...}` step for every upstream fault gateways show (see FAULTS: resets, hangs,
slow drips, 10 MB of junk, HTML, truncated JSON, 5xx/429 pages). A job whose style is a dialect name (gemini,
runway, kling, minimax, fal...) is served at that dialect's request and follow-up paths under `/{provider}`,
behind its credential check, in its answer shape (devtools/sim_dialects.py).

A dialect job added with `push={"url": ..., "scheme": ..., "secret": ...}` also calls back, as the API does:
each time a step of its timeline comes into force (a poll serves it, or its `at` passes on the seconds clock),
the sim POSTs that API's callback for it (devtools/inbound_fixtures/<dialect>.json; none for a status the API
sends no callback for) to `url`, signed by `scheme` (PUSH_SCHEMES). `drop` lists steps (their index, or their
status) whose callback is lost: never sent, recorded as dropped. `pushes()` says what was sent, when, and
how it was answered. Standalone:

    python -m devtools.sim_provider --port 8700 --token hingnet=tok-h --token skyengine=tok-s \
        --token kling=AK:SK --dialect kling=kling
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import random
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from devtools import sim_dialects

STYLES = ("hingnet", "skyengine")
CLOCKS = ("polls", "seconds")
CONTENT_SIZE = 64 * 1024
# Per-style defaults of the video object (the seeds' field types: HingNet int seconds, SkyEngine string).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "hingnet": {"object": "video", "status": "queued", "model": "veo-3.1-fast-generate-preview", "progress": 0},
    "skyengine": {
        "object": "video",
        "status": "pending",
        "model": "sora-2",
        "progress": 0,
        "size": "720x1280",
        "seconds": "8",
    },
}
_NOT_FIELDS = ("respond", "at")  # step keys that are not video fields (besides `_` directives)

# `{"_fault": NAME}` steps: the upstream faults gateways show in practice. A number (500, 502, 503, 504, 429,
# 401, 403, 404...) answers that status with a proxy-style HTML page (`_retry_after` adds a Retry-After header).
FAULTS = {
    "reset": "200 headers and half a body, then the connection is reset (TCP RST)",
    "close": "the connection is closed without any answer",
    "hang": "the connection is accepted and never answered (until the sim stops, at most HANG_MAX_S)",
    "drip": "200 with a JSON body sent one byte every DRIP_INTERVAL_S (slow enough to beat read timeouts)",
    "junk": "200 application/json followed by JUNK_SIZE bytes of junk",
    "html": "200 with an HTML page (a captive portal or a CDN challenge)",
    "truncated": "200 application/json cut in the middle of the object",
    "array": "200 with a JSON array instead of an object",
    "no_status": "200 with the video object but no status field",
}
HANG_MAX_S = 60.0
DRIP_INTERVAL_S = 0.5
JUNK_SIZE = 10 * 1024 * 1024
# How a pushing job's callbacks are signed (PROVIDERS' inbound schemes, docs/providers.md "Callbacks").
PUSH_SCHEMES = {
    "standard-webhooks": "webhook-id/-timestamp/-signature headers, signed with the whsec_ secret (standardwebhooks)",
    "openrouter": "X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, '{t},{body}')>",
    "fal": "X-Fal-Webhook-* headers, Ed25519 with the sim's own key, published at jwks_url",
    "token": "unsigned; the secret is the URL's last path segment",
}
PUSH_TIMEOUT_S = 10.0
PUSH_TICK_S = 0.02  # how often the seconds clock is checked for a step coming into force
FAL_USER_ID = "sim-fal-user"
_ERROR_PAGE = "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr></body></html>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the provider routes received (auth failures and 404s included)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    provider: str
    video_id: str | None
    at: float
    route: str = "video"  # video | content | file | other | follow_up (a dialect's second read)


@dataclass(frozen=True)
class PushTarget:
    """Where and how a job calls back. `url`: the inbound URL (for `token`, the sim adds `/<secret>`)."""

    url: str
    scheme: str
    secret: str = ""  # the whsec_ secret, OpenRouter's signing secret, or the path token (fal: unused)
    drop: tuple[int | str, ...] = ()  # steps (index, or status) whose callback is lost

    @classmethod
    def parse(cls, spec: dict[str, Any] | PushTarget) -> PushTarget:
        if isinstance(spec, PushTarget):
            return spec
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise ValueError('push must be {"url": ..., "scheme": ..., "secret": ..., "drop": [...]}')
        unknown = set(spec) - {"url", "scheme", "secret", "drop"}
        if unknown:
            raise ValueError(f"push: unknown key(s) {', '.join(sorted(unknown))}")
        scheme = spec.get("scheme")
        if scheme not in PUSH_SCHEMES:
            raise ValueError(f"push scheme must be one of {', '.join(PUSH_SCHEMES)}, not {scheme!r}")
        secret = spec.get("secret", "")
        if scheme != "fal" and (not isinstance(secret, str) or not secret):
            raise ValueError(f"push scheme {scheme} needs its secret")
        drop = spec.get("drop", ())
        if not isinstance(drop, list | tuple) or not all(isinstance(d, int | str) for d in drop):
            raise ValueError("push drop must be a list of step indexes or statuses")
        host = urlsplit(spec["url"]).hostname
        if urlsplit(spec["url"]).scheme != "http" or host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the sim calls back on loopback only (http://127.0.0.1...), not {spec['url']!r}")
        return cls(spec["url"], scheme, str(secret or ""), tuple(drop))

    def drops(self, index: int, status: str | None) -> bool:
        return index in self.drop or (status is not None and status in self.drop)


@dataclass(frozen=True)
class PushRecord:
    """One callback of a pushing job: sent (or dropped), when, and what the receiver answered."""

    provider: str
    video_id: str
    step: int  # the timeline step it reports
    status: str | None  # that step's meaning (queued, in_progress, completed, failed)
    url: str  # where it went (a token scheme's token shown as <token>)
    sent_at: float  # time.time() just before the request was sent
    dropped: bool = False
    http_status: int | None = None  # None: dropped, or no answer (error says why)
    answered_at: float | None = None  # time.time() once the answer was read
    error: str | None = None
    body: str = ""  # the callback's body, as sent (signed over these exact bytes)
    headers: dict[str, str] = field(default_factory=dict)  # its headers (signatures included)


class _Reply(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0
    fault: str | None = None  # a transport-level fault the handler acts out (reset, close, hang, drip, junk)


@dataclass
class _Job:
    provider: str
    video_id: str
    style: str
    timeline: list[dict[str, Any]]
    clock: str
    added_at: float
    added_mono: float
    polls: int = 0
    completed_at: int | None = None
    push: PushTarget | None = None
    pushed: int = -1  # the last step whose callback was sent (or dropped, or has none)
    served: int = -1  # polls clock: the last step a poll served


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def _error(status: int, message: str, code: str) -> _Reply:
    return _json(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}})


def _content_bytes(provider: str, video_id: str) -> bytes:
    """Deterministic pseudo-MP4: a real `ftyp` box, then seeded noise, so downloads can be compared."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + random.Random(f"{provider}/{video_id}").randbytes(CONTENT_SIZE - len(head))


def standard_timeline(style: str, outcome: str = "completed", steps: int = 3, **final_fields: Any) -> list[dict]:
    """A realistic job: queued/pending, `steps` in_progress steps with rising progress, then the outcome."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}")
    if outcome not in ("completed", "failed"):
        raise ValueError(f"outcome must be 'completed' or 'failed', not {outcome!r}")
    timeline: list[dict[str, Any]] = [{"status": _DEFAULTS[style]["status"], "progress": 0}]
    progress: float = 0
    for i in range(1, steps + 1):
        # HingNet reports fractional floats (45.5); SkyEngine integer percentages.
        progress = round(100 * i / (steps + 1) - 2.5, 1) if style == "hingnet" else 100 * i // (steps + 1)
        timeline.append({"status": "in_progress", "progress": progress})
    final: dict[str, Any] = {"status": outcome} if outcome == "completed" else {"status": outcome, "progress": progress}
    timeline.append({**final, **final_fields})
    return timeline


class SimProvider:
    """The simulated gateway. Thread-safe: handler threads and the test thread share one lock."""

    def __init__(
        self,
        tokens: dict[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        dialects: dict[str, str] | None = None,
    ) -> None:
        """`clock` is what `clock="seconds"` timelines count from (seconds since add_job): a test may pass its
        own to move a timeline along without waiting. `dialects` (provider -> dialect name) makes a provider
        answer at its dialect's paths before any job is added (add_job with a dialect style does it too)."""
        address = ipaddress.ip_address(host)
        if address.version != 4 or not address.is_loopback:
            raise ValueError(f"SimProvider binds to IPv4 loopback only, not {host!r}")
        self._tokens = dict(tokens)
        self._address = (host, port)
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._dialects: dict[str, list[str]] = {}  # provider -> the dialects it answers in
        self._files: dict[tuple[str, str], str] = {}  # (provider, MiniMax-style file id) -> video id
        for provider, name in (dialects or {}).items():
            if not sim_dialects.is_dialect(name):
                raise ValueError(f"unknown dialect {name!r}; known: {', '.join(sim_dialects.DIALECTS)}")
            self._dialects[provider] = [name]
        self._requests: list[RecordedRequest] = []
        self._open: dict[int, str] = {}  # requests whose answer is not finished yet: handler id -> path
        self._clock = clock
        self._faults_served = 0
        self._stopping = threading.Event()  # releases `hang` and `drip` handlers at stop()
        self._server: _Server | None = None
        self._url: str | None = None  # kept after stop() so in-flight handlers can still build links
        self._thread: threading.Thread | None = None
        # pushing: what was sent, the fal-style signing key (its public half at jwks_url), the sender
        self._pushes: list[PushRecord] = []
        self._push_key = Ed25519PrivateKey.generate()
        self._pushing: set[tuple[str, str]] = set()  # jobs whose callbacks are being sent (one batch at a time)
        self._push_pool: ThreadPoolExecutor | None = None
        self._push_http: httpx.Client | None = None
        self._push_thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> SimProvider:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self._address, self)
            host, port = self._server.server_address[:2]
            self._url = f"http://{host!s}:{port}"
            # A short poll interval keeps stop() fast (the default 0.5 s would slow every test's teardown).
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-provider", daemon=True
            )
            self._thread.start()
            self._push_http = httpx.Client(timeout=PUSH_TIMEOUT_S, trust_env=False, follow_redirects=False)
            self._push_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sim-push")
            self._push_thread = threading.Thread(target=self._push_loop, name="sim-pusher", daemon=True)
            self._push_thread.start()
        return self

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        pusher, pool, http, self._push_thread, self._push_pool = self._push_thread, self._push_pool, None, None, None
        self._stopping.set()
        if pusher is not None:
            pusher.join(timeout=5)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if http is not None:
            http.close()
        self._push_http = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SimProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("SimProvider was never started")
        return self._url

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    @property
    def jwks_url(self) -> str:
        """The public key of the sim's fal-style callbacks (a JWKS, as fal publishes its own): `keys_url`."""
        return f"{self.url}/_sim/fal/jwks.json"

    def jwks(self) -> dict[str, Any]:
        public = self._push_key.public_key().public_bytes_raw()
        x = base64.urlsafe_b64encode(public).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "sim-fal", "use": "sig", "alg": "EdDSA"}]}

    # -- scripting -------------------------------------------------------------------------------------
    def add_job(
        self,
        provider: str,
        video_id: str,
        style: str,
        timeline: list[dict],
        *,
        clock: str = "polls",
        push: dict[str, Any] | PushTarget | None = None,
    ) -> None:
        """Script a job; adding the same (provider, video_id) again replaces it and restarts its clock.
        `push`: the job calls back (a dialect with a callback form): {"url", "scheme", "secret", "drop"}."""
        if provider not in self._tokens:
            raise ValueError(f"provider {provider!r} has no token")
        dialect = sim_dialects.is_dialect(style)
        if (style not in STYLES and not dialect) or clock not in CLOCKS:
            raise ValueError(
                f"style must be one of {STYLES} or a dialect ({', '.join(sim_dialects.DIALECTS)}) "
                f"and clock one of {CLOCKS}"
            )
        if not timeline or not all(isinstance(step, dict) for step in timeline):
            raise ValueError("timeline must be a non-empty list of dicts")
        steps = [dict(step) for step in timeline]
        for step in steps:
            fault = str(step.get("_fault", "reset"))
            if fault not in FAULTS and not (fault.isdigit() and 100 <= int(fault) <= 599):
                raise ValueError(f"unknown _fault {fault!r}; known: {', '.join(FAULTS)} or an HTTP status")
            if dialect:
                sim_dialects.check_step(style, step)
        target = PushTarget.parse(push) if push is not None else None
        if target is not None and not sim_dialects.pushes(style):
            pushing = ", ".join(sorted(sim_dialects.CALLBACK_SCHEMES))
            raise ValueError(f"style {style!r} has no callback form; the dialects that call back: {pushing}")
        if clock == "seconds":
            if not all(isinstance(step.get("at"), int | float) for step in steps):
                raise ValueError('clock="seconds" needs a numeric "at" on every step')
            steps.sort(key=lambda step: step["at"])
        job = _Job(provider, video_id, style, steps, clock, time.time(), self._clock(), push=target)
        with self._lock:
            self._jobs[(provider, video_id)] = job
            if dialect:
                known = self._dialects.setdefault(provider, [])
                if style not in known:
                    known.append(style)
                self._files[(provider, sim_dialects.file_id_for(provider, video_id))] = video_id

    def requests(self, provider: str | None = None, video_id: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if provider in (None, r.provider) and video_id in (None, r.video_id)]

    def poll_count(self, provider: str, video_id: str) -> int:
        """Status GETs received for this job, whatever they were answered (401/404 included)."""
        return sum(r.method == "GET" and r.route == "video" for r in self.requests(provider, video_id))

    def open_requests(self) -> list[str]:
        """Paths of the requests whose answer is still being written or held back (a `hang`, a `drip`, a
        `_delay`): a test can tell by ordering, not by timing, that a client gave up while its request was open."""
        with self._lock:
            return list(self._open.values())

    def faults_served(self) -> int:
        """Answers given from a `_fault` or `respond` step since the start (not cleared by reset)."""
        with self._lock:
            return self._faults_served

    def pushes(self, provider: str | None = None, video_id: str | None = None) -> list[PushRecord]:
        """The callbacks of pushing jobs, in the order they were sent (dropped ones included, marked)."""
        with self._lock:
            return [p for p in self._pushes if provider in (None, p.provider) and video_id in (None, p.video_id)]

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._requests.clear()
            self._files.clear()
            self._pushes.clear()

    # -- request handling (called from handler threads) -----------------------------------------------
    def _handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> _Reply:
        if path == "/_sim" or path.startswith("/_sim/"):
            return self._admin(method, path, query, body)
        parts = [unquote(p) for p in path.strip("/").split("/")]
        with self._lock:
            if parts[0] in self._dialects and not (len(parts) == 3 and parts[1] == "files"):
                return self._answer_dialect(method, path, query, headers, parts[0])
        provider, video_id, route = parts[0], None, "other"
        if len(parts) in (4, 5) and parts[1:3] == ["v1", "videos"]:
            video_id = parts[3]
            route = "video" if len(parts) == 4 else ("content" if parts[4] == "content" else "other")
        elif len(parts) == 3 and parts[1] == "files" and parts[2].endswith(".mp4"):
            video_id, route = parts[2].removesuffix(".mp4"), "file"
        record = RecordedRequest(method, path, query, headers, provider, video_id, time.time(), route)
        with self._lock:
            self._requests.append(record)
            return self._answer(record)

    def _answer(self, req: RecordedRequest) -> _Reply:
        refusal = self._refuse(req)
        if refusal is not None:
            return refusal
        job = self._jobs[(req.provider, str(req.video_id))]
        if req.route != "video":
            if not self._completed(job, self._step(job, advance=False)):
                return _error(404, f"Video {req.video_id} has no content yet", "video_not_ready")
            return _Reply(200, _content_bytes(job.provider, job.video_id), {"Content-Type": "video/mp4"})
        step = self._step(job, advance=True)
        delay = float(step.get("_delay", 0))
        scripted = self._scripted_reply(step, lambda: self._video(job, step, req.query))
        if scripted is not None:
            return scripted._replace(delay=delay)
        return _json(200, self._video(job, step, req.query))._replace(delay=delay)

    def _scripted_reply(
        self, step: dict[str, Any], video: Callable[[], Any], dialect: str | None = None
    ) -> _Reply | None:
        """The answer of a `_fault` or `respond` step (None for a normal step)."""
        if "_fault" in step:
            self._faults_served += 1
            return self._fault(step, video, dialect)
        if "respond" in step:  # scripted raw answer: 5xx, HTML, 429 + Retry-After...
            self._faults_served += 1
            raw = step["respond"]
            headers = {str(k): str(v) for k, v in (raw.get("headers") or {}).items()}
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "text/plain; charset=utf-8"
            return _Reply(int(raw["status"]), str(raw.get("body", "")).encode(), headers)
        return None

    def _fault(self, step: dict[str, Any], make_video: Callable[[], Any], dialect: str | None = None) -> _Reply:
        fault = str(step["_fault"])
        if fault.isdigit():
            status = int(fault)
            documented = sim_dialects.fault_body(dialect, status) if dialect else None
            if documented is not None:  # the API's own error body for this status (Gemini's 429...)
                headers = {"Content-Type": "application/json"}
                payload = json.dumps(documented).encode()
            else:
                headers = {"Content-Type": "text/html"}
                payload = _ERROR_PAGE.format(status=status).encode()
            if "_retry_after" in step:
                headers["Retry-After"] = str(step["_retry_after"])
            return _Reply(status, payload, headers)
        video = make_video()
        if fault == "no_status":
            if dialect:
                return _json(200, sim_dialects.without_status(dialect, video))
            video.pop("status", None)
            return _json(200, video)
        if fault == "array":
            return _json(200, [video])
        if fault == "html":
            page = "<!DOCTYPE html><html><body><h1>Checking your browser...</h1></body></html>"
            return _Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if fault == "truncated":
            whole = json.dumps(video).encode()
            return _Reply(200, whole[: len(whole) // 2], {"Content-Type": "application/json"})
        if fault in ("reset", "close", "hang", "drip", "junk"):
            return _Reply(200, json.dumps(video).encode(), {"Content-Type": "application/json"}, fault=fault)
        raise ValueError(f"unknown _fault {fault!r}; known: {', '.join(FAULTS)} or an HTTP status")

    def _refuse(self, req: RecordedRequest) -> _Reply | None:
        """Bearer check first (for a known provider), then existence; the token is never echoed."""
        if req.route == "other" or req.video_id is None:
            return _error(404, f"Unknown route {req.path}", "not_found")
        if req.method != "GET":
            return _error(405, f"Method {req.method} not allowed", "method_not_allowed")
        token = self._tokens.get(req.provider)
        if token is not None and req.route != "file":  # file links are pre-signed by the gateway
            presented = req.headers.get("authorization", "").encode()
            if not hmac.compare_digest(presented, f"Bearer {token}".encode()):
                return _error(401, "Invalid API key", "invalid_api_key")
        if token is None or (req.provider, req.video_id) not in self._jobs:
            return _error(404, f"Video {req.video_id} not found", "video_not_found")
        return None

    def _answer_dialect(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], provider: str
    ) -> _Reply:
        """A request to a provider that speaks a dialect: routed, recorded and answered in that API's shape."""
        rest = "/" + path.strip("/").partition("/")[2]
        matches = [
            (name, found)
            for name in self._dialects[provider]
            if (found := sim_dialects.route(name, rest, query)) is not None
        ]

        def job_of(found: sim_dialects.Route) -> str | None:
            if found.file_id is not None:
                return self._files.get((provider, found.file_id))
            return found.video_id

        matched = next(
            (m for m in matches if (job := self._jobs.get((provider, str(job_of(m[1]))))) and job.style == m[0]),
            matches[0] if matches else None,
        )
        video_id = job_of(matched[1]) if matched else None
        kind = matched[1].kind if matched else "other"
        req = RecordedRequest(method, path, query, headers, provider, video_id, time.time(), kind)
        self._requests.append(req)
        if matched is None:
            return _error(404, f"Unknown route {path}", "not_found")
        name, found = matched
        if method != "GET":
            return _error(405, f"Method {method} not allowed", "method_not_allowed")
        token = self._tokens.get(provider)
        if token is None:
            return _json(*sim_dialects.not_found(name, video_id))
        if not sim_dialects.credential_ok(name, headers, token):  # the credential is never echoed
            return _json(*sim_dialects.refusal(name))
        refused = sim_dialects.missing_header(name, headers)
        if refused is not None:
            return _json(*refused)
        job = self._jobs.get((provider, str(video_id)))
        if job is None or job.style != name:
            return _json(*sim_dialects.not_found(name, video_id))
        base_url = self.base_url(quote(provider))
        file_url = f"{base_url}/files/{quote(job.video_id, safe='')}.mp4"
        file_id = sim_dialects.file_id_for(provider, job.video_id)
        if found.kind == "content":
            if not self._completed(job, self._step(job, advance=False)):
                return _json(*sim_dialects.not_found(name, video_id))
            return _Reply(200, _content_bytes(job.provider, job.video_id), {"Content-Type": "video/mp4"})
        if found.kind == "follow_up":
            step = self._step(job, advance=False)
            if not self._completed(job, step):
                return _json(*sim_dialects.not_found(name, video_id))
            return _json(*sim_dialects.render_follow_up(name, step, file_url=file_url, file_id=file_id))
        step = self._step(job, advance=True)

        def render() -> Any:
            return sim_dialects.render_status(
                name, step, video_id=job.video_id, base_url=base_url, file_url=file_url, file_id=file_id
            )[1]

        delay = float(step.get("_delay", 0))
        scripted = self._scripted_reply(step, render, name)
        if scripted is not None:
            return scripted._replace(delay=delay)
        status, body = sim_dialects.render_status(
            name, step, video_id=job.video_id, base_url=base_url, file_url=file_url, file_id=file_id
        )
        return _json(status, body)._replace(delay=delay)

    def _completed(self, job: _Job, step: dict[str, Any]) -> bool:
        if sim_dialects.is_dialect(job.style):
            return sim_dialects.meaning(job.style, step) == "completed"
        return step.get("status") == "completed"

    def _step(self, job: _Job, *, advance: bool) -> dict[str, Any]:
        """The step in force: by poll count (the last repeats) or by seconds since add_job."""
        return job.timeline[self._index(job, advance=advance)]

    def _index(self, job: _Job, *, advance: bool) -> int:
        if job.clock == "polls":
            if advance:
                job.polls += 1
                job.served = min(max(job.polls, 1), len(job.timeline)) - 1
            return min(max(job.polls, 1), len(job.timeline)) - 1
        elapsed = self._clock() - job.added_mono
        return max(0, sum(1 for step in job.timeline if step["at"] <= elapsed) - 1)

    # -- pushing (a job added with push=) -------------------------------------------------------------
    def _push_loop(self) -> None:
        """Every PUSH_TICK_S: the pushing jobs whose step in force moved on get their callbacks, in order."""
        while not self._stopping.wait(PUSH_TICK_S):
            batches = []
            with self._lock:
                for key, job in self._jobs.items():
                    if job.push is None or key in self._pushing:
                        continue
                    current = job.served if job.clock == "polls" else self._index(job, advance=False)
                    if current > job.pushed:
                        batches.append((job, list(range(job.pushed + 1, current + 1))))
                        job.pushed = current
                        self._pushing.add(key)
            pool = self._push_pool
            for job, indexes in batches:
                if pool is None:
                    break
                try:
                    pool.submit(self._send_callbacks, job, indexes)
                except RuntimeError:  # stopping
                    break

    def _send_callbacks(self, job: _Job, indexes: list[int]) -> None:
        try:
            for index in indexes:
                if self._stopping.is_set():
                    return
                self._send_callback(job, index)
        finally:
            with self._lock:
                self._pushing.discard((job.provider, job.video_id))

    def _send_callback(self, job: _Job, index: int) -> None:
        target = job.push
        assert target is not None
        step = job.timeline[index]
        base_url = self.base_url(quote(job.provider))
        body_obj = sim_dialects.render_callback(
            job.style,
            step,
            video_id=job.video_id,
            file_url=f"{base_url}/files/{quote(job.video_id, safe='')}.mp4",
            file_id=sim_dialects.file_id_for(job.provider, job.video_id),
        )
        if body_obj is None:
            return  # the API sends no callback for this status
        status = sim_dialects.meaning(job.style, step)
        body = json.dumps(body_obj).encode()
        spec = sim_dialects.dialect(job.style).inbound
        assert spec is not None
        headers = sign_callback(
            target.scheme, target.secret, body, key=self._push_key, request_id=spec.key_of(job.video_id)
        )
        url, shown = target.url, target.url
        if target.scheme == "token":
            base = target.url.rstrip("/")
            url, shown = f"{base}/{quote(target.secret, safe='')}", f"{base}/<token>"
        record = PushRecord(
            job.provider, job.video_id, index, status, shown, time.time(), body=body.decode(), headers=headers
        )
        if target.drops(index, status):
            with self._lock:
                self._pushes.append(dataclasses.replace(record, dropped=True))
            return
        http = self._push_http
        if http is None:
            return
        sent_at = time.time()
        try:
            answer = http.post(url, content=body, headers=headers)
            record = dataclasses.replace(
                record, sent_at=sent_at, http_status=answer.status_code, answered_at=time.time()
            )
        except httpx.HTTPError as exc:
            record = dataclasses.replace(record, sent_at=sent_at, error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._pushes.append(record)

    def _video(self, job: _Job, step: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Style defaults, then the status's implied fields, then the step's own fields, then directives."""
        fields = {k: v for k, v in step.items() if not k.startswith("_") and k not in _NOT_FIELDS}
        base = {"id": job.video_id, **_DEFAULTS[job.style], "created_at": int(job.added_at)}
        status = fields.get("status", base["status"])
        video = {**base, **self._implied(job, status, fields), **fields}
        duration = query.get("duration", "")
        if job.style == "hingnet" and status == "completed" and "seconds" not in fields and duration.isdigit():
            video["seconds"] = int(duration)  # HingNet bills on ?duration=N
        if step.get("_url") == "nested" and "video_url" in video:
            video["result"] = {**(video.get("result") or {}), "video_url": video.pop("video_url")}
        for key in step.get("_omit", ()):
            video.pop(key, None)
        return video

    def _implied(self, job: _Job, status: str, fields: dict[str, Any]) -> dict[str, Any]:
        if status == "failed":
            error = {"code": "generation_failed", "message": "The video could not be generated"}
            return {"error": error if job.style == "hingnet" else {**error, "type": "server_error"}}
        if status != "completed":
            return {}
        if job.style == "hingnet":
            url = f"{self.url}/{quote(job.provider)}/files/{quote(job.video_id, safe='')}.mp4"
            return {"progress": 100, "video_url": url, "seconds": 6, "size": "1280x720"}
        if job.completed_at is None:  # stable across polls, like a real provider's timestamp
            job.completed_at = int(time.time())
        completed_at = fields.get("completed_at", job.completed_at)
        return {"progress": 100, "completed_at": completed_at, "expires_at": completed_at + 3600}

    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> _Reply:
        """Lets another process (e.g. `sam local`) script jobs and read what was asked."""
        if (method, path) == ("POST", "/_sim/jobs"):
            try:
                spec = json.loads(body or b"{}")
                self.add_job(
                    spec["provider"],
                    spec["video_id"],
                    spec["style"],
                    spec["timeline"],
                    clock=spec.get("clock", "polls"),
                    push=spec.get("push"),
                )
            except (ValueError, KeyError, TypeError) as exc:
                return _error(400, f"Bad job: {exc}", "invalid_job")
            return _json(201, {"provider": spec["provider"], "video_id": spec["video_id"]})
        if (method, path) == ("GET", "/_sim/requests"):
            found = self.requests(query.get("provider") or None, query.get("video_id") or None)
            return _json(200, [asdict(r) for r in found])
        if (method, path) == ("GET", "/_sim/pushes"):
            sent = self.pushes(query.get("provider") or None, query.get("video_id") or None)
            return _json(200, [asdict(p) for p in sent])
        if (method, path) == ("GET", "/_sim/fal/jwks.json"):
            return _json(200, self.jwks())
        if (method, path) == ("POST", "/_sim/reset"):
            self.reset()
            return _json(200, {"reset": True})
        return _error(404, f"Unknown admin route {method} {path}", "not_found")


def sign_callback(scheme: str, secret: str, body: bytes, *, key: Ed25519PrivateKey, request_id: str) -> dict[str, str]:
    """The headers of a callback of `body`, signed as the scheme's API signs (PUSH_SCHEMES)."""
    headers = {"content-type": "application/json"}
    now = int(time.time())
    if scheme == "standard-webhooks":
        msg_id = f"msg_{uuid.uuid4().hex}"
        signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(now, UTC), body.decode())
        headers.update({"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature})
    elif scheme == "openrouter":
        digest = hmac.new(secret.encode(), f"{now},".encode() + body, hashlib.sha256).hexdigest()
        headers["x-openrouter-signature"] = f"t={now},v1={digest}"
        headers["x-openrouter-idempotency-key"] = f"{request_id}-{digest[:12]}"
    elif scheme == "fal":
        values = [request_id, FAL_USER_ID, str(now), hashlib.sha256(body).hexdigest()]
        signature = key.sign("\n".join(values).encode()).hex()
        headers.update(
            {
                "x-fal-webhook-request-id": request_id,
                "x-fal-webhook-user-id": FAL_USER_ID,
                "x-fal-webhook-timestamp": str(now),
                "x-fal-webhook-signature": signature,
            }
        )
    return headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of concurrent polls would see SYNs dropped and
    # retried a second later, which no real gateway does.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: SimProvider) -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Thin: parses the request, asks SimProvider for the answer, writes it (HTTP/1.0, one per connection)."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr logging."""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        sim = self.server.sim
        with sim._lock:
            sim._open[id(self)] = split.path
        try:
            self._respond(split)
        finally:
            with sim._lock:
                sim._open.pop(id(self), None)

    def _respond(self, split: SplitResult) -> None:
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        reply = self.server.sim._handle(self.command, split.path, query, headers, body)
        if reply.delay > 0:
            time.sleep(reply.delay)
        try:
            if reply.fault in ("close", "hang"):
                if reply.fault == "hang":
                    self.server.sim._stopping.wait(HANG_MAX_S)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            size = JUNK_SIZE if reply.fault == "junk" else len(reply.body)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self._write_body(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a _delay, or it read enough junk)

    def _write_body(self, reply: _Reply) -> None:
        if reply.fault == "reset":
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy or a dropped NAT entry does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif reply.fault == "drip":
            for byte in reply.body:
                if self.server.sim._stopping.wait(DRIP_INTERVAL_S):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif reply.fault == "junk":
            chunk = random.Random(0).randbytes(64 * 1024)
            for _ in range(JUNK_SIZE // len(chunk)):
                self.wfile.write(chunk)
        else:
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a simulated video provider on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8700, help="0 lets the OS pick")
    parser.add_argument("--token", action="append", required=True, metavar="PROVIDER=TOKEN")
    parser.add_argument("--dialect", action="append", default=[], metavar="PROVIDER=DIALECT")
    args = parser.parse_args(argv)
    tokens: dict[str, str] = {}
    for item in args.token:
        name, _, token = item.partition("=")
        if not name or not token:
            parser.error(f"--token takes PROVIDER=TOKEN, not {item!r}")
        tokens[name] = token
    dialects = dict(item.partition("=")[::2] for item in args.dialect)
    try:
        sim = SimProvider(tokens, port=args.port, dialects=dialects).start()
    except ValueError as exc:
        parser.error(str(exc))
    print(f"sim provider listening on {sim.url}", flush=True)
    for name in tokens:
        print(f"  {name}: base_url {sim.base_url(name)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
