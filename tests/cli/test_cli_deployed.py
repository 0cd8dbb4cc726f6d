"""`--stack-name`: the stack is found by its CloudFormation outputs and its API is called SigV4-signed.

CloudFormation is moto on loopback (through AWS_ENDPOINT_URL, as for any boto3 client); the stack's ApiUrl
output points at a recording HTTP server on 127.0.0.1 that answers like the API and keeps the headers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import aws_env, client, start_moto

ROOT = Path(__file__).resolve().parents[2]
JOB = {"object": "video", "id": "video_signed", "provider": "hingnet", "status": "in_progress", "progress": 40}


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path.endswith("/video_signed"):
            status, body = 200, JOB
        else:
            status, body = 403, {"message": "Forbidden"}  # what API Gateway answers an unsigned request
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def deployed_stack() -> Iterator[tuple[str, Recorder, dict[str, str]]]:
    moto = start_moto()
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        name = f"videohook-{uuid.uuid4().hex[:8]}"
        template = {
            "Parameters": {"DueShards": {"Type": "Number", "Default": 16}},
            "Resources": {"EventsTopic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "ApiUrl": {"Value": recorder.url + "/"},
                "EventsTopicArn": {"Value": {"Ref": "EventsTopic"}},
                "JobsTableName": {"Value": "JobsTable-deployed"},
            },
        }
        client("cloudformation", moto.endpoint_url).create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "DueShards", "ParameterValue": "8"}],
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(aws_env(moto.endpoint_url))
        env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLECLI"
        env.pop("PYTHONPATH", None)  # the console script finds its packages itself
        env["VIDEOHOOK_STATE_FILE"] = str(ROOT / "tests" / "cli" / "no-such-state.json")
        yield name, recorder, env
    finally:
        recorder.shutdown()
        recorder.server_close()
        moto.stop()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("videohook")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_get_through_the_stack_outputs_is_sigv4_signed_for_execute_api(deployed_stack):
    name, recorder, env = deployed_stack
    result = run(env, "get", "hingnet", "video_signed", "--stack-name", name, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == JOB
    request = recorder.requests[-1]
    assert request["path"] == "/v1/jobs/hingnet/video_signed"
    authorization = request["headers"]["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLECLI/")
    assert "/us-east-1/execute-api/aws4_request" in authorization
    assert "SignedHeaders=" in authorization and "x-amz-date" in authorization
    assert "testing" not in json.dumps(request["headers"])  # the secret key signs; it is never sent


def test_api_gateway_refusals_and_unknown_stacks_are_one_line(deployed_stack):
    name, _, env = deployed_stack
    refused = run(env, "get", "hingnet", "other", "--stack-name", name)
    assert refused.returncode == 1 and refused.stderr == "videohook: error: HTTP 403: Forbidden\n"
    unknown = run(env, "ls", "--stack-name", "no-such-stack")
    assert unknown.returncode == 1
    assert unknown.stderr == "videohook: error: stack 'no-such-stack' not found in us-east-1\n"
