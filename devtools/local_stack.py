"""The local stack behind `videohook local up`: everything on 127.0.0.1, no AWS and no Docker.

- moto in server mode, with JobsTable (from template.yaml), EventsTopic and the provider secrets;
- the simulated gateway, where any video id exists: the first request about it scripts a realistic
  timeline that ends after `sim_seconds` (completed, or failed when the id contains "fail");
- providers that call back (PUSHING: `replicate`, signed with Standard Webhooks, and `kling`, a token in the
  path): the simulated provider learns of a job of theirs once it is tracked (as the real API would, having
  created it) and POSTs that API's callbacks to `/v1/inbound/{provider}` as its timeline moves on; ids
  containing "lost" lose their final callback, which the backstop poll (BACKSTOP_S) then finds;
- ApiFunction's handler served over HTTP (devtools.api_server, which sends `POST /v1/inbound/...` to
  InboundFunction's handler) and PollerFunction's handler called in a loop, all in this process with the
  variables template.yaml declares for them (as `sam local` resolves them), pointed at this stack;
- the webhook side (devtools.local_webhooks): WebhookQueue subscribed to the topic, its dead-letter queue and
  signing secret, and WebhookFunction invoked for the queued events after each poller run (callbacks may be
  plain http to 127.0.0.1 here, the development flag);
- a state file with the endpoints, so the other `videohook` commands find the stack without flags, and the
  `--env-vars` content that points each function at this stack (`videohook local env`: only variables the
  template declares for that function, as `sam local invoke` accepts them).

It stops on Ctrl-C (exit 130), on SIGTERM from `videohook local down` (exit 0) or after `max_seconds` (exit 0),
and removes its state file. It is quiet: one status line for a poller run that changed something (and the
webhooks handed to WebhookFunction after it), nothing for the others; the functions' logs only with --verbose.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from videohook_cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError, Stopped
from videohook_cli.state import LocalState, read_state, remove_state, write_state

from devtools import sim_dialects
from devtools.api_server import ApiServer
from devtools.local_aws import LocalMoto, LocalStack, aws_env, client, deploy_local
from devtools.local_invoke import (
    LOCAL_REGION,
    LambdaContext,
    apply_env_overrides,
    function_names,
    function_spec,
    load_template,
)
from devtools.local_webhooks import LocalWebhooks, deploy_webhooks, pump
from devtools.sim_provider import SimProvider, standard_timeline

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SCHEDULE_EVENT = json.loads((ROOT / "events" / "poller-schedule.json").read_text())
# Local-only tokens of the simulated gateway (it checks them like a real one would).
TOKENS = {"hingnet": "local-hingnet-token", "skyengine": "local-skyengine-token"}
FAILING_MARK = "fail"
LOST_MARK = "lost"  # a pushing provider's job whose final callback never comes: the backstop poll finds it
# Providers that call back (each its own dialect): their local API key, and their inbound settings as
# PROVIDERS takes them (the callback secret stored in the local Secrets Manager by deploy_local).
BACKSTOP_S = 60  # the backstop poll of a pushing provider's jobs (PROVIDERS' default is 300 s)
PUSHING: dict[str, dict[str, Any]] = {
    "replicate": {
        "token": "local-replicate-token",
        "inbound": {
            "scheme": "standard-webhooks",
            "secret_value": "whsec_dmlkZW9ob29rLWxvY2FsLXJlcGxpY2F0ZS1rZXk=",  # local only
            "backstop_seconds": BACKSTOP_S,
        },
    },
    "kling": {
        "token": "AKlocal5e21c9a07f:SKlocal0b9d6e3f58a24c71b6e0f93d2a7c5b18",  # access key:secret key
        "inbound": {"scheme": "token", "secret_value": "local-kling-callback-token", "backstop_seconds": BACKSTOP_S},
    },
}
# Webhook retries compressed for a person watching (the template's schedule spans 27.6 h).
LOCAL_WEBHOOK_SCHEDULE = "0,2,5,10"
# Where ArchiveFunction copies videos when invoked by hand against this stack (`local up` itself does not archive).
ARCHIVE_BUCKET = "videohook-archive-local"


def auto_timeline(style: str, video_id: str, seconds: float) -> list[dict[str, Any]]:
    """Queued, four progress steps, then completed (or failed) `seconds` after the first request."""
    if FAILING_MARK in video_id.lower():
        steps = standard_timeline(style, "failed", steps=2, error={"code": "generation_failed", "message": "Simulated"})
    else:
        steps = standard_timeline(style, "completed", steps=4)
    return [{**step, "at": round(seconds * i / (len(steps) - 1), 3)} for i, step in enumerate(steps)]


def auto_dialect_timeline(video_id: str, seconds: float) -> list[dict[str, Any]]:
    """A pushing provider's job: queued, two running steps, then completed (failed for 'fail' ids)."""
    if FAILING_MARK in video_id.lower():
        steps = sim_dialects.timeline("failed", steps=1, error={"code": "generation_failed", "message": "Simulated"})
    else:
        steps = sim_dialects.timeline("completed", steps=2)
    return [{**step, "at": round(seconds * i / (len(steps) - 1), 3)} for i, step in enumerate(steps)]


class AutoSimProvider(SimProvider):
    """The simulated gateway where every video id of a known provider exists."""

    def __init__(self, tokens: dict[str, str], *, seconds: float, port: int = 0) -> None:
        super().__init__(
            {**tokens, **{name: spec["token"] for name, spec in PUSHING.items()}},
            port=port,
            dialects={name: name for name in PUSHING},
        )
        self._seconds = seconds
        self._scripted: set[tuple[str, str]] = set()
        self._script_lock = threading.Lock()

    def script_pushed(self, provider: str, video_id: str, inbound_url: str) -> bool:
        """A job of a pushing provider, tracked: it exists from now on and calls back to `inbound_url` (False
        when it was already scripted)."""
        with self._script_lock:
            if (provider, video_id) in self._scripted:
                return False
            self._scripted.add((provider, video_id))
        inbound = PUSHING[provider]["inbound"]
        push = {
            "url": inbound_url,
            "scheme": inbound["scheme"],
            "secret": inbound["secret_value"],
            "drop": ["completed", "failed"] if LOST_MARK in video_id.lower() else [],
        }
        timeline = auto_dialect_timeline(video_id, self._seconds)
        self.add_job(provider, video_id, provider, timeline, clock="seconds", push=push)
        return True

    def _handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Any:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if len(parts) >= 4 and parts[1:3] == ["v1", "videos"] and parts[0] in TOKENS:
            key = (parts[0], parts[3])
            with self._script_lock:
                new = key not in self._scripted
                self._scripted.add(key)
            if new:
                self.add_job(key[0], key[1], key[0], auto_timeline(key[0], key[1], self._seconds), clock="seconds")
        return super()._handle(method, path, query, headers, body)


def stack_values(stack: LocalStack, webhooks: LocalWebhooks) -> dict[str, str]:
    """What this stack sets in a function's environment, wherever the template declares the name."""
    return {
        "AWS_ENDPOINT_URL": stack.endpoint_url,  # boto3's own: every client goes to moto
        **stack.variables(),  # JOBS_TABLE, EVENTS_TOPIC_ARN, PROVIDERS (the simulated gateway, tokens in secrets)
        **webhooks.variables(),  # WEBHOOK_SECRET_ARN, WEBHOOK_QUEUE_URL, WEBHOOK_RETRY_SCHEDULE
        "ARCHIVE_BUCKET": ARCHIVE_BUCKET,
        "POLL_INTERVAL_SECONDS": "0",  # every job at every run: the loop sets the pace
        "ALLOW_LOOPBACK_CALLBACKS": "true",  # development: callbacks and video links on 127.0.0.1
    }


def env_vars_file(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` content: per function of template.yaml, the `values` it declares, nothing
    else (SAM ignores undeclared names; naming only declared ones says what each function really reads)."""
    template = load_template(TEMPLATE)
    sections = {}
    for name in function_names(template):
        declared = function_spec(template, name).environment
        sections[name] = {key: value for key, value in values.items() if key in declared}
    return sections


def function_variables(variables: dict[str, str], *, verbose: bool) -> dict[str, str]:
    """The declared variables of the functions this stack runs (the API and the poller in this process,
    WebhookFunction through the pump), from template.yaml, with this stack's values applied."""
    template = load_template(TEMPLATE)
    overrides = {"Parameters": {**variables, "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "WARNING"}}
    environment: dict[str, str] = {}
    for name in ("ApiFunction", "InboundFunction", "PollerFunction", "WebhookFunction"):
        environment.update(apply_env_overrides(function_spec(template, name), overrides))
    return environment


def load_handler(logical_id: str) -> tuple[Callable[[Any, Any], Any], int, int]:
    """The function's handler imported from its CodeUri (under a unique module name), its memory and timeout."""
    spec = function_spec(load_template(TEMPLATE), logical_id)
    module_name, _, attribute = spec.handler.rpartition(".")
    for layer in spec.layer_dirs:
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))
    loader_spec = importlib.util.spec_from_file_location(
        f"videohook_{logical_id}_{module_name}", spec.code_dir / f"{module_name}.py"
    )
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return getattr(module, attribute), spec.memory_size, spec.timeout


def serve(
    *,
    state_path: Path,
    api_port: int = 0,
    aws_port: int = 0,
    sim_port: int = 0,
    poll_every_s: float = 2.0,
    sim_seconds: float = 12.0,
    max_seconds: float = 0.0,
    verbose: bool = False,
) -> int:
    """Run the stack until Ctrl-C (130), SIGTERM (0, raised as `Stopped` by the CLI) or `max_seconds` (0)."""
    existing = read_state(state_path)
    if existing is not None and existing.running:
        raise CliError(
            f"a local stack is already running (pid {existing.pid}, API {existing.api_url}); "
            "stop it with `videohook local down`"
        )
    moto = LocalMoto(aws_port)
    sim = AutoSimProvider(TOKENS, seconds=sim_seconds, port=sim_port)
    api: ApiServer | None = None
    code = EXIT_OK
    try:
        moto.start()
        sim.start()
        os.environ.update(aws_env(moto.endpoint_url))
        stack = deploy_local(
            moto.endpoint_url,
            providers={
                **{name: (sim.base_url(name), token) for name, token in TOKENS.items()},
                **{name: (sim.base_url(name), spec["token"], name) for name, spec in PUSHING.items()},
            },
            template_path=TEMPLATE,
            inbound={name: spec["inbound"] for name, spec in PUSHING.items()},
        )
        webhooks = deploy_webhooks(
            moto.endpoint_url, stack.topic_arn, template_path=str(TEMPLATE), retry_schedule=LOCAL_WEBHOOK_SCHEDULE
        )
        client("s3", moto.endpoint_url).create_bucket(Bucket=ARCHIVE_BUCKET)
        values = stack_values(stack, webhooks)
        variables = function_variables(values, verbose=verbose)
        os.environ.update(variables)
        if not verbose:
            # EMF blobs on stdout are for CloudWatch (videohook.observability keeps Powertools quiet under this)
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        api = ApiServer(port=api_port).start()
        poller, memory_mb, timeout_s = load_handler("PollerFunction")
        state = LocalState(
            pid=os.getpid(),
            api_url=api.url,
            aws_endpoint_url=moto.endpoint_url,
            region=LOCAL_REGION,
            topic_arn=stack.topic_arn,
            table_name=stack.table_name,
            due_shards=int(os.environ.get("DUE_SHARDS", "16")),
            sim_url=sim.url,
            started_at=int(time.time()),
            webhook_secret_arn=webhooks.secret_arn,
            env_vars=env_vars_file(values),
        )
        write_state(state_path, state)
        _banner(state, state_path, sim_seconds)
        overrides = {"Parameters": variables}
        pushed = PushedJobs(sim, moto.endpoint_url, stack.table_name, api.url)

        def after_run() -> str:
            return "; ".join(part for part in (pushed.script(), _deliver(webhooks, overrides)) if part)

        _poll_loop(poller, memory_mb, timeout_s, poll_every_s, max_seconds, after_run, before_run=pushed.script)
    except Stopped:  # `videohook local down`: asked to stop, a clean end
        print("stopping the local stack", flush=True)
    except KeyboardInterrupt:  # Ctrl-C: 130, as the command's --help says
        print("\nstopping the local stack (interrupted)", flush=True)
        code = EXIT_INTERRUPTED
    finally:
        remove_state(state_path, os.getpid())
        if api is not None:
            api.stop()
        sim.stop()
        moto.stop()
    return code


class PushedJobs:
    """The jobs of pushing providers, handed to the simulated provider once tracked (read from the table: the
    API is ApiFunction's own handler, and a real provider knows its jobs from their creation)."""

    def __init__(self, sim: AutoSimProvider, endpoint_url: str, table_name: str, api_url: str) -> None:
        self._sim = sim
        self._table = client("dynamodb", endpoint_url)
        self._table_name = table_name
        self._api_url = api_url

    def script(self) -> str:
        """Script the newly tracked ones; what happened, for the run's status line ("" when nothing)."""
        names = {f":p{i}": {"S": name} for i, name in enumerate(PUSHING)}
        found = []
        paginator = self._table.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table_name,
            ProjectionExpression="provider, video_id",
            FilterExpression=f"provider IN ({', '.join(names)})",
            ExpressionAttributeValues=names,
        )
        for page in pages:
            for item in page.get("Items", []):
                provider, video_id = item["provider"]["S"], item["video_id"]["S"]
                if self._sim.script_pushed(provider, video_id, f"{self._api_url}/v1/inbound/{provider}"):
                    found.append(f"{provider}/{video_id}")
        return f"calls back: {', '.join(found)}" if found else ""


def _deliver(webhooks: LocalWebhooks, overrides: dict[str, Any]) -> str:
    """What Lambda's event source mapping does for WebhookFunction: hand it what is queued (if anything).
    Returns what happened, for the run's status line ("" when nothing was queued)."""
    result = pump(webhooks, env_overrides=overrides, wait_s=0)
    if result.result is not None and result.result.error is not None:
        return f"webhooks: WebhookFunction failed: {result.result.error.get('errorMessage')}"
    if result.received:
        return f"webhooks: {len(result.received)} handled, {len(result.failures)} to retry"
    return ""


def _banner(state: LocalState, state_path: Path, sim_seconds: float) -> None:
    print(
        f"videohook local stack (pid {state.pid}), everything on 127.0.0.1; Ctrl-C to stop\n"
        f"  API          {state.api_url}  (ApiFunction's handler, no auth)\n"
        f"  AWS (moto)   {state.aws_endpoint_url}  table {state.table_name}, topic {state.topic_arn}\n"
        f"  gateway      {state.sim_url}  providers {', '.join(TOKENS)}: any video id completes after "
        f"{sim_seconds:g}s, ids containing '{FAILING_MARK}' fail\n"
        f"  callbacks    {', '.join(PUSHING)} call back to {state.api_url}/v1/inbound/PROVIDER (InboundFunction); "
        f"ids containing '{LOST_MARK}' lose the final one, the backstop poll ({BACKSTOP_S}s) finds it; "
        "`videohook inbound-url PROVIDER`\n"
        "  webhooks     WebhookFunction for jobs with a callback_url (http://127.0.0.1 allowed here); "
        "signing secret: `videohook local secret`\n"
        f"  state file   {state_path}  (`videohook local env` prints the functions' --env-vars for this stack)\n"
        "try:\n"
        "  videohook events tail &\n"
        "  videohook track hingnet video_demo_1 && videohook watch hingnet video_demo_1",
        flush=True,
    )


def _poll_loop(
    poller: Callable[[Any, Any], Any],
    memory_mb: int,
    timeout_s: int,
    every_s: float,
    max_seconds: float,
    after_run: Callable[[], str],
    *,
    before_run: Callable[[], str] = lambda: "",
) -> None:
    """Run the poller every `every_s`, then `after_run` (the webhooks); at most one line per run: a status line
    when the run changed, published or failed something (or webhooks were handled), nothing otherwise."""
    started = time.monotonic()
    run = 0
    while not max_seconds or time.monotonic() - started < max_seconds:
        run += 1
        began = time.monotonic()
        context = LambdaContext("PollerFunction", memory_mb, timeout_s, "local")
        context.start_clock()
        parts: list[str] = []
        failed = False
        try:
            scripted = before_run()
        except Exception as exc:
            scripted = f"scripting the pushing jobs failed: {type(exc).__name__}: {exc}"
            failed = True
        if scripted:
            parts.append(scripted)
        try:
            report = poller(SCHEDULE_EVENT, context)
        except Exception as exc:  # keep serving; the next run may succeed
            parts.append(f"failed: {type(exc).__name__}: {exc}")
            failed = True
        else:
            if report.get("changed") or report.get("published") or report.get("errors"):
                parts.append(
                    f"polled {report['polled']}, changed {report['changed']}, completed {report['completed']}, "
                    f"failed {report['failed']}, published {report['published']}, errors {report['errors']}"
                )
        try:
            delivered = after_run()
        except Exception as exc:
            delivered = f"webhook delivery failed: {type(exc).__name__}: {exc}"
            failed = True
        if delivered:
            parts.append(delivered)
        if parts:
            line = f"[{time.strftime('%H:%M:%S')}] poller run {run}: " + "; ".join(parts)
            print(line.replace("\n", " "), file=sys.stderr if failed else sys.stdout, flush=True)
        time.sleep(max(0.0, every_s - (time.monotonic() - began)))
