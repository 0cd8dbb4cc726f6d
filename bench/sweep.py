"""Benchmark 1: sweep throughput. One poller sweep of N due jobs against moto and a simulated gateway.

Setup: moto server (its own process), the fast simulated gateway (its own process, `bench.upstream`)
answering after 200 ms +- 20 ms, one provider with max_concurrency 64: the limit that concurrency sets is
64 / 0.2 s = 320 polls/s. N due jobs (default 5,000) are written to the table; then a fresh process builds
the poller from the real adapters (as `videohook.runtime` does) and runs one sweep (SWEEP_SECONDS 0).
The gateway answers 15 % completed, 5 % failed, the rest in_progress (fixed per video id).

Measured in the poller's process: polls/s (polled / wall time of the whole run: due query, polls, writes,
publishes), CPU ms per poll, peak RSS, DynamoDB and SNS calls per job (botocore event hooks). Measured
outside: moto's and the gateway's CPU per poll (their own processes), to show what share of the machine
each took. Variants: the HTTP client (aiohttp's session, the poller's; aiohttp's pool behind httpx's API;
httpx's own httpcore pool). HTTP/1.1 against HTTP/2: the same probe over TLS against `bench.h2_upstream`
(hypercorn, which offers both through ALPN), httpx with and without `http2=True`.

Baseline, in the same run: what a user would write, a sequential loop with `httpx.Client`, one `get_item`
and one `put_item` per job, over the first `--baseline-jobs` jobs (a sequential loop's rate does not
depend on how many jobs follow).

Upstream probe: can the simulated gateways sustain the rate? 64 requests in flight against the threaded
stdlib `devtools.sim_provider` and against `bench.upstream`.

    python -m bench.sweep --jobs 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.report import load_average, publish, table
from bench.services import Service, start, start_gateway, start_moto

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-bench-7d1f0c2a"  # noqa: S105  (the simulated gateway's, on loopback)
PROVIDER = "hingnet"
LIMIT_CONCURRENCY = 64
# The simulated gateway answers 15 % completed and 5 % failed (bench.services.start_gateway): one job in 5
# finishes in a sweep, and the store's part of a sweep alone (`_child_store`) finishes the same share.
FINISH_EVERY = 5
# The template's default (DueShards 16). moto sorts the whole table for every index query (~45 ms at 5,000
# items here) and each shard costs a lease claim, release and renewals, so on moto the shard count is store
# work per sweep: 128 shards (this benchmark's setting before issue 15) cost 2.3 ms of moto CPU per job more
# at 5,000 jobs. The full run keeps one 128-shard row to show it (VARIANTS).
DUE_SHARDS = 16
TARGETS = {"ratio_to_limit": 0.8, "speedup_vs_baseline": 40.0, "peak_rss_mb": 200.0}


# --------------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------------


def bench_jobs(count: int, now: float, provider: str = PROVIDER) -> list[Any]:
    from videohook.domain.models import Job, VideoStatus

    return [
        Job(
            provider=provider,
            video_id=f"video_bench_{i:06d}",
            status=VideoStatus.IN_PROGRESS,
            progress=40,
            model="veo-3.1-fast-generate-preview",
            created_at=int(now) - 60,
            duration=6 if i % 2 else None,
            tracked_at=int(now) - 60,
            polls=3,
            last_polled_at=int(now) - 10,
            next_poll_at=now - 1,
            version=3,
        )
        for i in range(count)
    ]


def seed(
    stack: Any, count: int, *, due_shards: int = 16, dynamodb_url: str | None = None, provider: str = PROVIDER
) -> None:
    """Write `count` due jobs, 25 per BatchWriteItem, 8 in parallel (not measured)."""
    from videohook.adapters.job_store import DynamoJobStore

    from devtools.local_aws import client

    dynamodb = client("dynamodb", dynamodb_url or stack.endpoint_url)
    store = DynamoJobStore(dynamodb, stack.table_name, due_shards=due_shards, retention_s=86400)
    now = time.time()
    items = [store._to_item(job, now=now) for job in bench_jobs(count, now, provider)]

    def write(batch: list[dict[str, Any]]) -> None:
        request = {stack.table_name: [{"PutRequest": {"Item": item}} for item in batch]}
        for _ in range(20):
            answer = dynamodb.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                return
        raise RuntimeError("moto kept items unprocessed")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))


def deploy(moto: Service, gateway_url: str, concurrency: int) -> Any:
    from devtools.local_aws import deploy_local

    stack = deploy_local(
        moto.url,
        providers={PROVIDER: (f"{gateway_url}/{PROVIDER}", TOKEN)},
        template_path=ROOT / "template.yaml",
        suffix="-" + uuid.uuid4().hex[:8],
    )
    stack.providers[PROVIDER]["max_concurrency"] = concurrency
    return stack


# --------------------------------------------------------------------------------------------------
# the measured process
# --------------------------------------------------------------------------------------------------


def child_env(stack: Any, *, due_shards: int = DUE_SHARDS, **variables: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")]),
        "POWERTOOLS_SERVICE_NAME": "videohook",
        "POWERTOOLS_METRICS_NAMESPACE": "videohook",
        "POWERTOOLS_LOG_LEVEL": "INFO",  # as deployed: one log line per published event
        **stack.aws_env(),
        **stack.variables(),
        "POLL_INTERVAL_SECONDS": "10",
        "SWEEP_SECONDS": "0",
        "DUE_SHARDS": str(due_shards),
        **variables,
    }


def run_child(mode: str, env: dict[str, str], **spec: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        spec_path = Path(scratch, "spec.json")
        spec_path.write_text(json.dumps({"mode": mode, **spec}))
        done = subprocess.run(
            [sys.executable, "-m", "bench.sweep", "--child", str(spec_path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
    if done.returncode != 0:
        raise RuntimeError(f"bench child {mode} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class CallCounter:
    """Counts AWS API calls and sums their latency, through botocore's event hooks; and the read units the
    due index's queries cost, by DynamoDB's rules (moto reports none): a query page costs half a unit per 4 KB
    of the items it reads, at least half a unit; a keys-only one-item query (Limit 1) half a unit."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.read_units: defaultdict[str, float] = defaultdict(float)  # job reads (full items), probes (Limit 1)
        self.items_read: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.Query", self._query_params)
        client.meta.events.register("before-call.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    @staticmethod
    def _query_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_one_item"] = params.get("Limit") == 1

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _after(self, model: Any, context: dict[str, Any], parsed: dict[str, Any] | None = None, **_: Any) -> None:
        started = context.get("bench_started")
        if started is not None:
            self.seconds[f"{model.service_model.service_name}.{model.name}"] += time.perf_counter() - started
        if model.name == "Query" and parsed is not None and "Items" in parsed:
            items = parsed["Items"]
            if context.get("bench_one_item"):
                kind, units = "probes (Limit 1)", 0.5
            else:
                kind, units = "job reads", 0.5 * max(1, math.ceil(sum(map(item_bytes, items)) / 4096))
            self.read_units[kind] += units
            self.items_read[kind] += len(items)


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (numbers about a byte per two digits)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind in ("S", "B"):
        return len(data.encode()) if isinstance(data, str) else len(data)
    if kind == "N":
        return (len(data.strip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in data)
    return sum(len(str(v)) for v in data)  # sets


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _child_poller(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx
    from videohook.adapters.aws import client
    from videohook.adapters.coordination import DynamoRunCoordination
    from videohook.adapters.provider_client import fetch_video, make_http_client
    from videohook.adapters.publisher import SnsPublisher
    from videohook.adapters.secrets import SecretsManagerTokens
    from videohook.config import load_settings
    from videohook.runtime import job_store
    from videohook.services.poller import Poller

    def httpcore_client(max_connections: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        transport = httpx.AsyncHTTPTransport(limits=limits, retries=0)
        return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, connect=5.0))

    def httpcore_default_pool(max_connections: int) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(retries=0)  # httpx's default pool: 100 connections, 20 kept alive
        return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, connect=5.0))

    def httpx_over_aiohttp(max_connections: int) -> httpx.AsyncClient:
        from bench.httpx_aiohttp_transport import AiohttpPoolTransport

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        transport = AiohttpPoolTransport(limits=limits, retries=0)
        return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, connect=5.0))

    factories: dict[str, Callable[[int], Any]] = {
        "aiohttp": make_http_client,
        "httpx-aiohttp": httpx_over_aiohttp,
        "httpcore": httpcore_client,
        "httpcore-default-pool": httpcore_default_pool,
    }
    settings = load_settings()
    counter = CallCounter()
    for service in ("dynamodb", "sns", "secretsmanager"):
        counter.attach(client(service))
    poller = Poller(  # as videohook.runtime.poller() builds it, with the HTTP client under test
        settings,
        job_store(),
        SnsPublisher(client("sns"), settings.events_topic_arn),
        SecretsManagerTokens(),
        coordination=DynamoRunCoordination(client("dynamodb"), settings.jobs_table),
        http_factory=factories[spec["transport"]],
        fetch=fetch_video,
    )
    if spec["transport"] == "aiohttp":
        import aiohttp  # noqa: F401  (imported before the clock starts, like httpx)
    if spec["transport"] == "httpx-aiohttp":
        import bench.httpx_aiohttp_transport  # noqa: F401
    cpu_before, _ = _usage()
    started = time.perf_counter()
    report = poller.run(lambda: 900_000)
    wall = time.perf_counter() - started
    cpu_after, peak_rss_mb = _usage()
    return {
        "report": report.as_dict(),
        "wall_s": wall,
        "cpu_s": cpu_after - cpu_before,
        "peak_rss_mb": peak_rss_mb,
        "calls": dict(counter.calls),
        "call_seconds": dict(counter.seconds),
        "read_units": dict(counter.read_units),
        "items_read": dict(counter.items_read),
    }


def _child_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """The loop a user would write: one job after the other, read it, ask the gateway, write it back."""
    import boto3
    import httpx

    table_name = os.environ["JOBS_TABLE"]
    base_url = json.loads(os.environ["PROVIDERS"])[PROVIDER]["base_url"]
    dynamodb = boto3.session.Session().client("dynamodb")
    counter = CallCounter()
    counter.attach(dynamodb)
    cpu_before, _ = _usage()
    started = time.perf_counter()
    polled = 0
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for i in range(spec["jobs"]):
            key = {"pk": {"S": f"{PROVIDER}#video_bench_{i:06d}"}}
            item = dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True)["Item"]
            answer = http.get(f"{base_url}/v1/videos/{item['video_id']['S']}").json()
            item["status"] = {"S": str(answer["status"])}
            item["progress"] = {"N": str(answer.get("progress", 0))}
            item["polls"] = {"N": str(int(item["polls"]["N"]) + 1)}
            dynamodb.put_item(TableName=table_name, Item=item)
            polled += 1
    wall = time.perf_counter() - started
    cpu_after, peak_rss_mb = _usage()
    return {
        "polled": polled,
        "wall_s": wall,
        "cpu_s": cpu_after - cpu_before,
        "peak_rss_mb": peak_rss_mb,
        "calls": dict(counter.calls),
    }


def _http_client(
    kind: str, connections: int | None, keepalive: int | None, tls: ssl.SSLContext | None = None, http2: bool = False
) -> Any:
    if kind == "aiohttp-direct":
        from videohook.adapters.provider_client import make_http_client

        return make_http_client(connections or 100)
    import httpx

    from bench.httpx_aiohttp_transport import AiohttpPoolTransport

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=keepalive)
    if kind == "aiohttp":
        transport: Any = AiohttpPoolTransport(limits=limits, retries=0)
    else:
        verify: Any = tls or True
        transport = httpx.AsyncHTTPTransport(limits=limits, retries=0, http2=http2, verify=verify)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(10.0, connect=5.0))


def _child_probe(spec: dict[str, Any]) -> dict[str, Any]:
    """`requests` GETs with `concurrency` in flight through one HTTP client; rate and client CPU."""

    tls = ssl.create_default_context(cafile=spec["ca"]) if spec.get("ca") else None
    versions: Counter[str] = Counter()  # the protocol each answer came over, as the client saw it

    async def probe() -> float:
        gate = asyncio.Semaphore(spec["concurrency"])
        http2 = spec.get("http2", False)
        async with _http_client(spec["client"], spec["connections"], spec["keepalive"], tls, http2) as http:

            async def one(i: int) -> None:
                async with gate:
                    url = f"{spec['url']}/{PROVIDER}/v1/videos/video_probe_{i % spec['jobs']:06d}"
                    headers = {"Authorization": f"Bearer {TOKEN}"}
                    if spec["client"] == "aiohttp-direct":
                        async with http.get(url, headers=headers, ssl=tls or True) as answer:
                            await answer.read()
                            answer.raise_for_status()
                            versions[f"HTTP/{answer.version.major}.{answer.version.minor}"] += 1
                        return
                    async with http.stream("GET", url, headers=headers) as response:
                        await response.aread()
                        response.raise_for_status()
                        versions[response.http_version] += 1

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(spec["requests"])))
            return time.perf_counter() - started

    cpu_before, _ = _usage()
    wall = asyncio.run(probe())
    cpu_after, _ = _usage()
    return {"requests": spec["requests"], "wall_s": wall, "cpu_s": cpu_after - cpu_before, "versions": versions}


def _child_store(spec: dict[str, Any]) -> dict[str, Any]:
    """The store's part of a sweep alone, with no HTTP and no poller: the due query, one conditional write per
    job from 32 threads, and for one job in FINISH_EVERY (the share the gateway finishes, 20 %) the write
    records a pending event that a second write then clears, as publishing does. Whatever a sweep does besides,
    it asks at least this of the store, so this rate bounds every sweep on this store."""
    from videohook.domain.models import PendingEvent, VideoStatus
    from videohook.runtime import job_store
    from videohook.services.poller import STORE_THREADS

    store = job_store()
    cpu_before, _ = _usage()
    started = time.perf_counter()
    jobs = store.due_jobs(time.time())
    queried = time.perf_counter()
    now = time.time()

    def one(numbered: tuple[int, Any]) -> bool:
        index, job = numbered
        if index % FINISH_EVERY:
            return store.save(job.with_changes(polls=job.polls + 1), now=now) is not None
        event = PendingEvent(id=f"evt_{job.video_id}", type="video.completed", created_at=int(now))
        done = job.with_changes(status=VideoStatus.COMPLETED, active=False, pending_event=event, next_poll_at=now + 30)
        saved = store.save(done, now=now)
        return saved is not None and store.clear_pending(saved, now=now)

    with ThreadPoolExecutor(max_workers=STORE_THREADS) as pool:
        saved = list(pool.map(one, enumerate(jobs)))
    wall = time.perf_counter() - started
    cpu_after, _ = _usage()
    return {
        "due": len(jobs),
        "saved": sum(saved),
        "cleared": len(range(0, len(jobs), FINISH_EVERY)),
        "query_s": queried - started,
        "save_s": wall - (queried - started),
        "cpu_s": cpu_after - cpu_before,
    }


def _child_ceiling(spec: dict[str, Any]) -> dict[str, Any]:
    """The store's own ceiling: one conditional write per job and nothing else, from a plain boto3 client in
    `threads` threads. The items are the ones a sweep writes (the seeded jobs one poll on), built before the
    clock starts; each write is conditional on the seeded version, as the poller's are."""
    import boto3
    from botocore.config import Config
    from videohook.adapters.job_store import DynamoJobStore

    table_name = os.environ["JOBS_TABLE"]
    threads = spec["threads"]
    dynamodb = boto3.session.Session().client("dynamodb", config=Config(max_pool_connections=threads))
    store = DynamoJobStore(dynamodb, table_name, due_shards=DUE_SHARDS, retention_s=86400)  # builds the items
    now = time.time()
    jobs = bench_jobs(spec["jobs"], now)
    items = [store._to_item(job.with_changes(version=job.version + 1, polls=job.polls + 1), now=now) for job in jobs]
    condition = {":version": {"N": str(jobs[0].version)}}

    def write(item: dict[str, Any]) -> None:
        dynamodb.put_item(
            TableName=table_name,
            Item=item,
            ConditionExpression="version = :version",
            ExpressionAttributeValues=condition,
        )

    cpu_before, _ = _usage()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, items))
    wall = time.perf_counter() - started
    cpu_after, _ = _usage()
    return {"writes": len(items), "wall_s": wall, "cpu_s": cpu_after - cpu_before}


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    modes = {
        "poller": _child_poller,
        "baseline": _child_baseline,
        "probe": _child_probe,
        "store": _child_store,
        "ceiling": _child_ceiling,
    }
    print(json.dumps(modes[spec["mode"]](spec)))
    return 0


# --------------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------------


class Stores:
    """Where the poller's DynamoDB calls go: moto, or the stand-in that costs next to no CPU."""

    def __init__(self, moto: Service, standin: Service | None) -> None:
        self.moto = moto
        self.standin = standin

    def dynamodb_url(self, store: str) -> str:
        if store == "moto":
            return self.moto.url
        assert self.standin is not None
        return self.standin.url

    def server(self, store: str) -> Service:
        return self.moto if store == "moto" else self.standin  # type: ignore[return-value]

    def env(self, stack: Any, store: str, due_shards: int = DUE_SHARDS) -> dict[str, str]:
        extra = {} if store == "moto" else {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url(store)}
        return child_env(stack, due_shards=due_shards, **extra)


def measure_sweep(
    stores: Stores,
    gateway: Service,
    variant: tuple[str, str, int],
    jobs: int,
    concurrency: int,
) -> dict[str, Any]:
    store, transport, due_shards = variant
    stack = deploy(stores.moto, gateway.url, concurrency)
    seed(stack, jobs, due_shards=due_shards, dynamodb_url=stores.dynamodb_url(store))
    _gateway_stats(gateway, reset=True)
    servers = {"moto": stores.moto, "gateway": gateway}
    if store != "moto":
        servers["dynamodb stand-in"] = stores.server(store)
    cpu = {name: server.cpu_s() for name, server in servers.items()}
    child = run_child("poller", stores.env(stack, store, due_shards), transport=transport)
    cpu = {name: server.cpu_s() - cpu[name] for name, server in servers.items()}
    stats = _gateway_stats(gateway)
    report = child["report"]
    polled = report["polled"]
    limit = concurrency / 0.2
    calls = child["calls"]
    total_cpu = child["cpu_s"] + sum(cpu.values())
    return {
        "store": store,
        "transport": transport,
        "due_shards": due_shards,
        "jobs": jobs,
        "polled": polled,
        "upstream_requests": stats["requests"],
        "max_requests_per_job": stats["max_per_job"],
        "peak_in_flight": stats["peak_in_flight"],
        "wall_s": round(child["wall_s"], 2),
        "polls_per_s": round(polled / child["wall_s"], 1),
        "limit_polls_per_s": limit,
        "ratio_to_limit": round(polled / child["wall_s"] / limit, 3),
        "poller_cpu_ms_per_poll": round(1000 * child["cpu_s"] / max(1, polled), 3),
        "server_cpu_ms_per_poll": {name: round(1000 * value / max(1, polled), 3) for name, value in cpu.items()},
        "cpu_share": {name: round(value / total_cpu, 3) for name, value in {"poller": child["cpu_s"], **cpu}.items()},
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "dynamodb_calls_per_job": round(_calls(calls, "dynamodb.") / jobs, 3),
        "sns_calls_per_job": round(_calls(calls, "sns.") / jobs, 3),
        "calls": calls,
        "store_calls_per_job": {
            name.split(".", 1)[1]: round(count / jobs, 3)
            for name, count in sorted(calls.items())
            if name.startswith("dynamodb.")
        },
        "due_index_read_units": child["read_units"],
        "due_index_read_units_per_sweep": round(sum(child["read_units"].values()) / max(1, report["sweeps"]), 1),
        "due_index_items_read": child["items_read"],
        "mean_call_ms": {name: round(1000 * s / calls[name], 2) for name, s in child["call_seconds"].items()},
        "report": report,
    }


def _calls(calls: dict[str, int], prefix: str) -> int:
    return sum(count for name, count in calls.items() if name.startswith(prefix))


def measure_store(stores: Stores, gateway: Service, jobs: int) -> dict[str, Any]:
    """moto alone doing a sweep's store work (`_child_store`): the most jobs a sweep could finish per second on
    moto if everything else cost nothing."""
    stack = deploy(stores.moto, gateway.url, 1)
    seed(stack, jobs, due_shards=DUE_SHARDS)
    moto_cpu = stores.moto.cpu_s()
    child = run_child("store", child_env(stack))
    moto_cpu = stores.moto.cpu_s() - moto_cpu
    ceiling = child["due"] / (child["query_s"] + child["save_s"])
    return {
        "ceiling_jobs_per_s": round(ceiling, 1),
        "ceiling_ratio_to_limit": round(ceiling / (LIMIT_CONCURRENCY / 0.2), 3),
        "jobs": child["due"],
        "saved": child["saved"],
        "cleared": child["cleared"],
        "due_query_s": round(child["query_s"], 2),
        "saves_per_s": round(child["due"] / child["save_s"], 1),
        "client_cpu_ms_per_job": round(1000 * child["cpu_s"] / child["due"], 3),
        "moto_cpu_ms_per_job": round(1000 * moto_cpu / child["due"], 3),
    }


CEILING_THREADS = 32


def measure_ceiling(stores: Stores, gateway: Service, jobs: int, threads: int = CEILING_THREADS) -> dict[str, Any]:
    """The store's own ceiling on this machine, in the same run as the sweep and on the same moto server: as
    many conditional writes per second as a plain threaded boto3 client gets, with nothing else running."""
    stack = deploy(stores.moto, gateway.url, 1)
    seed(stack, jobs, due_shards=DUE_SHARDS)
    moto_cpu = stores.moto.cpu_s()
    child = run_child("ceiling", child_env(stack), jobs=jobs, threads=threads)
    moto_cpu = stores.moto.cpu_s() - moto_cpu
    return {
        "writes": child["writes"],
        "threads": threads,
        "wall_s": round(child["wall_s"], 2),
        "writes_per_s": round(child["writes"] / child["wall_s"], 1),
        "client_cpu_ms_per_write": round(1000 * child["cpu_s"] / child["writes"], 3),
        "moto_cpu_ms_per_write": round(1000 * moto_cpu / child["writes"], 3),
    }


def measure_baseline(stores: Stores, gateway: Service, store: str, jobs: int) -> dict[str, Any]:
    stack = deploy(stores.moto, gateway.url, 1)
    seed(stack, jobs, dynamodb_url=stores.dynamodb_url(store))
    child = run_child("baseline", stores.env(stack, store), jobs=jobs)
    return {
        "store": store,
        "jobs": jobs,
        "wall_s": round(child["wall_s"], 2),
        "polls_per_s": round(child["polled"] / child["wall_s"], 2),
        "cpu_ms_per_poll": round(1000 * child["cpu_s"] / child["polled"], 3),
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "dynamodb_calls_per_job": round(sum(child["calls"].values()) / child["polled"], 3),
    }


# (client, max_connections, max_keepalive_connections): httpx's default pool is 100 / 20.
HTTP_CLIENTS = [
    ("aiohttp-direct", 64, 64),
    ("aiohttp", 64, 64),
    ("httpcore", 64, 64),
    ("httpcore", 128, 128),
    ("httpcore", 100, 20),
    ("httpcore", None, None),
]


TRANSPORT_NAMES = {
    "aiohttp-direct": "aiohttp (the poller's)",
    "aiohttp": "httpx + aiohttp pool",
    "httpcore": "httpx + httpcore pool",
}


def measure_http_clients(
    gateway: Service, clients: list[tuple[str, int | None, int | None]], requests: int, concurrency: int
) -> list[dict[str, Any]]:
    """The HTTP client alone, 64 requests in flight: which transport and pool settings cost what."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])}
    rows = []
    for client, connections, keepalive in clients:
        spec = {"url": gateway.url, "requests": requests, "concurrency": concurrency, "jobs": 500}
        child = run_child("probe", env, client=client, connections=connections, keepalive=keepalive, **spec)
        rows.append(
            {
                "transport": TRANSPORT_NAMES[client],
                "pool": f"{connections or 'unlimited'} / {keepalive or 'unlimited'} keep-alive",
                "requests": requests,
                "rate": round(requests / child["wall_s"], 1),
                "cpu_ms_per_request": round(1000 * child["cpu_s"] / requests, 3),
            }
        )
    return rows


# Over TLS against bench.h2_upstream (hypercorn): (label, client, connections, keep-alive, HTTP/2 offered).
TLS_CLIENTS = [
    ("aiohttp (the poller's), HTTP/1.1", "aiohttp-direct", 64, 64, False),
    ("httpx + httpcore, HTTP/1.1, httpx's default pool", "httpcore", 100, 20, False),
    ("httpx + httpcore, HTTP/2, httpx's default pool", "httpcore", 100, 20, True),
    ("httpx + httpcore, HTTP/2, 64 / 64", "httpcore", 64, 64, True),
]


def measure_http2(requests: int, concurrency: int, delay: float) -> list[dict[str, Any]]:
    """HTTP/1.1 against HTTP/2: the same server (hypercorn, TLS with ALPN), 64 in flight, client CPU per request.

    HTTP/2 needs TLS here (clients offer it through ALPN), so every row is over TLS and the rows compare with
    each other, not with the cleartext table above. aiohttp has no HTTP/2 client.
    """
    from devtools.tls_certs import make_tls_files

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-h2-") as scratch:
        files = make_tls_files(Path(scratch))
        server = start(
            "bench.h2_upstream", f"--cert={files.server_cert}", f"--key={files.server_key}", f"--delay={delay}"
        )
        try:
            for label, client, connections, keepalive, http2 in TLS_CLIENTS:
                cpu = server.cpu_s()
                spec = {"url": server.url, "requests": requests, "concurrency": concurrency, "jobs": 500}
                child = run_child(
                    "probe",
                    env,
                    client=client,
                    connections=connections,
                    keepalive=keepalive,
                    ca=str(files.ca_cert),
                    http2=http2,
                    **spec,
                )
                rows.append(
                    {
                        "transport": label,
                        "protocols_seen": child["versions"],
                        "requests": requests,
                        "rate": round(requests / child["wall_s"], 1),
                        "cpu_ms_per_request": round(1000 * child["cpu_s"] / requests, 3),
                        "server_cpu_ms_per_request": round(1000 * (server.cpu_s() - cpu) / requests, 3),
                    }
                )
        finally:
            server.stop()
    return rows


def measure_upstreams(requests: int, concurrency: int, delay: float) -> list[dict[str, Any]]:
    """The achieved rate and server CPU per request of each simulated gateway at `concurrency` in flight."""
    rows = []
    jobs = min(requests, 500)
    servers = {
        "bench.upstream (asyncio, keep-alive)": lambda: start_gateway({PROVIDER: TOKEN}, delay=delay, jitter=0),
        "devtools.sim_provider (threaded stdlib)": lambda: start(
            "bench.services", "sim", f"--jobs={jobs}", f"--delay={delay}", f"--token={PROVIDER}={TOKEN}"
        ),
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])}
    for name, begin in servers.items():
        server = begin()
        try:
            cpu = server.cpu_s()
            spec = {"url": server.url, "requests": requests, "concurrency": concurrency, "jobs": jobs}
            child = run_child("probe", env, client="aiohttp", connections=concurrency, keepalive=concurrency, **spec)
            cpu = server.cpu_s() - cpu
        finally:
            server.stop()
        rows.append(
            {
                "server": name,
                "requests": requests,
                "rate": round(requests / child["wall_s"], 1),
                "limit": round(concurrency / delay, 1),
                "server_cpu_ms_per_request": round(1000 * cpu / requests, 3),
            }
        )
    return rows


def _gateway_stats(gateway: Service, reset: bool = False) -> dict[str, Any]:
    import urllib.request

    url = f"{gateway.url}/_bench/{'reset' if reset else 'stats'}"
    request = urllib.request.Request(url, method="POST" if reset else "GET")  # noqa: S310  (loopback http)
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


# (store, transport) pairs measured: the store on moto first; httpcore only against the stand-in, where the
# transport, not moto, decides the rate: with the pool the poller gave it before (64 connections, all kept
# alive) and with httpx's default pool (100 connections, 20 kept alive), which costs less CPU at 64 in flight.
VARIANTS = [
    ("moto", "aiohttp", DUE_SHARDS),
    ("moto", "aiohttp", 128),
    ("stand-in", "aiohttp", DUE_SHARDS),
    ("stand-in", "httpx-aiohttp", DUE_SHARDS),
    ("stand-in", "httpcore", DUE_SHARDS),
    ("stand-in", "httpcore-default-pool", DUE_SHARDS),
]
SMOKE_VARIANTS = [("moto", "aiohttp", DUE_SHARDS), ("stand-in", "aiohttp", DUE_SHARDS)]


def run(
    jobs: int,
    *,
    concurrency: int = LIMIT_CONCURRENCY,
    baseline_jobs: int = 50,
    probe_requests: int = 1000,
    variants: list[tuple[str, str, int]] | None = None,
    http_clients: list[tuple[str, int | None, int | None]] | None = None,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    started_load = load_average()
    variants = variants or VARIANTS
    moto = start_moto()
    gateway = start_gateway({PROVIDER: TOKEN}, delay=0.2, jitter=0.02)
    standin = start("bench.dynamo_standin", "--latency=0.005")
    stores = Stores(moto, standin)
    try:
        clients = http_clients or HTTP_CLIENTS
        measured_clients = measure_http_clients(gateway, clients, probe_requests, concurrency) if probe_requests else []
        # The store's ceiling and the store's part of a sweep alone, then the sweeps, then the ceiling again.
        ceilings = [measure_ceiling(stores, gateway, jobs)]
        store_path = measure_store(stores, gateway, jobs)
        sweeps = [measure_sweep(stores, gateway, variant, jobs, concurrency) for variant in variants]
        ceilings.append(measure_ceiling(stores, gateway, jobs))
        baselines = {
            store: measure_baseline(stores, gateway, store, baseline_jobs) for store in {v[0] for v in variants}
        }
    finally:
        standin.stop()
        gateway.stop()
        moto.stop()
    upstreams = measure_upstreams(probe_requests, concurrency, 0.2) if probe_requests else []
    http2 = measure_http2(probe_requests, concurrency, 0.2) if probe_requests else []
    for sweep in sweeps:
        sweep["speedup_vs_baseline"] = round(sweep["polls_per_s"] / baselines[sweep["store"]]["polls_per_s"], 1)
    result = {
        **against_ceiling(sweeps, ceilings, store_path),
        "targets": TARGETS,
        "concurrency": concurrency,
        "sweeps": sweeps,
        "baselines": list(baselines.values()),
        "store_path_moto": store_path,
        "http_clients": measured_clients,
        "http2": http2,
        "upstreams": upstreams,
    }
    reproduce = f"python -m bench.sweep --jobs {jobs}"
    publish("sweep", result, render(result), reproduce=reproduce, out_dir=out_dir, started_load=started_load)
    return result


def against_ceiling(
    sweeps: list[dict[str, Any]], ceilings: list[dict[str, Any]], store_path: dict[str, Any]
) -> dict[str, Any]:
    """The headline keys: the moto sweep (aiohttp, default shards) against the store's own ceiling measured
    just before and just after it on the same moto server (their mean); the bound the store's part of a sweep
    sets (`measure_store`: the due read, one write per job, the clears) against the same ceiling; and the
    poller's CPU per poll in its own process (the stand-in row: the store's CPU is another process's either
    way, and there nothing else slows the poller)."""
    moto = next(
        s for s in sweeps if s["store"] == "moto" and s["transport"] == "aiohttp" and s["due_shards"] == DUE_SHARDS
    )
    own = next((s for s in sweeps if s["store"] == "stand-in" and s["transport"] == "aiohttp"), moto)
    ceiling = sum(c["writes_per_s"] for c in ceilings) / len(ceilings)
    return {
        "store_ceiling_writes_per_s": round(ceiling, 1),
        "store_ceilings": ceilings,
        "sweep_polls_per_s": moto["polls_per_s"],
        "ratio_to_ceiling": round(moto["polls_per_s"] / ceiling, 3),
        "target_ratio_to_ceiling": 0.8,
        "store_work_jobs_per_s": store_path["ceiling_jobs_per_s"],
        "store_work_ratio_to_ceiling": round(store_path["ceiling_jobs_per_s"] / ceiling, 3),
        "ratio_to_store_work": round(moto["polls_per_s"] / store_path["ceiling_jobs_per_s"], 3),
        "concurrency_limit_polls_per_s": moto["limit_polls_per_s"],
        "store_calls_per_job": moto["store_calls_per_job"],
        "due_index_read_units_per_sweep": moto["due_index_read_units_per_sweep"],
        "cpu_ms_per_poll": own["poller_cpu_ms_per_poll"],
        "cpu_ms_per_poll_source": f"poller process, DynamoDB: {own['store']}, {own['jobs']} jobs",
        "cpu_ms_per_poll_moto": moto["poller_cpu_ms_per_poll"],
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for sweep in result["sweeps"]:
        rows.append(
            [
                f"videohook, {sweep['transport']}, DynamoDB: {sweep['store']}, {sweep['due_shards']} shards",
                sweep["polled"],
                sweep["polls_per_s"],
                f"{sweep['ratio_to_limit']:.2f}",
                f"{sweep['speedup_vs_baseline']:.0f}x",
                sweep["poller_cpu_ms_per_poll"],
                f"{sweep['peak_rss_mb']:.0f}",
                sweep["dynamodb_calls_per_job"],
                sweep["sns_calls_per_job"],
            ]
        )
    for baseline in result["baselines"]:
        rows.append(
            [
                f"baseline (sequential httpx.Client, get_item + put_item), DynamoDB: {baseline['store']}",
                baseline["jobs"],
                baseline["polls_per_s"],
                f"{baseline['polls_per_s'] / 320:.3f}",
                "1x",
                baseline["cpu_ms_per_poll"],
                f"{baseline['peak_rss_mb']:.0f}",
                baseline["dynamodb_calls_per_job"],
                0,
            ]
        )
    headers = ["run", "jobs", "polls/s", "of 320/s", "vs baseline", "CPU ms/poll", "peak RSS MB"]
    text = table([*headers, "DynamoDB calls/job", "SNS calls/job"], rows)
    text += "\n\ntargets: >= 0.8 of the 320/s limit, >= 40x the baseline, peak RSS <= 200 MB."
    shares = [
        [
            f"{s['transport']}, {s['store']}, {s['due_shards']} shards",
            s["poller_cpu_ms_per_poll"],
            ", ".join(f"{name} {ms}" for name, ms in s["server_cpu_ms_per_poll"].items()),
            ", ".join(f"{name} {100 * share:.0f} %" for name, share in s["cpu_share"].items()),
            ", ".join(f"{k.split('.')[1]} {v}" for k, v in s["mean_call_ms"].items() if k.startswith("dynamodb")),
        ]
        for s in result["sweeps"]
    ]
    text += "\n\nWhere the CPU went, per poll (ms), and DynamoDB call latency seen by the poller (ms):\n\n"
    text += table(["run", "poller", "servers", "share of all CPU", "mean DynamoDB call"], shares)
    text += (
        f"\n\nAgainst the store's own ceiling (one conditional write per job, nothing else, a plain boto3 client in "
        f"{CEILING_THREADS} threads, the same moto server, just before and after the sweeps): ceiling "
        f"{result['store_ceiling_writes_per_s']} writes/s ("
        + ", ".join(str(c["writes_per_s"]) for c in result["store_ceilings"])
        + f"); the moto sweep {result['sweep_polls_per_s']} polls/s = {result['ratio_to_ceiling']} of it (target "
        f"{result['target_ratio_to_ceiling']}; concurrency limit {result['concurrency_limit_polls_per_s']:g}/s). "
        f"Poller CPU per poll {result['cpu_ms_per_poll']} ms ({result['cpu_ms_per_poll_source']}; "
        f"{result['cpu_ms_per_poll_moto']} ms on moto). Due index read units per sweep: "
        f"{result['due_index_read_units_per_sweep']}.\n\n"
    )
    text += table(
        ["run", "store calls per job, by operation", "due index read units (items read)"],
        [
            [
                f"{s['transport']}, {s['store']}, {s['due_shards']} shards",
                ", ".join(f"{name} {n}" for name, n in s["store_calls_per_job"].items()),
                ", ".join(
                    f"{kind} {units} ({s['due_index_items_read'].get(kind, 0)})"
                    for kind, units in s["due_index_read_units"].items()
                ),
            ]
            for s in result["sweeps"]
        ],
    )
    store = result["store_path_moto"]
    text += (
        f"\n\nThe store's part of a sweep alone on moto ({store['jobs']} jobs, no HTTP, no poller): the due query "
        f"({store['due_query_s']} s), one conditional write per job from 32 threads, and {store['cleared']} "
        f"pending events recorded and cleared (the 20 % that finish); per job: moto {store['moto_cpu_ms_per_job']} "
        f"ms CPU, boto3 client {store['client_cpu_ms_per_job']} ms. {store['ceiling_jobs_per_s']} jobs/s = "
        f"{result['store_work_ratio_to_ceiling']} of the write-only ceiling: no sweep on this store can pass that. "
        f"The sweep reached {result['ratio_to_store_work']} of it."
    )
    if result["http_clients"]:
        text += "\n\nThe HTTP client alone, 64 requests in flight, 200 ms answers, cleartext HTTP/1.1:\n\n"
        text += table(
            ["transport", "pool (connections / keep-alive)", "requests", "req/s", "client CPU ms/req"],
            [
                [c["transport"], c["pool"], c["requests"], c["rate"], c["cpu_ms_per_request"]]
                for c in result["http_clients"]
            ],
        )
    if result.get("http2"):
        text += "\n\nHTTP/1.1 against HTTP/2: the same client load over TLS to one server (hypercorn, ALPN):\n\n"
        text += table(
            ["client", "protocol seen", "requests", "req/s", "client CPU ms/req", "server CPU ms/req"],
            [
                [
                    c["transport"],
                    ", ".join(f"{v} x{n}" for v, n in c["protocols_seen"].items()),
                    c["requests"],
                    c["rate"],
                    c["cpu_ms_per_request"],
                    c["server_cpu_ms_per_request"],
                ]
                for c in result["http2"]
            ],
        )
    if result["upstreams"]:
        text += "\n\nCan the simulated gateway keep up? (64 in flight, 200 ms answers):\n\n"
        text += table(
            ["server", "requests", "req/s", "limit", "server CPU ms/req"],
            [
                [u["server"], u["requests"], u["rate"], u["limit"], u["server_cpu_ms_per_request"]]
                for u in result["upstreams"]
            ],
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sweep throughput against moto and a simulated gateway.")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--baseline-jobs", type=int, default=50)
    parser.add_argument("--probe-requests", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    run(args.jobs, baseline_jobs=args.baseline_jobs, probe_requests=args.probe_requests, out_dir=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
