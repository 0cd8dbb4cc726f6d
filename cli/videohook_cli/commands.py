"""The commands' work, each taking the parsed arguments and returning an exit code."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from videohook_cli import render
from videohook_cli.api import JobsApi
from videohook_cli.errors import EXIT_ERROR, EXIT_OK, EXIT_TIMEOUT, EXIT_VIDEO_FAILED, CliError
from videohook_cli.tail import TemporaryQueue, filter_policy
from videohook_cli.target import Target, local_target, resolve_target, running_local_state

TERMINAL = ("completed", "failed")


def target_of(args: argparse.Namespace) -> Target:
    return resolve_target(
        stack_name=args.stack_name,
        local=args.local,
        state_path=args.state_file,
        region=args.region,
        profile=args.profile,
    )


def _print_job(args: argparse.Namespace, job: dict[str, Any], note: str = "") -> None:
    if args.json:
        print(render.dumps(job))
    else:
        print((note + "\n" if note else "") + render.job_text(job))


def track(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"provider": args.provider, "video_id": args.video_id}
    if args.callback:
        body["callback_url"] = args.callback
    if args.meta:
        body["metadata"] = dict(args.meta)
    if args.duration is not None:
        body["duration"] = args.duration
    if args.progress_events:
        body["events"] = ["progress"]
    with JobsApi(target_of(args)) as api:
        job, created = api.track(body)
    _print_job(args, job, "tracking (new)" if created else "already tracked")
    return EXIT_OK


def get(args: argparse.Namespace) -> int:
    with JobsApi(target_of(args)) as api:
        _print_job(args, api.get(args.provider, args.video_id))
    return EXIT_OK


def stop(args: argparse.Namespace) -> int:
    with JobsApi(target_of(args)) as api:
        _print_job(args, api.stop(args.provider, args.video_id), "stopped: no longer polled, no event follows")
    return EXIT_OK


def redeliver(args: argparse.Namespace) -> int:
    with JobsApi(target_of(args)) as api:
        queued = api.redeliver(args.provider, args.video_id)
    if args.json:
        print(render.dumps(queued))
    else:
        print(
            f"queued {queued.get('type')} {queued.get('event_id')} for {queued.get('callback_url')}: WebhookFunction "
            f"signs and sends it again; `videohook get {args.provider} {args.video_id}` shows the delivery"
        )
    return EXIT_OK


def ls(args: argparse.Namespace) -> int:
    from videohook.adapters.job_store import DynamoJobStore  # the table's own item mapping

    target = target_of(args)
    store = DynamoJobStore(target.client("dynamodb"), target.table_name, due_shards=target.due_shards, retention_s=0)
    try:
        jobs = [job.to_public() for job in store.list_jobs(pending_only=args.pending, limit=args.limit)]
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read table {target.table_name}: {exc}") from None
    if args.json:
        print(render.dumps({"object": "list", "data": jobs}))
    elif jobs:
        print(render.jobs_table(jobs))
    else:
        print("no pending jobs" if args.pending else "no jobs")
    return EXIT_OK


def watch(args: argparse.Namespace) -> int:
    """Poll the job through the API until it ends; exit 0 completed, 3 failed, 5 --timeout."""
    deadline = time.monotonic() + args.timeout if args.timeout else None
    view = None if args.json else render.ProgressView(sys.stdout)
    last: dict[str, Any] | None = None
    with JobsApi(target_of(args)) as api:
        try:
            while True:
                job = api.get(args.provider, args.video_id)
                if args.json and job != last:
                    print(render.dumps(job), flush=True)
                if view is not None:
                    view.show(job)
                last = job
                if job.get("status") in TERMINAL:
                    return EXIT_OK if job["status"] == "completed" else EXIT_VIDEO_FAILED
                if not (job.get("tracking") or {}).get("active"):
                    raise CliError(f"{args.provider}/{args.video_id} was stopped before it ended ({job['status']})")
                if deadline is not None and time.monotonic() + args.interval > deadline:
                    raise CliError(f"still {job.get('status')} after {args.timeout:g}s", EXIT_TIMEOUT)
                time.sleep(args.interval)
        finally:
            if view is not None:
                view.close()


def events_tail(args: argparse.Namespace) -> int:
    """Print events as they arrive; --count and --timeout end it by itself, Ctrl-C at any time."""
    policy = filter_policy(args.filter or [])
    target = target_of(args)
    deadline = time.monotonic() + args.timeout if args.timeout else None
    seen = 0
    queue = TemporaryQueue(target, policy)
    with queue:
        print(f"listening on {target.topic_arn} through {queue.name} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        for event in queue.events(deadline=deadline):
            print(render.dumps(event) if args.json else render.event_line(event), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    if queue.leftovers:
        print(f"videohook: warning: could not remove {'; '.join(queue.leftovers)}", file=sys.stderr)
        return EXIT_ERROR
    if args.count and seen < args.count:
        raise CliError(f"{seen} of {args.count} events within {args.timeout:g}s", EXIT_TIMEOUT)
    return EXIT_OK


def local_up(args: argparse.Namespace) -> int:
    from videohook_cli.checkout import import_local_stack

    local_stack = import_local_stack()
    return int(
        local_stack.serve(
            state_path=args.state_file,
            api_port=args.api_port,
            aws_port=args.aws_port,
            sim_port=args.sim_port,
            poll_every_s=args.poll_every,
            sim_seconds=args.sim_seconds,
            max_seconds=args.max_seconds,
            verbose=args.verbose,
        )
    )


def local_down(args: argparse.Namespace) -> int:
    import os
    import signal

    from videohook_cli.state import read_state

    state = read_state(args.state_file)
    if state is None or not state.running:
        raise CliError(f"no local stack is running (state file {args.state_file})")
    os.kill(state.pid, signal.SIGTERM)
    for _ in range(100):  # up to 10 s for it to stop and remove its state file
        if not args.state_file.exists():
            print(f"stopped the local stack (pid {state.pid})")
            return EXIT_OK
        time.sleep(0.1)
    raise CliError(f"the local stack (pid {state.pid}) did not stop within 10 s")


# Inside a container, 127.0.0.1 is the container: Docker's name for the host instead (`local env --docker`).
_LOOPBACK_URL = re.compile(r"(?<=://)127\.0\.0\.1(?=[:/]|$)")
DOCKER_HOST = "host.docker.internal"
WHSEC_PREFIX_NOTE = (
    "videohook: note: give receivers this value as printed: the openai SDK verifies only with the whsec_ prefix "
    "(without it, it takes the secret as raw key bytes); standardwebhooks accepts either"
)


def local_env(args: argparse.Namespace) -> int:
    """The running local stack's `--env-vars` file (recorded by `local up`, from the template it runs)."""
    state = running_local_state(args.state_file)
    if not state.env_vars:
        raise CliError("the running local stack records no --env-vars (an older `local up`): restart it")
    sections = state.env_vars
    if args.docker:
        sections = {
            function: {name: _LOOPBACK_URL.sub(DOCKER_HOST, value) for name, value in variables.items()}
            for function, variables in sections.items()
        }
    print(json.dumps(sections, indent=2, sort_keys=True))
    return EXIT_OK


def local_secret(args: argparse.Namespace) -> int:
    """The local webhook signing secret, `whsec_`-prefixed, read from the local Secrets Manager."""
    state = running_local_state(args.state_file)
    if not state.webhook_secret_arn:
        raise CliError("the running local stack records no webhook secret (an older `local up`): restart it")
    secrets = local_target(args.state_file).client("secretsmanager")
    try:
        value = str(secrets.get_secret_value(SecretId=state.webhook_secret_arn)["SecretString"])
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the signing secret {state.webhook_secret_arn}: {exc}") from None
    secret = "whsec_" + value
    if args.json:
        print(render.dumps({"secret": secret, "secret_arn": state.webhook_secret_arn}))
    else:
        print(secret, flush=True)
        print(WHSEC_PREFIX_NOTE, file=sys.stderr)
    return EXIT_OK


def inbound_url(args: argparse.Namespace) -> int:
    """The URL a provider calls back (POST /v1/inbound/{provider}[/{token}]); the token only with --show-token."""
    from urllib.parse import quote

    target = target_of(args)
    provider, inbound = _inbound_settings(target, args.provider)
    scheme = str(inbound.get("scheme") or "")
    secret = str(inbound.get("secret") or "")
    url = f"{target.api_url}/v1/inbound/{quote(provider, safe='')}"
    token_shown = False
    if scheme == "token":
        if args.show_token:
            url += "/" + quote(_secret_value(target, secret), safe="")
            token_shown = True
        else:
            url += "/<token>"
    if args.json:
        answer = {"provider": provider, "url": url, "scheme": scheme, "secret": secret, "token_shown": token_shown}
        if inbound.get("keys_url"):
            answer["keys_url"] = inbound["keys_url"]
        print(render.dumps(answer))
        return EXIT_OK
    print(url, flush=True)
    print(_inbound_note(provider, scheme, secret, inbound, token_shown), file=sys.stderr)
    return EXIT_OK


def _inbound_settings(target: Target, provider: str) -> tuple[str, dict[str, Any]]:
    try:
        providers = json.loads(target.providers) if target.providers else None
    except ValueError:
        providers = None
    if not isinstance(providers, dict):
        raise CliError(f"cannot read the providers of stack {target.name} (its Providers parameter)")
    entry = providers.get(provider)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(providers)) or "none"
        raise CliError(f"provider {provider!r} is not configured in {target.name}'s PROVIDERS (configured: {known})")
    inbound = entry.get("inbound")
    if not isinstance(inbound, dict):
        raise CliError(
            f"provider {provider!r} takes no callbacks: add "
            f'"inbound": {{"scheme": ..., "secret": ...}} to PROVIDERS["{provider}"] '
            "(the Providers parameter; docs/providers.md, Callbacks)"
        )
    return provider, inbound


def _secret_value(target: Target, secret: str) -> str:
    if not secret:
        raise CliError("the provider's inbound entry names no secret holding its token")
    try:
        value = target.client("secretsmanager").get_secret_value(SecretId=secret).get("SecretString")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        raise CliError(f"cannot read the token from secret {secret!r}: {code}") from None
    except BotoCoreError as exc:
        raise CliError(f"cannot read the token from secret {secret!r}: {type(exc).__name__}") from None
    if not isinstance(value, str) or not value.strip():
        raise CliError(f"secret {secret!r} holds no token")
    return value.strip()


def _inbound_note(provider: str, scheme: str, secret: str, inbound: dict[str, Any], token_shown: bool) -> str:
    if scheme == "token":
        if token_shown:
            return f"{provider} signs nothing: the token in this URL is its callbacks' credential; keep it private"
        return (
            f"{provider} signs nothing: replace <token> with the value of secret {secret} "
            f"(or run `videohook inbound-url {provider} --show-token`)"
        )
    if scheme == "fal":
        keys = inbound.get("keys_url") or "fal's public keys (https://rest.fal.ai/.well-known/jwks.json)"
        return f"{provider}: callbacks verified with Ed25519 against {keys}"
    return f"{provider}: callbacks verified ({scheme}) with the signing secret in {secret}"
