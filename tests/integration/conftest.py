"""Real parts on loopback: moto in server mode (reached only through AWS_ENDPOINT_URL), the simulated
provider, and the functions invoked from template.yaml in fresh processes, as `sam local invoke` would."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

from devtools import sim_dialects
from devtools.api_events import http_api_event
from devtools.api_server import request_event
from devtools.local_aws import LocalStack, aws_env, deploy_local, receive_all, start_moto, subscribe_queue
from devtools.local_invoke import invoke
from devtools.sim_provider import SimProvider

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"hingnet": "tok-hingnet-3f9a1c77e2", "skyengine": "tok-skyengine-b81d04c5aa"}
SCHEDULE_EVENT = json.loads((ROOT / "events" / "poller-schedule.json").read_text())


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = start_moto()
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sim() -> Iterator[SimProvider]:
    with SimProvider(TOKENS) as provider:
        yield provider


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = aws_env(moto_endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass
class Deployed:
    """One isolated local stack (own table, topic, secrets) and helpers to drive its functions."""

    stack: LocalStack
    endpoint: str
    variables: dict[str, str] = field(default_factory=dict)

    def env_overrides(self, **variables: str) -> dict[str, Any]:
        overrides = self.stack.env_overrides()
        overrides["Parameters"].update(self.variables)
        overrides["Parameters"].update(variables)
        return overrides

    def api(self, method: str, path: str, body: Any = None, *, raw_body: str | None = None) -> tuple[int, Any]:
        result = invoke(
            "ApiFunction",
            http_api_event(method, path, body, raw_body=raw_body),
            template_path=str(ROOT / "template.yaml"),
            env_overrides=self.env_overrides(),
        )
        assert result.error is None, f"{result.error}\n{result.logs}"
        response = result.payload
        return response["statusCode"], json.loads(response["body"])

    def poll(self, extra_env: dict[str, str] | None = None, **variables: str) -> dict[str, Any]:
        result = invoke(
            "PollerFunction",
            SCHEDULE_EVENT,
            template_path=str(ROOT / "template.yaml"),
            env_overrides=self.env_overrides(**variables),
            extra_env=extra_env,
        )
        assert result.error is None, f"{result.error}\n{result.logs}"
        self.last_logs = result.logs
        return result.payload

    def items(self) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb", endpoint_url=self.endpoint).Table(self.stack.table_name)
        return table.scan(ConsistentRead=True)["Items"]

    def queue(self, name: str, filter_policy: dict[str, Any] | None = None) -> str:
        return subscribe_queue(self.endpoint, self.stack.topic_arn, filter_policy=filter_policy, name=name)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        return receive_all(self.endpoint, queue_url)


@pytest.fixture
def deployed(aws: dict[str, str], moto_endpoint: str, sim: SimProvider) -> Deployed:
    suffix = uuid.uuid4().hex[:8]
    stack = deploy_local(
        moto_endpoint,
        providers={name: (sim.base_url(name), token) for name, token in TOKENS.items()},
        template_path=str(ROOT / "template.yaml"),
        suffix=suffix,
    )
    # Every job is due at every run, so a test needs no sleeping; loopback callbacks allowed (development).
    return Deployed(stack, moto_endpoint, {"POLL_INTERVAL_SECONDS": "0", "ALLOW_LOOPBACK_CALLBACKS": "true"})


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- provider dialects (issue 13): one simulated provider per built-in dialect, named after it ---------------

DIALECT_TOKENS = {  # constants: test modules import them (a second import of this module must agree)
    name: (
        "AKdemo5e21c9a07f:SKdemo0b9d6e3f58a24c71b6e0f93d2a7c5b18"  # Kling: access key:secret key (36-byte key)
        if name == "kling"
        else f"tok-{name}-7d41e0c9b2"
    )
    for name in sim_dialects.DIALECTS
}


def new_dialect_id(name: str) -> str:
    """A fresh video id in the form the dialect registers (its id_pattern), unique per call."""
    hex32 = uuid.uuid4().hex
    digits = str(uuid.uuid4().int)[:15]
    forms = {
        "openai": f"video_{hex32[:16]}",
        "gemini": f"models/veo-3.1-generate-preview/operations/{hex32[:12]}",
        "runway": str(uuid.uuid4()),
        "luma": str(uuid.uuid4()),
        "kling": f"text2video/{digits}",
        "minimax": digits,
        "dashscope": str(uuid.uuid4()),
        "ark": f"cgt-{digits[:14]}-{hex32[:5]}",
        "fal": f"fal-ai/veo3/requests/{uuid.uuid4()}",
        "replicate": hex32[:26],
        "openrouter": hex32[:20],
    }
    return forms[name]


@pytest.fixture(scope="session")
def dialect_sim() -> Iterator[SimProvider]:
    """A simulated provider per dialect (provider name = dialect name), each behind its own credential check."""
    with SimProvider(DIALECT_TOKENS, dialects={name: name for name in DIALECT_TOKENS}) as provider:
        yield provider


@pytest.fixture
def dialect_deployed(aws: dict[str, str], moto_endpoint: str, dialect_sim: SimProvider) -> Deployed:
    """An isolated local stack whose PROVIDERS has one entry per dialect, pointing at `dialect_sim`."""
    suffix = uuid.uuid4().hex[:8]
    stack = deploy_local(
        moto_endpoint,
        providers={name: (dialect_sim.base_url(name), token, name) for name, token in DIALECT_TOKENS.items()},
        template_path=str(ROOT / "template.yaml"),
        suffix=suffix,
    )
    return Deployed(stack, moto_endpoint, {"POLL_INTERVAL_SECONDS": "0", "ALLOW_LOOPBACK_CALLBACKS": "true"})


# -- providers' callbacks (issue 14): the dialect providers, with callbacks, signed as each provider signs ---

# Each provider's callback secret (the whsec_ key, OpenRouter's signing secret, or the path token). Constants:
# test modules import them, and the log tests look for each of them in every line the functions write.
INBOUND_SECRETS = {
    "replicate": "whsec_" + base64.b64encode(b"replicate-callback-key-0f3e9a1c2b").decode(),
    "gemini": "whsec_" + base64.b64encode(b"gemini-callback-key-77d1e0a9c4b5").decode(),
    "openrouter": "or-signing-secret-4b1f9e2d7c05a8",
    "luma": "luma-path-token-a91c3e57f20b64d8",
    "kling": "kling-path-token-5e08d2b7c913af46",
    "ark": "ark-path-token-c7f41a0e9b2d6358",
    "minimax": "minimax-path-token-2d9b6f1e04a7c835",
}
INBOUND_SCHEMES = {
    "replicate": "standard-webhooks",
    "gemini": "standard-webhooks",
    "openrouter": "openrouter",
    "fal": "fal",
    "luma": "token",
    "kling": "token",
    "ark": "token",
    "minimax": "token",
}
TOKEN_PROVIDERS = tuple(name for name, scheme in INBOUND_SCHEMES.items() if scheme == "token")
INBOUND_FIXTURES = ROOT / "devtools" / "inbound_fixtures"
# who http_api_event's requests are signed by (events/api-track-job.json): the owner of the jobs tests track
LOCAL_PRINCIPAL = "arn:aws:iam::123456789012:user/videohook-client"


class FalKeys:
    """fal's public keys (a JWKS, as https://rest.fal.ai/.well-known/jwks.json serves it) on 127.0.0.1, and the
    private key that signs the test's callbacks; `stranger` is a key the JWKS does not hold."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.stranger = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        document = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}]}
        data = json.dumps(document).encode()
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                keys.fetches += 1
                ok = self.path == "/.well-known/jwks.json"
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(data)

        self.fetches = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"

    def headers(
        self,
        body: bytes,
        *,
        request_id: str,
        timestamp: int,
        user_id: str = "test-user-id",
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, str]:
        """The four X-Fal-Webhook-* headers: Ed25519 over request id, user id, timestamp, sha256 hex of the body."""
        message = "\n".join([request_id, user_id, str(timestamp), hashlib.sha256(body).hexdigest()]).encode()
        signature = (key or self.private).sign(message).hex()
        return {
            "content-type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": signature,
        }

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def fal_keys() -> Iterator[FalKeys]:
    keys = FalKeys()
    try:
        yield keys
    finally:
        keys.stop()


def callback_example(name: str, example: str, key: str) -> dict[str, Any]:
    """The provider's documented callback body `example` (devtools/inbound_fixtures/<name>.json), naming the
    job `key` where the provider puts its id (for fal, with a video in its payload, as its video models answer)."""
    from videohook.domain.dialects import paths

    fixture = json.loads((INBOUND_FIXTURES / f"{name}.json").read_text())
    (found,) = [item for item in fixture["examples"] if item["name"] == example]
    body = copy.deepcopy(found["body"])
    paths.put(body, fixture["body"]["id_path"], key)
    if name == "fal" and example == "completed":
        body["payload"] = {"video": {"url": f"https://v3.fal.media/files/{key}/output.mp4"}}
    return body


def signed_callback(
    name: str,
    body: bytes,
    *,
    fal: FalKeys,
    timestamp: int | None = None,
    secret: str | None = None,
    fal_key: Ed25519PrivateKey | None = None,
) -> tuple[str, dict[str, str]]:
    """(path, headers) of the callback `body` as provider `name` sends it, signed with its secret (or `secret`)
    at `timestamp` (default now): Standard Webhooks, OpenRouter's HMAC, fal's Ed25519, or a path token."""
    stamp = int(time.time()) if timestamp is None else timestamp
    scheme = INBOUND_SCHEMES[name]
    key = secret if secret is not None else INBOUND_SECRETS.get(name, "")
    headers = {"content-type": "application/json"}
    if scheme == "token":
        return f"/v1/inbound/{name}/{quote(key, safe='')}", headers
    if scheme == "standard-webhooks":
        message_id = "msg_" + uuid.uuid4().hex
        signature = Webhook(key).sign(message_id, datetime.fromtimestamp(stamp, tz=UTC), body.decode())
        headers |= {"webhook-id": message_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}
    elif scheme == "openrouter":
        digest = hmac.new(key.encode(), f"{stamp},".encode() + body, hashlib.sha256).hexdigest()
        headers |= {"X-OpenRouter-Signature": f"t={stamp},v1={digest}"}
    else:
        request_id = str(json.loads(body).get("request_id", ""))
        headers = fal.headers(body, request_id=request_id, timestamp=stamp, key=fal_key)
    return f"/v1/inbound/{name}", headers


def inbound_settings(fal: FalKeys, **overrides: Any) -> dict[str, dict[str, Any]]:
    """deploy_local's `inbound`: every provider that calls back, its secret stored, `overrides` on each."""
    settings: dict[str, dict[str, Any]] = {}
    for name, scheme in INBOUND_SCHEMES.items():
        entry: dict[str, Any] = {"scheme": scheme, **overrides}
        if name in INBOUND_SECRETS:
            entry["secret_value"] = INBOUND_SECRETS[name]
        else:
            entry["keys_url"] = fal.url
        settings[name] = entry
    return settings


@dataclass
class InboundDeployed(Deployed):
    """A dialect stack whose providers call back; callbacks go to InboundFunction, invoked as Lambda would."""

    logs: list[str] = field(default_factory=list)  # every function's output, each invoke's in turn

    def callback(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """POST `path` (/v1/inbound/...) with `body` through InboundFunction, as API Gateway's HTTP API would."""
        event = request_event("POST", path, headers or {}, body)
        parts = path.strip("/").split("/")
        event["routeKey"] = event["requestContext"]["routeKey"] = (
            "POST /v1/inbound/{provider}/{token}" if len(parts) == 4 else "POST /v1/inbound/{provider}"
        )
        event["pathParameters"] = dict(zip(("provider", "token"), parts[2:], strict=False))
        result = invoke(
            "InboundFunction", event, template_path=str(ROOT / "template.yaml"), env_overrides=self.env_overrides()
        )
        self.logs.append(result.logs)
        assert result.error is None, f"{result.error}\n{result.logs}"
        return result.payload["statusCode"], json.loads(result.payload["body"])

    def api(self, method: str, path: str, body: Any = None, *, raw_body: str | None = None) -> tuple[int, Any]:
        result = invoke(
            "ApiFunction",
            http_api_event(method, path, body, raw_body=raw_body),
            template_path=str(ROOT / "template.yaml"),
            env_overrides=self.env_overrides(),
        )
        self.logs.append(result.logs)
        assert result.error is None, f"{result.error}\n{result.logs}"
        return result.payload["statusCode"], json.loads(result.payload["body"])

    def poll(self, extra_env: dict[str, str] | None = None, **variables: str) -> dict[str, Any]:
        payload = super().poll(extra_env, **variables)
        self.logs.append(self.last_logs)
        return payload

    def job(self, provider: str, video_id: str) -> dict[str, Any]:
        """GET /v1/jobs/{provider}/{video_id} through ApiFunction, the id percent-encoded once (as the CLI
        sends it; http_api_event would encode an id holding `/` twice)."""
        path = f"/v1/jobs/{quote(provider, safe='')}/{quote(video_id, safe='')}"
        result = invoke(
            "ApiFunction",
            request_event("GET", path, {}, b"", principal=LOCAL_PRINCIPAL),
            template_path=str(ROOT / "template.yaml"),
            env_overrides=self.env_overrides(),
        )
        self.logs.append(result.logs)
        assert result.error is None, f"{result.error}\n{result.logs}"
        assert result.payload["statusCode"] == 200, result.payload
        return dict(json.loads(result.payload["body"]))


def deploy_inbound(moto_endpoint: str, dialect_sim: SimProvider, fal: FalKeys, **overrides: Any) -> InboundDeployed:
    """An isolated stack (own table, topic, secrets) of every dialect provider, pointing at `dialect_sim`, those
    that call back configured to (their secrets stored), `overrides` on each (e.g. backstop_seconds=0)."""
    stack = deploy_local(
        moto_endpoint,
        providers={name: (dialect_sim.base_url(name), token, name) for name, token in DIALECT_TOKENS.items()},
        template_path=str(ROOT / "template.yaml"),
        suffix=uuid.uuid4().hex[:8],
        inbound=inbound_settings(fal, **overrides),
    )
    return InboundDeployed(stack, moto_endpoint, {"POLL_INTERVAL_SECONDS": "0", "ALLOW_LOOPBACK_CALLBACKS": "true"})


@pytest.fixture
def inbound_deployed(
    aws: dict[str, str], moto_endpoint: str, dialect_sim: SimProvider, fal_keys: FalKeys
) -> Callable[..., InboundDeployed]:
    """`inbound_deployed(**inbound_overrides)`: a fresh stack of its own for the test (deploy_inbound)."""

    def deploy(**overrides: Any) -> InboundDeployed:
        return deploy_inbound(moto_endpoint, dialect_sim, fal_keys, **overrides)

    return deploy


@pytest.fixture(scope="module")
def module_aws(moto_endpoint: str) -> Iterator[dict[str, str]]:
    """The `aws` fixture's environment (boto3 pointed at moto), for a whole module: for the module-scoped stacks
    of test modules whose tests share one (each test with its own job ids and queues)."""
    env = aws_env(moto_endpoint)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


# -- what the callback tests share ------------------------------------------------------------------------------


def key_of(video_id: str) -> str:
    """The id the provider's callback names the job by (the end of Kling's, Gemini's and fal's ids)."""
    return video_id.rsplit("/", 1)[-1]


def callback_body(name: str, example: str, video_id: str) -> bytes:
    """The provider's documented `example` callback for the job `video_id`, as the bytes it sends."""
    return json.dumps(callback_example(name, example, key_of(video_id)), separators=(",", ":")).encode()


def near_miss(token: str) -> str:
    """The token with its last character changed: as long as the right one, wrong by one character."""
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def table_snapshot(stack: Deployed) -> list[dict[str, Any]]:
    """Every item of the stack's table (jobs and kept callbacks), in key order: equal before and after means
    nothing was written."""
    return sorted(stack.items(), key=lambda item: str(item["pk"]))


def reset_table(stack: Deployed) -> None:
    """Delete every item of the stack's table: the table as deploy_local left it, for a test sharing a stack
    whose poller run must see only its own jobs."""
    table = boto3.resource("dynamodb", endpoint_url=stack.endpoint).Table(stack.stack.table_name)
    scan: dict[str, Any] = {"ConsistentRead": True, "ProjectionExpression": "pk"}
    while True:
        page = table.scan(**scan)
        with table.batch_writer() as batch:
            for item in page["Items"]:
                batch.delete_item(Key={"pk": item["pk"]})
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert stack.items() == []


def published(stack: Deployed, queue: str, *, expect: int | None = None) -> list[dict[str, Any]]:
    """What reached the subscribed queue. The functions publish before they answer, and moto delivers SNS to
    SQS within the publish call: once the request (or invoke) has answered, whatever it published is in the
    queue, so "nothing" needs no waiting; `expect` messages are waited for, up to 2 s."""
    return receive_all(stack.endpoint, queue, wait_s=2.0 if expect else 0, expect=expect)
