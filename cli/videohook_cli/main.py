"""`videohook`: the command line. Parses, picks the command, turns failures into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from videohook_cli import commands
from videohook_cli.errors import EXIT_CODES_HELP, EXIT_INTERRUPTED, CliError
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
  videohook get skyengine video_456 --stack-name videohook --region eu-west-1"""


def _meta(value: str) -> tuple[str, str]:
    key, sep, item = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, item


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value!r}")
    return number


def _stack_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("stack")
    group.add_argument("--stack-name", metavar="NAME", help="a deployed videohook stack (CloudFormation)")
    group.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    group.add_argument("--profile", help="AWS profile to use")
    group.add_argument(
        "--local", action="store_true", help="the local stack of `videohook local up` (default when it runs)"
    )
    _state_option(group)
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    return common


def _state_option(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    group.add_argument(
        "--state-file",
        type=Path,
        default=default_state_path(),
        help=f"where the local stack records its endpoints (${STATE_FILE_VARIABLE}; default %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="videohook", description=DESCRIPTION, epilog=EXAMPLES + "\n\n" + EXIT_CODES_HELP, formatter_class=formatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stack = _stack_options()

    def command(
        name: str, run: Callable[[argparse.Namespace], int], help: str, *, stack_options: bool = True
    ) -> argparse.ArgumentParser:
        parents = [stack] if stack_options else []
        cmd = sub.add_parser(
            name, help=help, description=help, formatter_class=formatter, epilog=EXIT_CODES_HELP, parents=parents
        )
        cmd.set_defaults(run=run)
        return cmd

    def job_command(name: str, run: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        cmd = command(name, run, help)
        cmd.add_argument("provider", metavar="PROVIDER", help="a configured provider, e.g. hingnet")
        cmd.add_argument("video_id", metavar="VIDEO_ID", help="the gateway's video id")
        return cmd

    track = job_command("track", commands.track, "start tracking a video job (POST /v1/jobs)")
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

    job_command("get", commands.get, "show one job (GET /v1/jobs/PROVIDER/VIDEO_ID)")
    job_command("stop", commands.stop, "stop tracking a job: no more polls, no event (DELETE)")

    watch = job_command(
        "watch", commands.watch, "show a progress bar until the video ends (exit 0 completed, 3 failed)"
    )
    watch.add_argument(
        "--interval", type=_seconds, default=2.0, metavar="S", help="seconds between reads (default %(default)s)"
    )
    watch.add_argument(
        "--timeout", type=_seconds, default=0.0, metavar="S", help="give up after S seconds (exit 5; default: never)"
    )
    watch.epilog = (
        "With --json, each new state of the job is one JSON line; the last line is the final job.\n\n" + EXIT_CODES_HELP
    )

    ls = command(
        "ls",
        commands.ls,
        "list tracked jobs, newest first (reads the table; a Scan without --pending)",
    )
    ls.add_argument("--pending", action="store_true", help="only jobs still polled or with an event not yet published")
    ls.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="at most N jobs (default %(default)s)")

    events = command("events", _usage_of("events"), "the event stream of the stack's SNS topic", stack_options=False)
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
    tail.set_defaults(run=commands.events_tail)
    tail.add_argument(
        "--filter",
        metavar="NAME=VALUE",
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

    local = command(
        "local", _usage_of("local"), "the local stack on 127.0.0.1 (needs the repository checkout)", stack_options=False
    )
    local_sub = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    up = local_sub.add_parser(
        "up",
        formatter_class=formatter,
        help="run moto, the simulated gateway, the API and the poller until Ctrl-C",
        description="Run the whole stack on 127.0.0.1, no AWS and no Docker: moto in server mode with the "
        "table (from template.yaml), topic and secrets; the simulated gateway (providers hingnet and skyengine: "
        "any video id you track exists and completes after --sim-seconds; an id containing 'fail' fails); the "
        "API served through ApiFunction's own handler; PollerFunction's handler looping; and WebhookFunction for "
        "jobs with a callback (plain http to 127.0.0.1 allowed here). Writes the endpoints "
        "to --state-file so the other commands find the stack. Runs from the repository checkout (it imports "
        "devtools/ and reads template.yaml and functions/ there).",
        epilog=EXIT_CODES_HELP,
    )
    up.set_defaults(run=commands.local_up)
    up.add_argument("--api-port", type=int, default=0, help="port of the API (default: any free port)")
    up.add_argument("--aws-port", type=int, default=0, help="port of moto (default: any free port)")
    up.add_argument("--sim-port", type=int, default=0, help="port of the simulated gateway (default: any free port)")
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
    up.add_argument("--verbose", action="store_true", help="the functions' own JSON logs too")
    _state_option(up)
    down = local_sub.add_parser(
        "down",
        help="stop the local stack started by `local up`",
        description="Stop the local stack started by `local up`.",
    )
    down.set_defaults(run=commands.local_down)
    _state_option(down)
    return parser


def _usage_of(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:  # unreachable: the sub-command is required
        raise CliError(f"`videohook {name}` needs a command; see `videohook {name} --help`", 2)

    return run


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary queues and local servers are cleaned up."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.run(args))
    except CliError as exc:
        print(f"videohook: error: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("videohook: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `videohook ls | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
