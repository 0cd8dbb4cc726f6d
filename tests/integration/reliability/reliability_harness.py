"""The reliability tests' rig: in-process poller runs with the real adapters (moto over HTTP, optionally
behind the fault proxy; the simulated provider over HTTP; real Secrets Manager reads), kill switches, log
capture, and the ledger of what the tests injected and saw (docs/reliability.md quotes its figures).
A plain module (not conftest) so that tests import it by a name no other directory uses."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from reliability_ledger import LEDGER
from videohook.adapters.aws import CLIENT_CONFIG
from videohook.adapters.coordination import DynamoRunCoordination
from videohook.adapters.job_store import DynamoJobStore
from videohook.adapters.provider_client import fetch_video, make_http_client
from videohook.adapters.publisher import SnsPublisher
from videohook.adapters.secrets import SecretsManagerTokens
from videohook.config import ProviderSettings, Settings
from videohook.domain.models import Job
from videohook.services.poller import Poller, RunReport
from videohook.services.tracking import LOCAL_PRINCIPAL, Caller, Tracking

from devtools.local_aws import receive_all
from devtools.sim_provider import SimProvider


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so no `except Exception` in the poller catches it."""


class KillSwitch:
    """Trips at the `after`-th time `point` is reached; from then on every guarded call raises Killed, as
    nothing reaches AWS or the provider once a process is dead."""

    def __init__(self, point: str | None, after: int = 1) -> None:
        self.point = point
        self.after = after
        self.reached = 0
        self.tripped = False

    def check(self, point: str) -> None:
        if self.tripped:
            raise Killed(point)
        if point == self.point:
            self.reached += 1
            if self.reached >= self.after:
                self.tripped = True
                LEDGER.kills += 1
                raise Killed(point)


class KillableStore:
    """The real DynamoJobStore, with kill points before and after each call (`after_save_terminal`: after a
    write that recorded a terminal state and its pending event)."""

    def __init__(self, store: DynamoJobStore, switch: KillSwitch) -> None:
        self._store = store
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target) or name == "shard_of":
            return target

        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._switch.check(f"before_{name}")
            result = target(*args, **kwargs)
            if name == "save" and isinstance(result, Job) and result.pending_event is not None:
                self._switch.check("after_save_terminal")
            self._switch.check(f"after_{name}")
            return result

        return guarded


class KillablePublisher:
    def __init__(self, publisher: SnsPublisher, switch: KillSwitch) -> None:
        self._publisher = publisher
        self._switch = switch

    def publish(self, events: Any) -> dict[str, str]:
        self._switch.check("before_publish")
        failed = self._publisher.publish(events)
        self._switch.check("after_publish")
        return failed


class KillableCoordination:
    """The real run coordination (pauses, shard leases): once the switch has tripped, nothing reaches it, so a
    dead run's leases stay in the table as a dead process leaves them (no release on the way down)."""

    def __init__(self, coordination: DynamoRunCoordination, switch: KillSwitch) -> None:
        self._coordination = coordination
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._coordination, name)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._switch.check(f"before_{name}")
            return target(*args, **kwargs)

        return guarded


@dataclass
class Harness:
    """One local stack (table, topic, secrets in moto; the sim provider) and in-process runs against it."""

    deployed: Any
    sim: SimProvider
    base_settings: Settings
    offset: float = 0.0  # added to the poller's clock: lets a test step past leases and backoffs
    reports: list[RunReport] = field(default_factory=list)
    queue_url: str = ""
    faults_before: int = 0

    def clock(self) -> float:
        return time.time() + self.offset

    def client(self, service: str, endpoint: str | None = None) -> Any:
        """A client configured like the functions' (standard retries, timeouts), at moto or a proxy."""
        return _client(service, endpoint or self.deployed.endpoint)

    def token(self, provider: str) -> str:
        """The token deploy_local stored (read without logging: the test's own reads are not the function's)."""
        with _quiet():
            secrets = self.deployed.stack.client("secretsmanager")
            return str(secrets.get_secret_value(SecretId=self.deployed.stack.secret_ids[provider])["SecretString"])

    def set_token(self, provider: str, token: str) -> None:
        with _quiet():
            self.deployed.stack.client("secretsmanager").put_secret_value(
                SecretId=self.deployed.stack.secret_ids[provider], SecretString=token
            )

    def unreachable(self, closed_port: int, *, upstream: bool = False) -> str:
        """The URL of a closed loopback port, counted as one injected fault (an AWS endpoint or an upstream)."""
        if upstream:
            LEDGER.upstream_faults += 1
        else:
            LEDGER.aws_faults += 1
        return f"http://127.0.0.1:{closed_port}"

    def settings(self, **changes: Any) -> Settings:
        return dataclasses.replace(self.base_settings, **changes)

    def provider(self, name: str, **changes: Any) -> dict[str, ProviderSettings]:
        """The providers mapping with `name`'s settings changed (e.g. timeout_seconds, base_url)."""
        providers = dict(self.base_settings.providers)
        providers[name] = dataclasses.replace(providers[name], **changes)
        return providers

    def store(self, endpoint: str | None = None) -> DynamoJobStore:
        return DynamoJobStore(
            self.client("dynamodb", endpoint),
            self.base_settings.jobs_table,
            due_shards=self.base_settings.due_shards,
            retention_s=86400,
        )

    def poller(
        self,
        *,
        settings: Settings | None = None,
        dynamodb: str | None = None,
        sns: str | None = None,
        tokens: Any = None,
        switch: KillSwitch | None = None,
        coordination: bool = True,
        http_factory: Callable[[int], Any] | None = None,
        **options: Any,
    ) -> Poller:
        settings = settings or self.base_settings
        store: Any = self.store(dynamodb)
        publisher: Any = SnsPublisher(self.client("sns", sns), settings.events_topic_arn)
        runs: Any = DynamoRunCoordination(self.client("dynamodb", dynamodb), settings.jobs_table)
        if switch is not None:
            store, publisher = KillableStore(store, switch), KillablePublisher(publisher, switch)
            runs = KillableCoordination(runs, switch)
            http_factory = _killable_http(switch)
        return Poller(
            settings,
            store,
            publisher,
            tokens or SecretsManagerTokens(self.client("secretsmanager")),
            coordination=runs if coordination else None,
            clock=self.clock,
            http_factory=http_factory or make_http_client,
            fetch=fetch_video,
            **options,
        )

    def run(self, poller: Poller | None = None, *, remaining_s: float = 30.0, **options: Any) -> RunReport:
        report = (poller or self.poller(**options)).run(lambda: int(remaining_s * 1000))
        LEDGER.runs += 1
        LEDGER.faults_seen += sum(report.faults.values())
        self.reports.append(report)
        return report

    def invoke(
        self,
        *,
        extra_env: dict[str, str] | None = None,
        function_timeout_s: int | None = None,
        providers: dict[str, dict[str, Any]] | None = None,
        **variables: str,
    ) -> Any:
        """One PollerFunction invoke from template.yaml through local_invoke (a fresh process), optionally
        with a shorter function Timeout than the template's, as a test of the deadline needs."""
        from devtools.local_invoke import function_spec, invoke_spec, load_template

        root = Path(__file__).resolve().parents[3]
        spec = function_spec(load_template(root / "template.yaml"), "PollerFunction")
        if function_timeout_s is not None:
            spec = dataclasses.replace(spec, timeout=function_timeout_s)
        if providers is not None:
            variables["PROVIDERS"] = json.dumps(providers)
        event = json.loads((root / "events" / "poller-schedule.json").read_text())
        result = invoke_spec(spec, event, env_overrides=self.deployed.env_overrides(**variables), extra_env=extra_env)
        LEDGER.runs += 1
        LEDGER.invokes += 1
        LEDGER.faults_seen += sum((result.payload or {}).get("faults", {}).values())

        return result

    def track(
        self, provider: str, video_id: str, timeline: list[dict], *, style: str | None = None, **body: Any
    ) -> Job:
        """Script the job in the sim, then track it through the API's use case (real DynamoDB)."""
        if timeline:
            self.sim.add_job(provider, video_id, style or provider, timeline)
        settings = body.pop("settings", None) or self.base_settings
        job, created = Tracking(settings, self.store(), clock=self.clock).track(
            {"provider": provider, "video_id": video_id, **body}, Caller(LOCAL_PRINCIPAL)
        )
        assert created
        LEDGER.jobs += 1
        return job

    def expect_events(self, *jobs: tuple[str, str, str]) -> set[str]:
        """Register the transitions (provider, video_id, final status) this test must see announced."""
        from videohook.domain.events import event_id
        from videohook.domain.models import VideoStatus

        ids = {event_id(provider, video, VideoStatus(status)) for provider, video, status in jobs}
        LEDGER.expected_ids |= ids
        return ids

    def items(self) -> list[dict[str, Any]]:
        """The table's job items (coordination items, keys starting with `_`, left out)."""
        return [item for item in self.deployed.items() if not item["pk"].startswith("_")]

    def item(self, provider: str, video_id: str) -> dict[str, Any]:
        (found,) = [item for item in self.items() if item["pk"] == f"{provider}#{video_id}"]
        return found

    def due(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if "due_shard" in item]

    def settle(self, max_runs: int = 12, step_s: float = 0.0, **options: Any) -> list[RunReport]:
        """Run until nothing is due, stepping the clock by `step_s` (past backoffs) between runs (bounded)."""
        reports = []
        for _ in range(max_runs):
            reports.append(self.run(**options))
            if not self.due():
                return reports
            self.offset += step_s
        raise AssertionError(f"still due after {max_runs} runs: {[item['pk'] for item in self.due()]}")

    def events(self, *, wait_s: float = 1.0, at_least_once: int = 0) -> list[dict[str, Any]]:
        """Drain the test's queue; record every delivery in the ledger (`at_least_once`: redeliveries this
        test provokes on purpose in a window nothing can close)."""
        messages = receive_all(self.deployed.endpoint, self.queue_url, wait_s=wait_s)
        events = [message["body"] for message in messages]
        for event in events:
            LEDGER.deliveries[event["id"]] += 1
            key = (f"{event['data']['provider']}#{event['data']['id']}", event["type"])
            LEDGER.ids_per_transition.setdefault(key, set()).add(event["id"])
        LEDGER.at_least_once_redeliveries += at_least_once
        return events


@functools.cache
def _client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint, config=CLIENT_CONFIG)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _killable_http(switch: KillSwitch) -> Callable[[int], Any]:
    """The poller's own aiohttp session, with a kill point before each request leaves (an aiohttp trace hook)."""

    async def before_request(*_: Any) -> None:
        switch.check("before_request")

    return hooked_http(before_request)


def hooked_http(before_request: Callable[..., Any]) -> Callable[[int], Any]:
    """The poller's own aiohttp session with `before_request(session, context, params)` called as each request
    starts (an aiohttp trace hook): what it raises, the request raises."""
    import aiohttp

    def factory(connections: int) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(before_request)
        trace.freeze()
        http = make_http_client(connections)
        http._trace_configs.append(trace)  # the session has no public way to add one after it is made
        return http

    return factory


@dataclass
class CapturedLogs:
    """Every line the function's logger wrote (Powertools JSON) and every library log record (DEBUG)."""

    app: list[str] = field(default_factory=list)
    library: list[str] = field(default_factory=list)

    def app_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.app]

    def messages(self, text: str) -> list[dict[str, Any]]:
        return [record for record in self.app_records() if text in str(record.get("message"))]

    def everything(self) -> str:
        return "\n".join(self.app + self.library)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str], formatter: logging.Formatter | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))
