"""One Lambda invoke on AWS's own runtime pieces, without Docker.

The Lambda Runtime Interface Emulator (``aws-lambda-rie``, the binary the SAM CLI package ships and runs
inside its containers) serves the Runtime API and the Invoke API; ``awslambdaric``, the runtime interface
client of the official Python images, is the runtime it starts: it imports the handler, asks the emulator
for the event, calls the handler and posts the result or the error. Both listen on 127.0.0.1 only, on free
ports picked for each invoke, and both are stopped at the end of it (every invoke is a cold start).

The function sees what Lambda lays out: its code directory as the task root (``LAMBDA_TASK_ROOT``, the
working directory, first on the path), then its layers' Python code merged in order into a temporary
``opt/python`` (Lambda unpacks layers into /opt, a later layer's files over an earlier one's), then the
runtime's packages (this virtualenv: boto3, Powertools...).

What comes back is the emulator's: the payload, the runtime's error document (``errorType``,
``errorMessage``, ``stackTrace``, ``requestId``), ``Runtime.ExitError`` when the runtime died, and its
"Task timed out after N.00 seconds" answer, reported as Lambda reports it (``Sandbox.Timedout``).

The emulator is found at ``$VIDEOHOOK_LAMBDA_RIE`` if set, else as ``.venv/bin/aws-lambda-rie`` (``make setup``
unpacks it there from the SAM CLI's wheel), else in the SAM CLI's own package in ``.venv-sam``, else on PATH.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import http.client
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RIE_VARIABLE = "VIDEOHOOK_LAMBDA_RIE"
# What SAM runs the emulator with (``sam local``'s default, `debug` with SAM_CLI_RIE_DEV=1): its own errors,
# and the START / END / REPORT lines, which it always prints.
RIE_LOG_LEVEL = "error"

READY_TIMEOUT_S = 10.0  # the emulator listens within milliseconds
STOP_TIMEOUT_S = 2.0  # after SIGTERM, before SIGKILL
START_ATTEMPTS = 3  # a port taken between picking it and the emulator binding it: pick others
# coreutils' timeout runs each emulator, set to end it OUTLIVE_S after the invoke's limit: a safety net for an
# invoker killed before it could stop the emulator (its normal end is local_invoke stopping it at once).
SUPERVISOR = shutil.which("timeout")
OUTLIVE_S = 5.0

_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_TIMED_OUT = re.compile(r"Task timed out after [\d.]+ seconds")
_START_LINE = re.compile(r"^START RequestId: (\S+)", re.MULTILINE)
_EXIT_STATUS = re.compile(r"Runtime exited with error: exit status (\d+)")
_EMULATOR_ERROR = re.compile(
    r"\[ERROR\] \(rapid\) (?:Init|Invoke) failed (?:InvokeID=\S* )?error=(.+?)(?: InvokeID=\S*)?$"
)
_EMULATOR_OUTCOME = re.compile(r"\[ERROR\] \(rapid\) Invoke DONE failed: (\S+)")
# awslambdaric's error document (bootstrap.make_error)
_RUNTIME_ERROR_KEYS = frozenset({"errorMessage", "errorType", "requestId", "stackTrace"})


class EmulatorUnavailable(RuntimeError):
    """The emulator binary or the runtime interface client is not installed."""


# --------------------------------------------------------------------------------------------------
# The pieces
# --------------------------------------------------------------------------------------------------


def rie_name(machine: str | None = None) -> str:
    """The emulator's file name for this machine, as SAM names it (``aws-lambda-rie-x86_64`` / ``-arm64``)."""
    machine = (machine or platform.machine()).lower()
    if machine not in _ARCHITECTURES:
        raise EmulatorUnavailable(f"no Lambda Runtime Interface Emulator for the {machine!r} architecture")
    return f"aws-lambda-rie-{_ARCHITECTURES[machine]}"


def find_emulator(environ: Mapping[str, str] | None = None, repo_root: Path = REPO_ROOT) -> Path:
    """Where the emulator binary is: ``$VIDEOHOOK_LAMBDA_RIE``; else ``aws-lambda-rie`` in the virtualenv's
    bin (where ``make setup`` unpacks it from the SAM CLI's wheel); else the SAM CLI's own package in
    ``.venv-sam``; else ``aws-lambda-rie`` on PATH."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(RIE_VARIABLE)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EmulatorUnavailable(
                f"{RIE_VARIABLE}={explicit} is not an executable file (`make setup` puts the emulator there)"
            )
        return path
    name = rie_name()
    candidates = [repo_root / ".venv" / "bin" / "aws-lambda-rie"]
    candidates += sorted(repo_root.glob(f".venv-sam/lib/python3*/site-packages/samcli/local/rapid/{name}"))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    on_path = shutil.which("aws-lambda-rie", path=environ.get("PATH", ""))
    if on_path:
        return Path(on_path)
    raise EmulatorUnavailable(
        f"the Lambda Runtime Interface Emulator ({name}, shipped in the SAM CLI package) was not found: not in "
        f"{repo_root / '.venv' / 'bin'}, {repo_root / '.venv-sam'} or PATH. `make setup` unpacks it into "
        f".venv/bin; or point {RIE_VARIABLE} at the binary"
    )


def check_runtime_client() -> None:
    """awslambdaric must be importable by this interpreter, which runs the function."""
    if importlib.util.find_spec("awslambdaric") is None:
        raise EmulatorUnavailable(
            f"awslambdaric (the Lambda runtime interface client) is not installed for {sys.executable}: "
            "`make setup` installs it (pinned in requirements-dev.txt)"
        )


# --------------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------------

_port_lock = threading.Lock()
_recent_ports: collections.deque[int] = collections.deque(maxlen=512)


EXIT_GRACE_S = 0.5  # how long an answer may still arrive after the emulator has exited


def free_ports(count: int) -> list[int]:
    """Free loopback ports, distinct from each other and from those handed out here lately.

    The OS picks them (a bind to 127.0.0.1:0); all are held open together so they differ, then released for
    the emulator to bind. A port taken by someone else in between makes the emulator exit at once, and the
    invoke starts again on other ports.
    """
    with _port_lock:
        held: list[socket.socket] = []
        ports: list[int] = []
        try:
            while len(ports) < count:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(probe)
                probe.bind((LOOPBACK, 0))
                port = int(probe.getsockname()[1])
                if port not in _recent_ports:
                    ports.append(port)
                    _recent_ports.append(port)
                if len(held) > 64 + count:
                    raise OSError("no free loopback port")
        finally:
            for probe in held:
                probe.close()
        return ports


# --------------------------------------------------------------------------------------------------
# Lambda's layout
# --------------------------------------------------------------------------------------------------


def lay_out_layers(opt_dir: Path, layer_dirs: Sequence[Path]) -> Path:
    """Merge the layers' Python roots into ``opt_dir/python`` (symlinks), in order: a later layer's files
    replace an earlier one's, as when Lambda unpacks them into /opt. Returns the ``python`` directory."""
    python_dir = opt_dir / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for layer in layer_dirs:
        _merge(Path(layer), python_dir)
    return python_dir


def _merge(source: Path, target: Path) -> None:
    for entry in sorted(source.iterdir()):
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir():
            if destination.is_symlink():  # an earlier layer's directory: make it real, keep its files
                earlier = destination.resolve()
                destination.unlink()
                destination.mkdir()
                _merge(earlier, destination)
            _merge(entry, destination)
            continue
        if destination.is_symlink() or destination.exists():
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            else:
                destination.unlink()
        destination.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())


def python_path(code_dir: Path, opt_python: Path) -> str:
    """Lambda's search path for the function's code: the task root, then /opt/python's site-packages and
    /opt/python (the runtime's own packages follow from the interpreter)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    entries = [code_dir, opt_python / "lib" / version / "site-packages", opt_python]
    return os.pathsep.join(str(entry) for entry in entries)


# --------------------------------------------------------------------------------------------------
# One invoke
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    payload: Any
    error: dict[str, Any] | None
    logs: str
    returncode: int  # 0: answered; 1: an error; N: the runtime exited with N; -SIGKILL: stopped at `limit`
    duration_s: float


def error_document(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": stack or []}


def run(
    *,
    code_dir: Path,
    layer_dirs: Sequence[Path],
    handler: str,
    environment: Mapping[str, str],
    event: Any,
    limit: float,
) -> Outcome:
    """Invoke ``handler`` once on ``event`` through the emulator; give up (and stop everything) at ``limit``
    seconds from the start, reporting the invoke as timed out by local_invoke."""
    emulator = find_emulator()
    check_runtime_client()
    body = json.dumps(event).encode("utf-8")
    started = time.monotonic()
    deadline = started + limit
    with tempfile.TemporaryDirectory(prefix="local-invoke-") as scratch:
        opt_python = lay_out_layers(Path(scratch, "opt"), layer_dirs)
        env = dict(environment)
        env["PYTHONPATH"] = python_path(code_dir, opt_python)
        log_path = Path(scratch, "emulator.log")
        for attempt in range(1, START_ATTEMPTS + 1):
            invoke_port, runtime_port = free_ports(2)
            supervisor: list[str] = []
            if SUPERVISOR is not None:
                supervisor = [SUPERVISOR, f"--kill-after={STOP_TIMEOUT_S:g}", f"{math.ceil(limit + OUTLIVE_S)}"]
            command = [
                *supervisor,
                str(emulator),
                "--log-level",
                RIE_LOG_LEVEL,
                "--runtime-interface-emulator-address",
                f"{LOOPBACK}:{invoke_port}",
                "--runtime-api-address",
                f"{LOOPBACK}:{runtime_port}",
                # the runtime: -P keeps the working directory off sys.path (PYTHONPATH says it all, in order)
                sys.executable,
                "-P",
                "-m",
                "awslambdaric",
                handler,
            ]
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command,
                    cwd=code_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a session of its own: the runtime is found in it and stopped
                )
            with _live_lock:
                _live.add(process)
            try:
                ready_by = min(deadline, time.monotonic() + READY_TIMEOUT_S)
                answer: _Answer
                not_ready = _wait_ready(process, (invoke_port, runtime_port), ready_by)
                if not_ready is None:
                    answer = _post_while_alive(process, invoke_port, body, deadline)
                elif not_ready == "not-ready" and time.monotonic() >= deadline:
                    answer = "timeout"
                else:
                    answer = not_ready
            finally:
                _stop(process)
                with _live_lock:
                    _live.discard(process)
            logs = log_path.read_text(encoding="utf-8", errors="replace")
            if answer in ("exited", "closed") and "address already in use" in logs and attempt < START_ATTEMPTS:
                continue  # nothing ran: start again on other ports
            break
        duration = time.monotonic() - started
    return _outcome(answer, logs, limit, duration)


_Answer = tuple[int, bytes] | str  # (status, body), or what went wrong: "exited", "not-ready", "timeout", "closed"


def _wait_ready(process: subprocess.Popen[bytes], ports: Sequence[int], until: float) -> str | None:
    """None once the emulator accepts connections on both its ports; "exited" or "not-ready" otherwise."""
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            return "exited"
        try:
            with socket.create_connection((LOOPBACK, waiting[0]), timeout=0.5):
                waiting.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() >= until:
            return "not-ready"
        time.sleep(0.005)
    return None


def _post_while_alive(process: subprocess.Popen[bytes], port: int, body: bytes, deadline: float) -> _Answer:
    """The invoke's answer; "exited" if the emulator ends without one. A port someone else listens on (taken
    between free_ports and the emulator's bind) looks ready from outside, and the emulator's panic on it would
    otherwise leave the invoke waiting on that stranger until its deadline."""
    answers: list[_Answer] = []
    failures: list[BaseException] = []

    def post() -> None:
        try:
            answers.append(_post(port, body, deadline))
        except BaseException as exc:  # raised again in the invoker's thread
            failures.append(exc)

    poster = threading.Thread(target=post, daemon=True)
    poster.start()
    while poster.is_alive():
        poster.join(0.05)
        if poster.is_alive() and process.poll() is not None:
            poster.join(EXIT_GRACE_S)  # an answer already on its way still counts
            if not answers and not failures:
                return "exited"
    if failures:
        raise failures[0]
    return answers[0]


def _post(port: int, body: bytes, deadline: float) -> _Answer:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return "timeout"
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=remaining)  # no proxy: loopback only
    try:
        connection.request("POST", INVOKE_PATH, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except TimeoutError:
        return "timeout"
    except (ConnectionError, http.client.HTTPException, OSError):
        return "closed"
    finally:
        connection.close()


_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    """At exit, stop the emulators of invokes still running (in daemon threads, e.g. LocalLambda's Event ones)."""
    with _live_lock:
        running = list(_live)
    for process in running:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the emulator (it stops its runtime), then kill whatever of its session is left, bounded."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    for pid in _session_members(process.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _session_members(session_id: int) -> list[int]:
    """Processes of the session ``session_id`` leads (the runtime runs in a process group of its own)."""
    members = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)": state ppid pgrp session ...
            if len(fields) > 3 and fields[3] == str(session_id):
                members.append(int(entry.name))
    return members


# --------------------------------------------------------------------------------------------------
# What the emulator answered
# --------------------------------------------------------------------------------------------------


def _outcome(answer: _Answer, logs: str, limit: float, duration: float) -> Outcome:
    if answer == "timeout":
        killed = error_document(
            "Sandbox.Timedout", f"Task timed out after {limit:.2f} seconds (killed by local_invoke)"
        )
        return Outcome(None, killed, logs, -signal.SIGKILL, duration)
    if isinstance(answer, str):
        message = {
            "exited": "the Lambda Runtime Interface Emulator exited before answering",
            "not-ready": f"the Lambda Runtime Interface Emulator did not listen within {READY_TIMEOUT_S:.0f} s",
            "closed": "the Lambda Runtime Interface Emulator closed the connection without an answer",
        }[answer]
        return Outcome(None, error_document("Sandbox.Failure", message), logs, 1, duration)
    status, body = answer
    payload, error = interpret(status, body, logs)
    if error is None:
        return Outcome(payload, None, logs, 0, duration)
    exited = _EXIT_STATUS.search(str(error.get("errorMessage", "")))
    return Outcome(None, error, logs, int(exited.group(1)) if exited else 1, duration)


def interpret(status: int, body: bytes, logs: str) -> tuple[Any, dict[str, Any] | None]:
    """``(payload, None)`` or ``(None, error)`` from the emulator's answer to an invoke.

    The emulator answers 200 both for a result and for an error the runtime posted (awslambdaric's error
    document, with the invoke's ``requestId``), 200 with a plain-text "Task timed out after N.00 seconds",
    and 502 when init failed or the runtime exited (the runtime's error document, the emulator's own
    ``Runtime.ExitError`` one, or nothing: then its log says what failed).
    """
    text = body.decode("utf-8", errors="replace")
    try:
        document: Any = json.loads(text) if text.strip() else None
        parsed = True
    except ValueError:
        document, parsed = None, False
    if status == 200:
        if not parsed:
            if _TIMED_OUT.fullmatch(text.strip()):
                return None, error_document("Sandbox.Timedout", text.strip())
            return text, None
        if _is_runtime_error(document, logs):
            return None, document
        return document, None
    if isinstance(document, dict) and "errorType" in document:
        return None, document
    return None, _error_from_log(status, logs, text)


def _is_runtime_error(document: Any, logs: str) -> bool:
    """The runtime's error document for this invoke (a result shaped so would have to guess the request id)."""
    if not isinstance(document, dict) or set(document) != _RUNTIME_ERROR_KEYS:
        return False
    started = _START_LINE.findall(logs)
    return not started or document["requestId"] in started


def _error_from_log(status: int, logs: str, text: str) -> dict[str, Any]:
    outcomes = [match.group(1) for line in logs.splitlines() if (match := _EMULATOR_OUTCOME.search(line))]
    causes = [match.group(1) for line in logs.splitlines() if (match := _EMULATOR_ERROR.search(line))]
    error_type = outcomes[-1] if outcomes else "Sandbox.Failure"
    message = causes[0] if causes else (text.strip() or f"the emulator answered HTTP {status} without a body")
    return error_document(error_type, message)
