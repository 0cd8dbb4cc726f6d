"""boto3 clients, configured once. Endpoints come only from boto3's own AWS_ENDPOINT_URL(_<SERVICE>)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode (max_attempts 3: botocore counts retries, so 1 try + 3 retries, exponential backoff with
# jitter, throttling and 5xx retried; measured through the fault proxy); a pool large enough for the
# poller's worker threads; short timeouts so a sick endpoint cannot eat the run. No client-side parameter
# validation: the requests are built by this package (AWS still validates them), and skipping it saves
# ~13 % of boto3's CPU per DynamoDB write, the poller's largest cost per poll (docs/performance.md).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    max_pool_connections=32,
    connect_timeout=3,
    read_timeout=10,
    parameter_validation=False,
)


@cache
def _session() -> boto3.session.Session:
    # One session for every client: each new session loads the endpoint and partition data again
    # (tens of ms per client at a cold start; docs/performance.md, benchmark 2).
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    return _session().client(service, config=CLIENT_CONFIG)
