"""Which stack a command talks to: a deployed one found by its CloudFormation outputs, or the local one.

A deployed stack is read from `describe_stacks` (outputs `ApiUrl`, `EventsTopicArn`, `JobsTableName`; the
`DueShards` parameter) with the caller's own AWS credentials; its API is called SigV4-signed. The local
stack is found through the state file `videohook local up` writes; its AWS is moto on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from videohook_cli.errors import CliError
from videohook_cli.state import LocalState, read_state

REQUIRED_OUTPUTS = ("ApiUrl", "EventsTopicArn", "JobsTableName")
DEFAULT_DUE_SHARDS = 16
LOCAL_CREDENTIAL = "testing"  # moto accepts anything; never a real key
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


@dataclass(frozen=True)
class Target:
    name: str  # the stack name, or "local"
    api_url: str
    topic_arn: str
    table_name: str
    due_shards: int
    session: boto3.session.Session
    endpoint_url: str | None = None  # the local AWS; None means AWS itself
    signed: bool = True  # SigV4 for execute-api (the deployed API uses IAM auth)
    providers: str = ""  # the stack's PROVIDERS (the Providers parameter), JSON; "" when unknown

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)


def resolve_target(
    *, stack_name: str | None, local: bool, state_path: Path, region: str | None, profile: str | None
) -> Target:
    if stack_name and local:
        raise CliError("--stack-name and --local exclude each other")
    if stack_name:
        return deployed_target(stack_name, region=region, profile=profile)
    state = read_state(state_path)
    if state is not None and state.running:
        return local_target(state_path)
    if local:
        return local_target(state_path)  # raises with the reason
    raise CliError("no stack: pass --stack-name NAME (a deployed stack) or start one with `videohook local up`")


def running_local_state(state_path: Path) -> LocalState:
    """The state of the local stack that runs now, or a CliError saying why there is none."""
    state = read_state(state_path)
    if state is None:
        raise CliError(f"no local stack: {state_path} does not exist; start one with `videohook local up`")
    if not state.running:
        raise CliError(
            f"the local stack in {state_path} is not running (pid {state.pid} is gone); "
            "start it again with `videohook local up`"
        )
    return state


def local_target(state_path: Path) -> Target:
    state = running_local_state(state_path)
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIAL, aws_secret_access_key=LOCAL_CREDENTIAL, region_name=state.region
    )
    return Target(
        name="local",
        api_url=state.api_url,
        topic_arn=state.topic_arn,
        table_name=state.table_name,
        due_shards=state.due_shards,
        session=session,
        endpoint_url=state.aws_endpoint_url,
        signed=False,
        providers=next((v["PROVIDERS"] for v in state.env_vars.values() if v.get("PROVIDERS")), ""),
    )


def deployed_target(stack_name: str, *, region: str | None, profile: str | None) -> Target:
    try:
        session = boto3.session.Session(region_name=region, profile_name=profile)
        stacks = session.client("cloudformation", config=_CONFIG).describe_stacks(StackName=stack_name)["Stacks"]
    except NoRegionError:
        raise CliError("no AWS region: pass --region or set AWS_REGION") from None
    except NoCredentialsError:
        raise CliError("no AWS credentials: configure them (aws configure) or pass --profile") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message", "")):
            raise CliError(f"stack {stack_name!r} not found in {session.region_name}") from None
        raise CliError(f"cannot read stack {stack_name!r}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise CliError(f"cannot read stack {stack_name!r}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise CliError(f"stack {stack_name!r} has no output {', '.join(missing)}: is it a videohook stack?")
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stacks[0].get("Parameters", [])}
    shards = str(parameters.get("DueShards") or DEFAULT_DUE_SHARDS)
    return Target(
        name=stack_name,
        api_url=outputs["ApiUrl"].rstrip("/"),
        topic_arn=outputs["EventsTopicArn"],
        table_name=outputs["JobsTableName"],
        due_shards=int(shards) if shards.isdigit() else DEFAULT_DUE_SHARDS,
        session=session,
        providers=str(parameters.get("Providers") or ""),
    )
