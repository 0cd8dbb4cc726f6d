"""The AWS side of videohook on loopback: moto in server mode, and the stack's resources inside it.

Functions reach it only through boto3's own ``AWS_ENDPOINT_URL`` (see :func:`aws_env`), exactly as they
would reach a real endpoint, so nothing in the function code knows about moto. The DynamoDB table is
built from ``template.yaml``'s own ``JobsTable`` properties so that the tests and the template cannot drift.

Everything here binds and talks to 127.0.0.1 only, with dummy credentials.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from devtools.local_invoke import LOCAL_REGION, Resolver, load_template

LOOPBACK = "127.0.0.1"
DUMMY_CREDENTIAL = "testing"


# --------------------------------------------------------------------------------------------------
# moto server
# --------------------------------------------------------------------------------------------------


class LocalMoto:
    """A moto server running in a thread of this process, bound to 127.0.0.1.

    moto keeps its state per process: every server started here shares it, which is why
    :func:`deploy_local` takes a ``suffix`` to keep parallel stacks apart.
    """

    def __init__(self, port: int = 0, *, quiet: bool = True) -> None:
        if quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)  # 0: the OS picks
        self._running = False
        self.host = LOOPBACK
        self.port = 0

    def start(self) -> LocalMoto:
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        self._running = True
        return self

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Drop every resource in moto (all servers of this process share the state)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):  # loopback only
            pass

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._server.stop()

    def __enter__(self) -> LocalMoto:
        return self if self._running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_moto(port: int = 0) -> LocalMoto:
    """Start moto on 127.0.0.1 (a free port unless ``port`` is given); ``.stop()`` or use it in ``with``."""
    return LocalMoto(port).start()


def aws_env(endpoint_url: str) -> dict[str, str]:
    """Environment pointing boto3 at ``endpoint_url`` with dummy credentials (for a function or a child)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        # No credential lookups on the instance metadata address: the local AWS is the only peer.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIAL,
        aws_secret_access_key=DUMMY_CREDENTIAL,
        region_name=LOCAL_REGION,
    )


@functools.cache  # making a client costs ~0.2 s (service model loading); they are thread-safe, so share them
def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for the local AWS; explicit endpoint and dummy credentials, whatever the environment."""
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return _session().client(service, endpoint_url=endpoint_url, config=config)


# --------------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------------


@dataclass
class LocalStack:
    """Names of the resources :func:`deploy_local` made, and the function configuration that uses them."""

    endpoint_url: str
    table_name: str
    topic_arn: str
    secret_ids: dict[str, str]
    providers: dict[str, dict[str, Any]]
    suffix: str = ""
    extra_variables: dict[str, str] = field(default_factory=dict)

    @property
    def providers_json(self) -> str:
        """The PROVIDERS variable: provider name -> {base_url, api_key_secret[, dialect]}."""
        return json.dumps(self.providers)

    def variables(self) -> dict[str, str]:
        """The functions' variables that point at this stack."""
        return {
            "JOBS_TABLE": self.table_name,
            "EVENTS_TOPIC_ARN": self.topic_arn,
            "PROVIDERS": self.providers_json,
            **self.extra_variables,
        }

    def env_overrides(self) -> dict[str, dict[str, str]]:
        """``sam local invoke --env-vars`` content for every function of the template."""
        return {"Parameters": self.variables()}

    def aws_env(self) -> dict[str, str]:
        """The AWS_* variables pointing boto3 at this stack's endpoint."""
        return aws_env(self.endpoint_url)

    def client(self, service: str) -> Any:
        return client(service, self.endpoint_url)


# CloudFormation keys of a GSI that are also create_table API keys.
_GSI_API_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def table_request(properties: dict[str, Any], table_name: str) -> dict[str, Any]:
    """Translate an ``AWS::DynamoDB::Table``'s CloudFormation properties into a CreateTable request."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    for key in ("ProvisionedThroughput", "Tags", "TableClass", "DeletionProtectionEnabled", "OnDemandThroughput"):
        if key in properties:
            request[key] = properties[key]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in properties:
            request[key] = [{k: v for k, v in index.items() if k in _GSI_API_KEYS} for index in properties[key]]
    if "SSESpecification" in properties:  # CloudFormation says SSEEnabled where the API says Enabled
        sse = properties["SSESpecification"]
        request["SSESpecification"] = {
            "Enabled": bool(sse.get("SSEEnabled", False)),
            **{k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse},
        }
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    return request


def _resource_properties(template: dict[str, Any], logical_id: str, resolver: Resolver) -> dict[str, Any]:
    resource = (template.get("Resources") or {}).get(logical_id)
    if not isinstance(resource, dict):
        raise KeyError(f"template has no resource {logical_id}")
    properties = resolver.resolve(resource.get("Properties") or {})
    return properties if isinstance(properties, dict) else {}


def create_table_from_template(
    endpoint_url: str, template: dict[str, Any], logical_id: str, table_name: str
) -> dict[str, Any]:
    """Create (or keep) the table ``logical_id`` of ``template`` under ``table_name``; return its description."""
    properties = _resource_properties(template, logical_id, Resolver(template))
    dynamodb = client("dynamodb", endpoint_url)
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):  # deployed before: keep its items
        dynamodb.create_table(**table_request(properties, table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        spec = {"Enabled": True, "AttributeName": ttl["AttributeName"]}
        try:
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=spec)
        except dynamodb.exceptions.ClientError as error:
            if "already enabled" not in str(error).lower():
                raise
    pitr = (properties.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return dynamodb.describe_table(TableName=table_name)["Table"]


def _put_secret(endpoint_url: str, name: str, value: str) -> str:
    secrets = client("secretsmanager", endpoint_url)
    try:
        return str(secrets.create_secret(Name=name, SecretString=value)["ARN"])
    except secrets.exceptions.ResourceExistsException:
        return str(secrets.put_secret_value(SecretId=name, SecretString=value)["ARN"])


def deploy_local(
    endpoint_url: str,
    *,
    providers: dict[str, tuple[str, str] | tuple[str, str, str | dict[str, Any]]],
    template_path: str | os.PathLike[str] = "template.yaml",
    suffix: str = "",
    inbound: dict[str, dict[str, Any]] | None = None,
) -> LocalStack:
    """Create the stack's resources in the local AWS: ``JobsTable`` (from the template), ``EventsTopic``,
    and one Secrets Manager secret ``videohook/<name><suffix>`` per provider holding its token.

    ``providers`` maps a provider name to ``(base_url, token)`` or ``(base_url, token, dialect)``, the dialect
    a built-in's name or a custom dialect object (written as the entry's ``"dialect"`` in ``PROVIDERS``).
    ``inbound`` maps a provider name to its callbacks' settings as PROVIDERS takes them, except that
    ``secret_value`` (the whsec_/HMAC secret or the path token) replaces ``secret``: it is stored as the
    secret ``videohook/<name>-inbound<suffix>``. Deploying again with the same suffix keeps the table's items
    and updates the tokens.
    """
    template = load_template(Path(template_path))
    table_name = f"JobsTable{suffix}"  # what `!Ref JobsTable` resolves to under `sam local`, plus the suffix
    create_table_from_template(endpoint_url, template, "JobsTable", table_name)

    topic_properties = _resource_properties(template, "EventsTopic", Resolver(template))
    attributes = {"DisplayName": str(topic_properties["DisplayName"])} if "DisplayName" in topic_properties else {}
    topic = client("sns", endpoint_url).create_topic(Name=f"EventsTopic{suffix}", Attributes=attributes)
    topic_arn = str(topic["TopicArn"])

    secret_ids: dict[str, str] = {}
    settings: dict[str, dict[str, Any]] = {}
    for name, (base_url, token, *dialect) in providers.items():
        secret_ids[name] = f"videohook/{name}{suffix}"
        _put_secret(endpoint_url, secret_ids[name], token)
        settings[name] = {"base_url": base_url, "api_key_secret": secret_ids[name]}
        if dialect:
            settings[name]["dialect"] = dialect[0]
    for name, spec in (inbound or {}).items():
        entry = {key: value for key, value in spec.items() if key != "secret_value"}
        if "secret_value" in spec:
            entry["secret"] = f"videohook/{name}-inbound{suffix}"
            _put_secret(endpoint_url, entry["secret"], str(spec["secret_value"]))
        settings[name]["inbound"] = entry
    return LocalStack(endpoint_url, table_name, topic_arn, secret_ids, settings, suffix)


# --------------------------------------------------------------------------------------------------
# Watching the topic
# --------------------------------------------------------------------------------------------------


def subscribe_queue(
    endpoint_url: str, topic_arn: str, *, filter_policy: dict[str, Any] | None = None, name: str
) -> str:
    """Subscribe a new SQS queue ``name`` to the topic (raw delivery, optional message-attribute filter
    policy), the way a consumer of videohook's events would; return the queue URL."""
    sqs = client("sqs", endpoint_url)
    queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy is not None:
        attributes |= {"FilterPolicy": json.dumps(filter_policy), "FilterPolicyScope": "MessageAttributes"}
    client("sns", endpoint_url).subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes, ReturnSubscriptionArn=True
    )
    return queue_url


def _parse_message(message: dict[str, Any]) -> dict[str, Any]:
    """Body parsed as JSON plus the message attributes; an SNS envelope (raw delivery off) is unwrapped."""
    raw = message.get("Body", "")
    try:
        body: Any = json.loads(raw)
    except json.JSONDecodeError:
        body = raw
    attributes = {
        key: value.get("StringValue", value.get("BinaryValue"))
        for key, value in (message.get("MessageAttributes") or {}).items()
    }
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        attributes = {key: value.get("Value") for key, value in (body.get("MessageAttributes") or {}).items()}
        raw = body["Message"]
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = raw
    return {"body": body, "attributes": attributes, "raw": raw, "message_id": message.get("MessageId")}


def receive_all(
    endpoint_url: str, queue_url: str, *, wait_s: float = 2.0, expect: int | None = None
) -> list[dict[str, Any]]:
    """Receive and delete messages, each as ``{"body", "attributes", "raw", "message_id"}``.

    With ``expect``, waits up to ``wait_s`` for that many; without, returns once the queue is empty
    (waiting up to ``wait_s`` for a first message).
    """
    sqs = client("sqs", endpoint_url)
    deadline = time.monotonic() + wait_s
    received: list[dict[str, Any]] = []
    while True:
        remaining = deadline - time.monotonic()
        waiting_for_more = expect is not None or not received
        wait = max(0, min(1, int(remaining))) if waiting_for_more else 0
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        for message in messages:
            received.append(_parse_message(message))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if expect is not None and len(received) >= expect:
            return received
        if not messages and (time.monotonic() >= deadline or (expect is None and received)):
            return received
        if not messages and wait == 0:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
