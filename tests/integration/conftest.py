"""Real parts on loopback: moto in server mode (reached only through AWS_ENDPOINT_URL), the simulated
provider, and the functions invoked from template.yaml in fresh processes, as `sam local invoke` would."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools import sim_dialects
from devtools.api_events import http_api_event
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
