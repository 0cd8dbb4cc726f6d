"""Wiring: the use cases built from the settings and the real adapters, once per cold start.

Imports are made where a use case is built, so each function loads only what it uses: the API never loads
the poller's HTTP stack, the fan-out dispatcher neither (docs/performance.md, benchmark 2).
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING

from videohook.config import (
    ARCHIVE,
    EVENTS,
    INBOUND,
    JOBS,
    POLLING,
    REDELIVERY,
    TRACKING,
    WEBHOOK_QUEUE,
    WEBHOOKS,
    ConfigError,
    load_fan_out,
    load_settings,
)

if TYPE_CHECKING:
    from videohook.adapters.inbound_store import DynamoEarlyCallbacks
    from videohook.adapters.job_store import DynamoJobStore
    from videohook.adapters.webhook_queue import SqsWebhookQueue
    from videohook.ports import EventPublisher
    from videohook.services.archive import Archiver
    from videohook.services.fan_out import Dispatcher
    from videohook.services.inbound import Inbound
    from videohook.services.poller import Poller
    from videohook.services.redelivery import Redelivery
    from videohook.services.tracking import Tracking
    from videohook.services.webhook_delivery import WebhookDelivery


@cache
def job_store() -> DynamoJobStore:
    from videohook.adapters.aws import client
    from videohook.adapters.job_store import DynamoJobStore

    settings = load_settings(JOBS)
    return DynamoJobStore(
        client("dynamodb"),
        settings.jobs_table,
        due_shards=settings.due_shards,
        retention_s=settings.job_retention_days * 86400,
    )


@cache
def poller() -> Poller:
    from videohook.adapters.aws import client
    from videohook.adapters.coordination import DynamoRunCoordination
    from videohook.adapters.provider_client import fetch_video, make_http_client
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.services.poller import Poller

    settings = load_settings(JOBS, POLLING)
    if not settings.events_topic_arn:
        raise ConfigError("EVENTS_TOPIC_ARN is not set")
    return Poller(
        settings,
        job_store(),
        event_publisher(),
        SecretsManagerTokens(),
        http_factory=make_http_client,  # aiohttp's session (imported when the first run opens it)
        fetch=fetch_video,
        coordination=DynamoRunCoordination(client("dynamodb"), settings.jobs_table),
    )


def event_publisher() -> EventPublisher:
    """The topic; with archiving on, completed events go to the archive queue first (ArchiveFunction)."""
    from videohook.adapters.aws import client
    from videohook.adapters.event_routing import RoutedPublisher, SqsEventQueue
    from videohook.adapters.publisher import SnsPublisher

    settings = load_settings(EVENTS)
    topic = SnsPublisher(client("sns"), settings.events_topic_arn)
    if not settings.archive_queue_url:
        return topic
    return RoutedPublisher(topic, {"video.completed": SqsEventQueue(client("sqs"), settings.archive_queue_url)})


@cache
def dispatcher() -> Dispatcher | None:
    """The fan-out of a scheduled run to POLLER_WORKERS workers; None when the run polls every shard itself."""
    fan_out = load_fan_out()
    if fan_out.workers <= 1:
        return None
    from videohook.adapters.aws import client
    from videohook.adapters.worker_launcher import LambdaWorkerLauncher
    from videohook.services.fan_out import Dispatcher

    launcher = LambdaWorkerLauncher(client("lambda"), fan_out.worker_function)
    return Dispatcher(launcher, due_shards=load_settings(JOBS).due_shards, workers=fan_out.workers)


@cache
def archiver() -> Archiver:
    from videohook.adapters.archive_bucket import S3ArchiveBucket
    from videohook.adapters.aws import client
    from videohook.adapters.publisher import SnsPublisher
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.adapters.video_download import PinnedVideoSource
    from videohook.services.archive import Archiver

    settings = load_settings(ARCHIVE)
    if not settings.archive_bucket or not settings.events_topic_arn:
        raise ConfigError("ARCHIVE_BUCKET and EVENTS_TOPIC_ARN must be set for ArchiveFunction")
    return Archiver(
        settings,
        job_store(),
        SecretsManagerTokens(),
        S3ArchiveBucket(client("s3"), settings.archive_bucket),
        SnsPublisher(client("sns"), settings.events_topic_arn),
        PinnedVideoSource(allow_loopback=settings.allow_loopback_callbacks),
    )


@cache
def tracking() -> Tracking:
    from videohook.services.tracking import Tracking

    return Tracking(load_settings(TRACKING), job_store(), early=_early_callbacks())


def _early_callbacks() -> DynamoEarlyCallbacks:
    from videohook.adapters.aws import client
    from videohook.adapters.inbound_store import DynamoEarlyCallbacks

    settings = load_settings(JOBS)
    return DynamoEarlyCallbacks(
        client("dynamodb"), settings.jobs_table, retention_s=settings.job_retention_days * 86400
    )


@cache
def inbound() -> Inbound:
    """InboundFunction: providers' callbacks, recorded as polls are and published as the poller publishes."""
    from videohook.adapters.callback_verifier import CallbackVerifier
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.observability import record_inbound
    from videohook.services.inbound import Inbound

    settings = load_settings(JOBS, INBOUND)
    verifier = CallbackVerifier(SecretsManagerTokens(), allow_loopback=settings.allow_loopback_callbacks)
    return Inbound(
        settings, job_store(), _early_callbacks(), event_publisher(), verifier, clock=time.time, count=record_inbound
    )


# -- webhooks -----------------------------------------------------------------------------------------------
def _webhook_queue() -> SqsWebhookQueue:
    from videohook.adapters.aws import client
    from videohook.adapters.webhook_queue import SqsWebhookQueue

    settings = load_settings(WEBHOOK_QUEUE)
    if not settings.webhook_queue_url:
        raise ConfigError("WEBHOOK_QUEUE_URL is not set")
    return SqsWebhookQueue(client("sqs"), settings.webhook_queue_url)


@cache
def webhook_delivery() -> WebhookDelivery:
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.adapters.webhook_sender import HttpxWebhookSender, system_resolver
    from videohook.services.webhook_delivery import WebhookDelivery

    settings = load_settings(WEBHOOKS)
    if not settings.webhook_secret_arn:
        raise ConfigError("WEBHOOK_SECRET_ARN is not set")
    return WebhookDelivery(
        settings,
        secrets=SecretsManagerTokens(),
        sender=HttpxWebhookSender(timeout_s=settings.webhook_timeout_s),
        queue=_webhook_queue(),
        jobs=job_store(),  # the event's job: its callback URL and its event are read from it
        deliveries=job_store(),
        resolve=system_resolver(),
    )


@cache
def redelivery() -> Redelivery:
    from videohook.services.redelivery import Redelivery

    return Redelivery(load_settings(REDELIVERY), job_store(), _webhook_queue())
