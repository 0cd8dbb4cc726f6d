"""boto3 clients, configured once. Endpoints come only from boto3's own AWS_ENDPOINT_URL(_<SERVICE>)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode (max_attempts 3: botocore counts retries, so 1 try + 3 retries, exponential backoff with
# jitter, throttling and 5xx retried; measured through the fault proxy); a pool large enough for the
# poller's worker threads; short timeouts so a sick endpoint cannot eat the run.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    max_pool_connections=32,
    connect_timeout=3,
    read_timeout=10,
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=CLIENT_CONFIG)
