"""Wiring: the use cases built from the settings and the real adapters, once per cold start."""

from __future__ import annotations

from functools import cache

from videohook.aws import client
from videohook.config import load_settings
from videohook.coordination import DynamoRunCoordination
from videohook.job_store import DynamoJobStore
from videohook.poller import Poller
from videohook.publisher import SnsPublisher
from videohook.secrets import SecretsManagerTokens
from videohook.tracking import Tracking


@cache
def job_store() -> DynamoJobStore:
    settings = load_settings()
    return DynamoJobStore(
        client("dynamodb"),
        settings.jobs_table,
        due_shards=settings.due_shards,
        retention_s=settings.job_retention_days * 86400,
    )


@cache
def poller() -> Poller:
    settings = load_settings()
    if not settings.events_topic_arn:
        from videohook.config import ConfigError

        raise ConfigError("EVENTS_TOPIC_ARN is not set")
    return Poller(
        settings,
        job_store(),
        SnsPublisher(client("sns"), settings.events_topic_arn),
        SecretsManagerTokens(),
        coordination=DynamoRunCoordination(client("dynamodb"), settings.jobs_table),
    )


@cache
def tracking() -> Tracking:
    return Tracking(load_settings(), job_store())
