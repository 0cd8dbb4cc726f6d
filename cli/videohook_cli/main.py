"""`videohook`: the command line. Parses, picks the command, turns every failure into one line and an exit code.

The commands' module (boto3, httpx) is imported only once the command line is parsed, inside the error
handling: a Ctrl-C at any point after start-up ends with `videohook: interrupted` and 130, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from videohook_cli.errors import EXIT_CODES_HELP, EXIT_ERROR, EXIT_INTERRUPTED, CliError, Stopped, UsageError
from videohook_cli.state import STATE_FILE_VARIABLE, default_state_path

DESCRIPTION = """Track AI video generation jobs with videohook and watch them end.

Talks to a deployed stack (--stack-name, found by its CloudFormation outputs; API calls SigV4-signed with
your AWS credentials) or to the local stack of `videohook local up` (found by its state file, or --local)."""

EXAMPLES = """examples:
  videohook local up                                  # moto + simulated gateway + API + poller on 127.0.0.1
  videohook track hingnet video_123 --meta order=42 --duration 6
  videohook watch hingnet video_123                   # progress bar until it ends
  videohook events tail --filter type=video.failed    # live events, Ctrl-C to stop
  videohook ls --pending --json | jq '.data[].id'
  videohook redeliver hingnet video_123               # send the final event to its callback_url again
  videohook inbound-url replicate                     # the URL to give a provider for its own callbacks
  videohook get skyengine video_456 --stack-name videohook --region eu-west-1"""

FILTER_NAMES = ("type", "provider", "status")
DEBUG_VARIABLE = "VIDEOHOOK_DEBUG"  # set: unexpected errors raise with their traceback


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (`videohook: error: ... (see `videohook track --help`)`) and
    exit 2, not a usage block; --help still prints the whole help."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _meta(value: str) -> tuple[str, str]:
    key, sep, item = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, item


def _filter(value: str) -> str:
    name, sep, item = value.partition("=")
    if not sep or name not in FILTER_NAMES or not item:
        raise argparse.ArgumentTypeError(f"takes type=..., provider=... or status=..., not {value!r}")
    return value


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0-65535), got {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value!r}")
    return number


def _json_option(parser: argparse.ArgumentParser, help: str = "machine-readable JSON on stdout") -> None:
    parser.add_argument("--json", action="store_true", help=help + "; errors as JSON on stderr")


def _stack_options() -> Parser:
    common = Parser(add_help=False)
    group = common.add_argument_group("stack")
    group.add_argument("--stack-name", metavar="NAME", help="a deployed videohook stack (CloudFormation)")
    group.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    group.add_argument("--profile", help="AWS profile to use")
    group.add_argument(
        "--local", action="store_true", help="the local stack of `videohook local up` (default when it runs)"
    )
    _state_option(group)
    _json_option(common)
    return common


def _state_option(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    group.add_argument(
        "--state-file",
        type=Path,
        default=default_state_path(),
        help=f"where the local stack records its endpoints (${STATE_FILE_VARIABLE}; default %(default)s)",
    )


def _run(name: str) -> Callable[[argparse.Namespace], int]:
    """The command `name` of videohook_cli.commands, imported when it runs (not when --help is printed)."""

    def run(args: argparse.Namespace) -> int:
        from videohook_cli import commands

        return int(getattr(commands, name)(args))

    run.__name__ = name
    return run


LOCAL_ENV_HELP = """Print the `--env-vars` JSON for the running local stack: per function of template.yaml, only the
variables the template declares for it, pointing at this stack (AWS_ENDPOINT_URL = moto, JOBS_TABLE, EVENTS_TOPIC_ARN,
PROVIDERS = the simulated gateway with its tokens in the local Secrets Manager, the webhook queue and signing
secret, ARCHIVE_BUCKET). Credentials are not variables a template may declare: give the function any, moto
accepts them (`sam local invoke` passes dummy ones by itself when you have none).

  videohook local env > env.json
  python -m devtools.local_invoke ApiFunction -e events/api-get-job.json --env-vars env.json   # no Docker

With Docker (after `make build`):
  videohook local env --docker > env.json
  sam local invoke ApiFunction -e events/api-get-job.json --env-vars env.json

--docker writes host.docker.internal where the stack says 127.0.0.1: inside a container 127.0.0.1 is the
container itself, and Docker Desktop resolves host.docker.internal to the host. On Linux (Docker Engine) the
stack's ports listen on the host's loopback only, which the default bridge network cannot reach: use the plain
file with `sam local invoke --docker-network host ...` (the container then shares the host's network)."""

SIGNING_HELP = """Print the local stack's webhook signing secret, ready for a receiver: `whsec_` + the secret
stored in the local Secrets Manager (WebhookSecret's value; the deployed stack's is in the WebhookSecretArn output).

Pass it as printed. The official `openai` SDK (client.webhooks.unwrap / verify_signature) verifies only with the
whsec_-prefixed form: it takes a secret without the prefix as raw key bytes, and every signature then fails.
The `standardwebhooks` library accepts it with or without the prefix."""


INBOUND_URL_HELP = """Print the inbound URL to give PROVIDER for its callbacks (docs/providers.md, "Callbacks"):
{ApiUrl}/v1/inbound/PROVIDER for a provider that signs its callbacks (standard-webhooks, openrouter, fal), and
{ApiUrl}/v1/inbound/PROVIDER/<token> for one that signs nothing (scheme token). The token is the credential of
those callbacks, so it is printed only with --show-token (read from the provider's inbound secret in Secrets
Manager); without it the URL has a <token> placeholder, and stderr names the secret that holds it.

The provider needs an `inbound` object in its PROVIDERS entry ({"scheme": ..., "secret": ...})."""


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog="videohook", description=DESCRIPTION, epilog=EXAMPLES + "\n\n" + EXIT_CODES_HELP, formatter_class=formatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stack = _stack_options()

    def command(
        name: str, help: str, *, stack_options: bool = True, description: str | None = None
    ) -> argparse.ArgumentParser:
        parents: list[Parser] = [stack] if stack_options else []
        cmd = sub.add_parser(
            name,
            help=help,
            description=description or help,
            formatter_class=formatter,
            epilog=EXIT_CODES_HELP,
            parents=parents,
        )
        cmd.set_defaults(run=_run(name))
        return cmd

    def job_command(name: str, help: str) -> argparse.ArgumentParser:
        cmd = command(name, help)
        cmd.add_argument("provider", metavar="PROVIDER", help="a configured provider, e.g. hingnet")
        cmd.add_argument("video_id", metavar="VIDEO_ID", help="the gateway's video id")
        return cmd

    track = job_command("track", "start tracking a video job (POST /v1/jobs)")
    track.add_argument("--callback", metavar="URL", help="https URL that receives the signed webhook")
    track.add_argument(
        "--progress-events", action="store_true", help="also announce video.progress events for this job (opt-in)"
    )
    track.add_argument(
        "--meta", metavar="KEY=VALUE", type=_meta, action="append", help="metadata pair (repeatable, up to 16)"
    )
    track.add_argument(
        "--duration", metavar="N", type=_positive_int, help="seconds of video (HingNet polls with ?duration=N)"
    )

    job_command("get", "show one job (GET /v1/jobs/PROVIDER/VIDEO_ID), its webhook deliveries included")
    job_command("stop", "stop tracking a job: no more polls, no event (DELETE)")
    job_command(
        "redeliver",
        "send a finished job's final event to its callback_url again (POST .../redeliver; exit 1 if it has no "
        "callback_url or has not finished)",
    )

    watch = job_command("watch", "show a progress bar until the video ends (exit 0 completed, 3 failed)")
    watch.add_argument(
        "--interval", type=_seconds, default=2.0, metavar="S", help="seconds between reads (default %(default)s)"
    )
    watch.add_argument(
        "--timeout", type=_seconds, default=0.0, metavar="S", help="give up after S seconds (exit 5; default: never)"
    )
    watch.epilog = (
        "With --json, each new state of the job is one JSON line; the last line is the final job.\n\n" + EXIT_CODES_HELP
    )

    inbound = command(
        "inbound-url",
        "print the URL to give a provider for its callbacks (POST {ApiUrl}/v1/inbound/PROVIDER)",
        description=INBOUND_URL_HELP,
    )
    inbound.set_defaults(run=_run("inbound_url"))
    inbound.add_argument("provider", metavar="PROVIDER", help="a configured provider with `inbound` in PROVIDERS")
    inbound.add_argument(
        "--show-token",
        action="store_true",
        help="scheme token: put the token itself in the URL (read from its secret; it is the credential)",
    )

    ls = command("ls", "list tracked jobs, newest first (reads the table; a Scan without --pending)")
    ls.add_argument("--pending", action="store_true", help="only jobs still polled or with an event not yet published")
    ls.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="at most N jobs (default %(default)s)")

    events = command("events", "the event stream of the stack's SNS topic", stack_options=False)
    events_sub = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    tail = events_sub.add_parser(
        "tail",
        parents=[stack],
        formatter_class=formatter,
        help="print events as they arrive",
        description="Print events as they arrive, through a temporary SQS queue subscribed to the topic; "
        "the queue and its subscription are removed on exit, Ctrl-C included.",
        epilog="With --json, each event is one JSON line (the message body, as subscribers receive it).\n\n"
        + EXIT_CODES_HELP,
    )
    tail.set_defaults(run=_run("events_tail"))
    tail.add_argument(
        "--filter",
        metavar="NAME=VALUE",
        type=_filter,
        action="append",
        help="type=, provider= or status= (repeatable; an SNS filter policy)",
    )
    tail.add_argument("--count", type=_positive_int, metavar="N", help="exit after N events")
    tail.add_argument(
        "--timeout",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="exit after S seconds (exit 5 if --count was not reached)",
    )

    local = command("local", "the local stack on 127.0.0.1 (needs the repository checkout)", stack_options=False)
    _local_commands(local.add_subparsers(dest="local_command", metavar="COMMAND", required=True))
    return parser


def _local_commands(local_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`videohook local up | down | env | secret`."""
    formatter = argparse.RawDescriptionHelpFormatter

    def local_command(name: str, help: str, description: str, run: str) -> argparse.ArgumentParser:
        cmd = local_sub.add_parser(
            name, formatter_class=formatter, help=help, description=description, epilog=EXIT_CODES_HELP
        )
        cmd.set_defaults(run=_run(run))
        _state_option(cmd)
        return cmd

    up = local_command(
        "up",
        "run moto, the simulated gateway, the API and the poller until Ctrl-C",
        "Run the whole stack on 127.0.0.1, no AWS and no Docker: moto in server mode with the "
        "table (from template.yaml), topic and secrets; the simulated gateway (providers hingnet and skyengine: "
        "any video id you track exists and completes after --sim-seconds; an id containing 'fail' fails); the "
        "API served through ApiFunction's own handler; PollerFunction's handler looping; and WebhookFunction for "
        "jobs with a callback (plain http to 127.0.0.1 allowed here). Writes the endpoints "
        "to --state-file so the other commands find the stack. Quiet: one line for a poller run that changed "
        "something, none for the others. Ctrl-C stops it (exit 130), so does `videohook local down` (exit 0). "
        "Runs from the repository checkout (it imports devtools/ and reads template.yaml and functions/ there).",
        "local_up",
    )
    up.add_argument("--api-port", type=_port, default=0, help="port of the API (default: any free port)")
    up.add_argument("--aws-port", type=_port, default=0, help="port of moto (default: any free port)")
    up.add_argument("--sim-port", type=_port, default=0, help="port of the simulated gateway (default: any free port)")
    up.add_argument(
        "--poll-every",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="seconds between poller runs (default %(default)s)",
    )
    up.add_argument(
        "--sim-seconds",
        type=_seconds,
        default=12.0,
        metavar="S",
        help="how long a simulated video takes (default %(default)s)",
    )
    up.add_argument(
        "--max-seconds",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="stop by itself after S seconds (default: on Ctrl-C only)",
    )
    up.add_argument("--verbose", action="store_true", help="the functions' own JSON logs and metrics too")
    down = "stop the local stack started by `local up`"
    local_command("down", down, down[0].upper() + down[1:] + ".", "local_down")
    env = local_command(
        "env", "print the --env-vars JSON that points each function at the local stack", LOCAL_ENV_HELP, "local_env"
    )
    env.add_argument(
        "--docker",
        action="store_true",
        help="host.docker.internal for 127.0.0.1, for `sam local invoke` in Docker (see above)",
    )
    secret = local_command("secret", "print the local webhook signing secret (whsec_...)", SIGNING_HELP, "local_secret")
    _json_option(secret, help='{"secret": "whsec_...", "secret_arn": ...} on stdout')


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary queues and local servers are cleaned up."""
    raise Stopped


def _report(error: CliError, as_json: bool) -> int:
    print(error.as_json() if as_json else error.as_text(), file=sys.stderr, flush=True)
    return error.code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args = build_parser().parse_args(arguments)
        as_json = bool(getattr(args, "json", False))
        return int(args.run(args))
    except CliError as exc:
        return _report(exc, as_json)
    except KeyboardInterrupt:
        return _report(CliError("interrupted", EXIT_INTERRUPTED), as_json)
    except BrokenPipeError:  # `videohook ls | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Exception as exc:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        message = f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_VARIABLE}=1 for the traceback)"
        return _report(CliError(" ".join(message.split()), EXIT_ERROR), as_json)
