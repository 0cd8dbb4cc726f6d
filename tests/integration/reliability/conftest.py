"""Fixtures of the reliability tests (the rig itself is in reliability_harness.py). Every test records what
it injected and what was delivered in the session's ledger (reliability_ledger.py), which tests/conftest.py
prints at the end of the run and writes as JSON."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import LEDGER, CapturedLogs, Harness, _ListHandler
from videohook.config import Settings

from devtools.fault_proxy import FaultProxy
from devtools.local_webhooks import LocalWebhooks, deploy_webhooks
from devtools.sim_provider import SimProvider

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def harness(deployed: Any, sim: SimProvider) -> Iterator[Harness]:
    variables = {**deployed.env_overrides()["Parameters"], "POLL_INTERVAL_SECONDS": "0"}
    settings = Settings.from_env(variables)
    h = Harness(deployed, sim, settings, faults_before=sim.faults_served())
    h.queue_url = deployed.queue("rel-" + uuid.uuid4().hex[:8])
    LEDGER.tests += 1
    yield h
    LEDGER.upstream_faults += sim.faults_served() - h.faults_before


@pytest.fixture
def webhooks(deployed: Any) -> LocalWebhooks:
    """The stack's webhook side (queue subscribed to the topic, dead letters, the signing secret), with the
    functions' webhook variables set, as template.yaml wires them."""
    hooks = deploy_webhooks(
        deployed.endpoint,
        deployed.stack.topic_arn,
        template_path=str(ROOT / "template.yaml"),
        suffix=deployed.stack.suffix,
        retry_schedule="0,1",
    )
    deployed.variables.update(hooks.variables())
    return hooks


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_endpoint) as running:
        yield running
    LEDGER.aws_faults += running.total_injected()


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    """Capture the app's log lines as its handler formats them, and library logs at DEBUG (httpx, httpcore,
    botocore, urllib3, Powertools' own), with tracebacks."""
    from videohook.observability import logger

    captured = CapturedLogs()
    app_logger = logging.getLogger(logger.name)
    app_handler = _ListHandler(captured.app, logger.registered_handler.formatter)
    library_handler = _ListHandler(captured.library, logging.Formatter("%(name)s %(levelname)s %(message)s"))
    # Attached to the client-side libraries' loggers, not the root: moto runs in this process too, and the
    # fake AWS's own logs are not videohook's.
    names = ("httpx", "httpcore", "botocore", "urllib3", "aws_lambda_powertools", "asyncio", "boto3")
    levels = {name: logging.getLogger(name).level for name in names}
    old_app_level = app_logger.level
    app_logger.addHandler(app_handler)
    app_logger.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).addHandler(library_handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        app_logger.removeHandler(app_handler)
        app_logger.setLevel(old_app_level)
        for name, level in levels.items():
            logging.getLogger(name).removeHandler(library_handler)
            logging.getLogger(name).setLevel(level)
