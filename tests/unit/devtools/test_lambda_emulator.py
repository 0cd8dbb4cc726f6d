"""devtools.lambda_emulator: finding the emulator, loopback ports, Lambda's /opt layout, and reading the
emulator's answers (the answers below are what aws-lambda-rie and awslambdaric send, as observed)."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from devtools import lambda_emulator
from devtools.lambda_emulator import EmulatorUnavailable, find_emulator, free_ports, interpret, lay_out_layers

REQUEST_ID = "6a94ed40-936b-4f54-b85e-4d60a31ed0f6"
LOGS = f"START RequestId: {REQUEST_ID} Version: $LATEST\nhandler output\nEND RequestId: {REQUEST_ID}\n"


# ------------------------------------------------------------------------------------------------
# Finding the pieces
# ------------------------------------------------------------------------------------------------


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_binary_is_named_as_sam_names_it() -> None:
    assert lambda_emulator.rie_name("x86_64") == "aws-lambda-rie-x86_64"
    assert lambda_emulator.rie_name("aarch64") == "aws-lambda-rie-arm64"
    with pytest.raises(EmulatorUnavailable, match="s390x"):
        lambda_emulator.rie_name("s390x")


def test_found_in_venv_bin_else_in_the_sam_cli_package_of_venv_sam(tmp_path: Path) -> None:
    rapid = tmp_path / ".venv-sam/lib/python3.11/site-packages/samcli/local/rapid"
    shipped = _executable(rapid / lambda_emulator.rie_name())
    assert find_emulator({"PATH": ""}, repo_root=tmp_path) == shipped
    unpacked = _executable(tmp_path / ".venv" / "bin" / "aws-lambda-rie")  # where `make setup` unpacks it
    assert find_emulator({"PATH": ""}, repo_root=tmp_path) == unpacked


def test_the_variable_wins_and_must_name_an_executable(tmp_path: Path) -> None:
    binary = _executable(tmp_path / "rie")
    assert find_emulator({lambda_emulator.RIE_VARIABLE: str(binary)}, repo_root=tmp_path) == binary
    with pytest.raises(EmulatorUnavailable, match="is not an executable file"):
        find_emulator({lambda_emulator.RIE_VARIABLE: str(tmp_path / "absent")}, repo_root=tmp_path)


def test_then_path_then_a_clear_error(tmp_path: Path) -> None:
    binary = _executable(tmp_path / "bin" / "aws-lambda-rie")
    assert find_emulator({"PATH": str(binary.parent)}, repo_root=tmp_path) == binary
    with pytest.raises(EmulatorUnavailable) as missing:
        find_emulator({"PATH": ""}, repo_root=tmp_path)
    assert "`make setup` unpacks it into .venv/bin" in str(missing.value)
    assert lambda_emulator.RIE_VARIABLE in str(missing.value)


def test_this_checkout_has_both_pieces() -> None:
    assert os.access(find_emulator(), os.X_OK)
    lambda_emulator.check_runtime_client()


# ------------------------------------------------------------------------------------------------
# Ports
# ------------------------------------------------------------------------------------------------


def test_free_ports_are_distinct_loopback_ports_not_handed_out_twice() -> None:
    first = free_ports(2)
    second = free_ports(2)
    assert len(set(first + second)) == 4
    for port in first + second:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # free on loopback


# ------------------------------------------------------------------------------------------------
# Lambda's /opt layout
# ------------------------------------------------------------------------------------------------


def test_layers_merge_in_order_into_opt_python(tmp_path: Path) -> None:
    early, late = tmp_path / "early", tmp_path / "late"
    for layer, text in ((early, "early"), (late, "late")):
        (layer / "pkg").mkdir(parents=True)
        (layer / "pkg" / "shared.py").write_text(text)
        (layer / f"only_{text}.py").write_text(text)
    (early / "pkg" / "from_early.py").write_text("early")
    python_dir = lay_out_layers(tmp_path / "opt", [early, late])
    assert python_dir == tmp_path / "opt" / "python"
    assert (python_dir / "pkg" / "shared.py").read_text() == "late"  # the later layer's file wins
    assert (python_dir / "pkg" / "from_early.py").read_text() == "early"  # the directories merge
    assert (python_dir / "only_early.py").is_symlink() and (python_dir / "only_late.py").is_symlink()
    assert (early / "pkg" / "shared.py").read_text() == "early"  # the layers themselves are untouched


# ------------------------------------------------------------------------------------------------
# The emulator's answers
# ------------------------------------------------------------------------------------------------


def test_a_result_is_the_payload() -> None:
    assert interpret(200, b'{"ok": true}', LOGS) == ({"ok": True}, None)
    assert interpret(200, b"null", LOGS) == (None, None)


def test_an_error_the_runtime_posted_is_the_error() -> None:
    document = {"errorMessage": "boom", "errorType": "ValueError", "requestId": REQUEST_ID, "stackTrace": []}
    assert interpret(200, json.dumps(document).encode(), LOGS) == (None, document)


def test_a_result_shaped_like_an_error_of_another_request_stays_a_result() -> None:
    document = {"errorMessage": "m", "errorType": "T", "requestId": "not-this-invoke", "stackTrace": []}
    assert interpret(200, json.dumps(document).encode(), LOGS) == (document, None)
    returned = {"errorMessage": "m", "errorType": "T"}  # a handler's own dict, not the runtime's document
    assert interpret(200, json.dumps(returned).encode(), LOGS) == (returned, None)


def test_the_emulators_timeout_is_lambdas_sandbox_timedout() -> None:
    payload, error = interpret(200, b"Task timed out after 3.00 seconds", LOGS)
    assert payload is None
    assert error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 3.00 seconds",
        "stackTrace": [],
    }


def test_init_and_exit_errors() -> None:
    init = {"errorMessage": "Unable to import module 'x'", "errorType": "Runtime.ImportModuleError"}
    assert interpret(502, json.dumps({**init, "requestId": "", "stackTrace": []}).encode(), LOGS)[1] == {
        **init,
        "requestId": "",
        "stackTrace": [],
    }
    exited = {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {REQUEST_ID} Error: exit status 3"}
    assert interpret(502, json.dumps(exited).encode(), LOGS) == (None, exited)


def test_an_empty_failure_is_read_from_the_emulators_log() -> None:
    at = "01 Dec 2026 21:39:42,508 [ERROR] (rapid)"
    logs = LOGS + (
        f"{at} Init failed InvokeID= error=Runtime exited with error: exit status 4\n"
        f"{at} Invoke failed error=Runtime exited with error: exit status 4 InvokeID={REQUEST_ID}\n"
        f"{at} Invoke DONE failed: Sandbox.Failure\n"
    )
    assert interpret(502, b"", logs) == (
        None,
        {"errorType": "Sandbox.Failure", "errorMessage": "Runtime exited with error: exit status 4", "stackTrace": []},
    )
    assert interpret(500, b"", LOGS)[1] == {
        "errorType": "Sandbox.Failure",
        "errorMessage": "the emulator answered HTTP 500 without a body",
        "stackTrace": [],
    }
