"""Wiring: the use cases built from the settings and the real adapters, once per cold start.

Imports are made where a use case is built, so each function loads only what it uses: the API never
loads the poller's HTTP stack, the fan-out dispatcher neither (docs/performance.md, benchmark 2).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from videohook.config import ConfigError, load_fan_out, load_settings

if TYPE_CHECKING:
    from videohook.fan_out import Dispatcher
    from videohook.job_store import DynamoJobStore
    from videohook.poller import Poller
    from videohook.tracking import Tracking


@cache
def job_store() -> DynamoJobStore:
    from videohook.aws import client
    from videohook.job_store import DynamoJobStore

    settings = load_settings()
    return DynamoJobStore(
        client("dynamodb"),
        settings.jobs_table,
        due_shards=settings.due_shards,
        retention_s=settings.job_retention_days * 86400,
    )


@cache
def poller() -> Poller:
    from videohook.aws import client
    from videohook.poller import Poller
    from videohook.publisher import SnsPublisher
    from videohook.secrets import SecretsManagerTokens

    settings = load_settings()
    if not settings.events_topic_arn:
        raise ConfigError("EVENTS_TOPIC_ARN is not set")
    return Poller(settings, job_store(), SnsPublisher(client("sns"), settings.events_topic_arn), SecretsManagerTokens())


@cache
def dispatcher() -> Dispatcher | None:
    """The fan-out of a scheduled run to POLLER_WORKERS workers; None when the run polls every shard itself."""
    fan_out = load_fan_out()
    if fan_out.workers <= 1:
        return None
    from videohook.aws import client
    from videohook.fan_out import Dispatcher
    from videohook.worker_launcher import LambdaWorkerLauncher

    launcher = LambdaWorkerLauncher(client("lambda"), fan_out.worker_function)
    return Dispatcher(launcher, due_shards=load_settings().due_shards, workers=fan_out.workers)


@cache
def tracking() -> Tracking:
    from videohook.tracking import Tracking

    return Tracking(load_settings(), job_store())
