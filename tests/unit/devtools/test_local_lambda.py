"""devtools.local_lambda: Lambda's Invoke API on loopback, answering boto3's lambda client the way Lambda does,
running the fixture template's functions through local_invoke."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from devtools.local_lambda import LocalLambda

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "template.yaml"


@pytest.fixture(scope="module")
def lam():
    with LocalLambda(FIXTURE) as server:
        yield server


@pytest.fixture(scope="module")
def client(lam):
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("lambda", endpoint_url=lam.endpoint_url, config=Config(retries={"max_attempts": 1}))


def test_request_response_returns_the_handler_payload(client):
    answer = client.invoke(FunctionName="EchoFunction", Payload=json.dumps({"hello": "world"}).encode())
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["event"] == {"hello": "world"}


def test_a_function_error_comes_back_as_lambda_reports_it(client):
    answer = client.invoke(FunctionName="EchoFunction", Payload=json.dumps({"action": "raise"}).encode())
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError" and "boom" in error["errorMessage"]


def test_an_event_invoke_is_accepted_at_once_and_runs_in_the_background(lam, client):
    arn = "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    answer = client.invoke(FunctionName=arn, InvocationType="Event", Payload=json.dumps({"n": 7}).encode())
    assert answer["StatusCode"] == 202
    assert lam.wait_idle(timeout=60)
    ran = [i for i in lam.invocations if i.invocation_type == "Event"]
    assert ran[-1].function == "EchoFunction" and ran[-1].event == {"n": 7}
    assert ran[-1].result is not None and ran[-1].result.payload["event"] == {"n": 7}


def test_an_unknown_function_is_not_found(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", InvocationType="Event", Payload=b"{}")
