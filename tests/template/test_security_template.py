"""template.yaml's trust boundaries and retention: the topic (encrypted, published to only by the stack's own
functions), log groups with a retention, the API's access log and throttling, the archive bucket (TLS only,
objects expire with their jobs), the signing secret kept, and DynamoDB permissions that are exactly what each
function's code calls (derived from the code, so a new call without its grant fails here)."""

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from videohook.config import ConfigError, parse_principals

from devtools.local_invoke import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "videohook"
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
NO_VALUE = {"Ref": "AWS::NoValue"}


def getatt(resource: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


# -- EventsTopic --------------------------------------------------------------------------------------------
def publishers() -> list[str]:
    """The functions allowed (by their own role) to publish to the topic."""
    wanted = {"SNSPublishMessagePolicy": {"TopicName": getatt("EventsTopic", "TopicName")}}
    return [name for name, r in FUNCTIONS.items() if wanted in r["Properties"].get("Policies", [])]


def publisher_roles() -> list[Any]:
    """Their roles' ARNs as the topic policy must name them (SAM names a function's role <LogicalId>Role); a
    conditional function's role only under its condition."""
    roles: list[Any] = []
    for name in publishers():
        arn = getatt(f"{name}Role", "Arn")
        condition = FUNCTIONS[name].get("Condition")
        roles.append({"Fn::If": [condition, arn, NO_VALUE]} if condition else arn)
    return roles


def test_the_topic_is_encrypted_at_rest():
    assert RESOURCES["EventsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_only_the_stacks_own_functions_may_publish():
    assert publishers() == ["PollerFunction", "PollerWorkerFunction", "ArchiveFunction", "InboundFunction"]
    policy = RESOURCES["EventsTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "EventsTopic"}]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    only = statements["StackPublishersOnly"]
    assert (only["Effect"], only["Principal"], only["Action"]) == ("Deny", "*", "sns:Publish")
    assert only["Resource"] == {"Ref": "EventsTopic"}
    assert only["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": publisher_roles()}}
    allow = statements["StackPublishers"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": publisher_roles()}
    tls = statements["TlsOnly"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Publishing is all the policy governs: delivery to subscribers (SNS's own) and subscribing are untouched.
    assert {s["Action"] for s in statements.values()} == {"sns:Publish"}
    # ApiFunction, WebhookFunction: no publishing at all.
    for name in set(FUNCTIONS) - set(publishers()):
        assert "EventsTopic" not in json.dumps(FUNCTIONS[name]["Properties"].get("Policies", [])), name


@pytest.mark.slow
def test_the_roles_the_topic_policy_names_are_the_ones_sam_generates():
    """The SAM translation (what CloudFormation deploys) has a role of that name for every publisher."""
    python, script = ROOT / ".venv-sam" / "bin" / "python", Path(__file__).with_name("sam_translate.py")
    result = subprocess.run(
        [str(python), str(script), "ArchiveVideos=true"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    translated = json.loads(result.stdout)["Resources"]
    for name in publishers():
        role = translated[f"{name}Role"]
        assert role["Type"] == "AWS::IAM::Role"
        assert translated[name]["Properties"]["Role"] == getatt(f"{name}Role", "Arn")


# -- logs ---------------------------------------------------------------------------------------------------
CLOUDWATCH_RETENTIONS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
CLOUDWATCH_RETENTIONS |= {2922, 3288, 3653}


def test_every_function_logs_to_its_own_group_kept_log_retention_days():
    groups = []
    for name, function in FUNCTIONS.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        resource = RESOURCES[group]
        assert resource["Type"] == "AWS::Logs::LogGroup"
        assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert resource["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{name}"}
        assert resource.get("Condition") == function.get("Condition"), name
        groups.append(group)
    assert len(set(groups)) == len(FUNCTIONS)
    # every log group of the stack (the API's access log too) has the retention
    for resource in RESOURCES.values():
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    retention = PARAMETERS["LogRetentionDays"]
    assert retention["Default"] == 30 and set(retention["AllowedValues"]) == CLOUDWATCH_RETENTIONS


# -- the jobs API -------------------------------------------------------------------------------------------
def test_api_access_log_records_each_request_with_its_principal():
    settings = RESOURCES["JobsApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == getatt("ApiAccessLogGroup", "Arn")
    line = settings["Format"]
    assert "\n" not in line
    fields = json.loads(line)  # one JSON object per request
    assert {
        "requestId": "$context.requestId",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "userArn": "$context.identity.userArn",
        "caller": "$context.identity.caller",
    }.items() <= fields.items()
    # the route key, never the path: a path may carry a secret token
    assert "$context.path" not in line and "$context.identity.apiKey" not in line


def test_api_routes_are_throttled_by_parameters():
    routes = RESOURCES["JobsApi"]["Properties"]["DefaultRouteSettings"]
    assert routes == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    rate, burst = PARAMETERS["ApiThrottlingRateLimit"], PARAMETERS["ApiThrottlingBurstLimit"]
    assert rate["Type"] == burst["Type"] == "Number"
    assert 0 < rate["Default"] <= burst["Default"]
    assert RESOURCES["JobsApi"]["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"


SAMPLE_PRINCIPALS = [
    ("", True),
    ("arn:aws:iam::123456789012:role/videohook-operator", True),
    ("arn:aws:iam::123456789012:user/ops, arn:aws:sts::123456789012:assumed-role/Admin/alice", True),
    ("arn:aws-cn:iam::123456789012:role/path/to/ops", True),
    ("ops", False),
    ("arn:aws:iam::1234:role/short-account", False),
    ("arn:aws:iam::123456789012:role/a,,", False),
]


@pytest.mark.parametrize(("value", "allowed"), SAMPLE_PRINCIPALS)
def test_operator_principals_is_a_parameter_given_to_the_api(value, allowed):
    parameter = PARAMETERS["OperatorPrincipals"]
    assert parameter["Type"] == "String" and parameter["Default"] == ""
    variables = RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["OPERATOR_PRINCIPALS"] == {"Ref": "OperatorPrincipals"}
    # CloudFormation's AllowedPattern matches the whole value
    assert bool(re.fullmatch(parameter["AllowedPattern"], value)) is allowed
    if allowed:  # what the template lets through, the function accepts
        assert len(parse_principals(value)) == value.count("arn:")


# -- the archive bucket -------------------------------------------------------------------------------------
def test_the_archive_bucket_takes_tls_only():
    policy = RESOURCES["ArchiveBucketPolicy"]
    assert policy["Condition"] == "ArchiveOn" and policy["Properties"]["Bucket"] == {"Ref": "ArchiveBucket"}
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    tls = statements["TlsOnly"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Resource"] == [getatt("ArchiveBucket", "Arn"), {"Fn::Sub": "${ArchiveBucket.Arn}/*"}]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert all(s["Effect"] == "Deny" for s in statements.values())  # the policy grants nothing


def test_archived_videos_expire_with_their_jobs():
    rules = RESOURCES["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expiry,) = [rule for rule in rules if "ExpirationInDays" in rule]
    assert expiry["Status"] == "Enabled" and expiry["Prefix"] == "videos/"
    assert expiry["ExpirationInDays"] == {"Ref": "JobRetentionDays"}
    # ... and videos/ is where ArchiveFunction writes (the only prefix its role may write)
    statements = [s for p in FUNCTIONS["ArchiveFunction"]["Properties"]["Policies"] for s in p.get("Statement", [])]
    (s3,) = [s for s in statements if any(action.startswith("s3:") for action in s["Action"])]
    assert s3["Resource"] == {"Fn::Sub": "${ArchiveBucket.Arn}/videos/*"}


def test_the_signing_secret_and_the_table_outlive_the_stack():
    for name in ("WebhookSecret", "JobsTable"):
        assert RESOURCES[name]["DeletionPolicy"] == RESOURCES[name]["UpdateReplacePolicy"] == "Retain", name


# -- DynamoDB: each function gets exactly the actions its code path calls ------------------------------------
# The table adapters, and the modules (use cases) that call them, with the functions that run each module.
# Paths inside the package, without `.py`: a caller is a module, or a package of modules (`services/poller`).
ADAPTERS = {
    "adapters/job_store.py": "DynamoJobStore",
    "adapters/coordination.py": "DynamoRunCoordination",
    "adapters/inbound_store.py": "DynamoEarlyCallbacks",
}
CALLERS = {
    "services/poller": ["PollerFunction", "PollerWorkerFunction"],
    "observability": ["PollerFunction"],  # record_backlog: only functions/poller/app.py calls it
    "services/tracking": ["ApiFunction"],
    "services/redelivery": ["ApiFunction"],
    "services/archive": ["ArchiveFunction"],
    "services/webhook_delivery": ["WebhookFunction"],
    "services/inbound": ["InboundFunction"],
    "services/pushed": ["ApiFunction", "InboundFunction"],  # a pushed reading recorded: inbound, and tracking
}
# How the use cases name the adapters they are given (self._store, store, self._coordination, self._jobs ...).
ADAPTER_RECEIVER = re.compile(r"_?(\w+_)?(store|coordination|jobs|deliveries)$")
INDEX = "index/due"
TABLE_INDEX = "${JobsTable.Arn}/index/due"
TABLE = "table"


def adapter_methods() -> dict[str, set[str]]:
    """Adapter method -> the DynamoDB actions it calls, directly or through its class's other methods
    (`self._client.put_item` -> PutItem); a Query is on the `due` index (checked: every query names it)."""
    found: dict[str, set[str]] = {}
    for file, class_name in ADAPTERS.items():
        tree = ast.parse((PACKAGE / file).read_text(encoding="utf-8"))
        (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
        direct: dict[str, set[str]] = {}
        uses: dict[str, set[str]] = {}
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef):
                continue
            direct[method.name], uses[method.name] = set(), set()
            for node in ast.walk(method):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value
                if isinstance(owner, ast.Attribute) and owner.attr == "_client":
                    direct[method.name].add("".join(part.title() for part in node.attr.split("_")))
                elif isinstance(owner, ast.Name) and owner.id == "self":
                    uses[method.name].add(node.attr)
            if "Query" in direct[method.name]:
                assert "DUE_INDEX" in ast.unparse(method), f"{class_name}.{method.name} queries the base table"

        for name in direct:
            if name.startswith("_"):  # private: counted in the public methods that use it
                continue
            assert name not in found, f"{name} is a method of two adapters: tell them apart here"
            found[name] = _closure(name, direct, uses)
    return found


def _closure(
    name: str, direct: dict[str, set[str]], uses: dict[str, set[str]], seen: frozenset[str] = frozenset()
) -> set[str]:
    """The actions of a method and of every method of its class it uses, transitively."""
    actions = set(direct.get(name, set()))
    for other in uses.get(name, set()) - seen - {name}:
        actions |= _closure(other, direct, uses, seen | {name})
    return actions


def required_actions() -> dict[str, dict[str, set[str]]]:
    """Function -> {resource: actions} its code calls, from every adapter method each module references."""
    methods = adapter_methods()
    required: dict[str, dict[str, set[str]]] = {name: {} for name in FUNCTIONS}
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).as_posix()
        if module in ADAPTERS or module == "runtime.py" or module.startswith("cli/"):
            continue
        referenced = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in methods:
                owner = node.value
                receiver = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if ADAPTER_RECEIVER.fullmatch(receiver) and methods[node.attr]:
                    referenced.add(node.attr)
        if not referenced:
            continue
        caller = next((c for c in CALLERS if module.removesuffix(".py") == c or module.startswith(c + "/")), None)
        assert caller is not None, f"{module} calls the table ({sorted(referenced)}): add it to CALLERS"
        for function in CALLERS[caller]:
            for method in referenced:
                for action in methods[method]:
                    resource = INDEX if action == "Query" else TABLE
                    required[function].setdefault(resource, set()).add(f"dynamodb:{action}")
    return required


def granted_actions(function: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        assert not any(name.startswith("DynamoDB") for name in policy), f"{function}: {policy} (a SAM template)"
        for statement in policy.get("Statement", []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            dynamodb = {a for a in actions if a.startswith("dynamodb:")}
            if not dynamodb:
                continue
            assert statement["Effect"] == "Allow" and "*" not in "".join(dynamodb)
            resources = {json.dumps(getatt("JobsTable", "Arn")): TABLE, json.dumps({"Fn::Sub": TABLE_INDEX}): INDEX}
            resource = resources[json.dumps(statement["Resource"])]
            granted.setdefault(resource, set()).update(dynamodb)
    return granted


def test_poller_records_backlog_only_in_the_scheduled_function():
    callers = [p.parent.name for p in ROOT.glob("functions/*/app.py") if "record_backlog" in p.read_text()]
    assert callers == ["poller"]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_gets_exactly_the_dynamodb_actions_its_code_calls(function):
    required = required_actions()
    assert granted_actions(function) == required[function]


def test_the_mapping_is_what_the_template_comment_says():
    """A readable summary, kept honest: the template's comment lists these same actions."""
    required = required_actions()
    assert required["PollerFunction"] == {
        TABLE: {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem"},
        INDEX: {"dynamodb:Query"},
    }
    assert required["PollerWorkerFunction"] == required["PollerFunction"]
    # DeleteItem: tracking takes the callbacks kept for a job not tracked yet (adapters/inbound_store.py)
    assert required["ApiFunction"] == {
        TABLE: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    }
    assert required["InboundFunction"] == {
        TABLE: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    }
    assert required["ArchiveFunction"] == {TABLE: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
    assert required["WebhookFunction"] == {TABLE: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
    assert all("dynamodb:Scan" not in actions for per in required.values() for actions in per.values())


# -- the scanner's configuration ----------------------------------------------------------------------------
def test_every_skipped_scanner_check_has_its_reason():
    path = ROOT / ".checkov.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    skipped = config["skip-check"]
    assert skipped and len(set(skipped)) == len(skipped)
    lines = path.read_text(encoding="utf-8").splitlines()
    for check in skipped:
        (at,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        above = at - 1
        while lines[above].strip().startswith("- CKV"):  # checks sharing one reason
            above -= 1
        assert lines[above].strip().startswith("#"), f"{check} is skipped without a comment giving the reason"
    assert config["framework"] == ["cloudformation"] and config["skip-download"] is True


@pytest.mark.parametrize(
    "value",
    [
        "",
        "arn:aws:iam::123456789012:role/ops",
        "arn:aws:iam::123456789012:role/ops, arn:aws:sts::123456789012:assumed-role/ci/session-1",
        "arn:aws-cn:iam::123456789012:user/team/alice",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::123456789012:role/ops;drop",
        "ops",
        "arn:aws:iam::12345:role/ops",
    ],
)
def test_the_template_accepts_exactly_the_operator_principals_the_api_can_read(value):
    pattern = TEMPLATE["Parameters"]["OperatorPrincipals"]["AllowedPattern"]
    try:
        parse_principals(value)
        readable = True
    except ConfigError:
        readable = False
    assert bool(re.fullmatch(pattern, value)) == readable
