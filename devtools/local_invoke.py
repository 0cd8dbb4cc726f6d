"""A Docker-free ``sam local invoke``.

Reads ``template.yaml`` the way the SAM CLI does (short tags, Globals, parameter defaults, ``--env-vars``
overrides that only touch declared variables) and runs one function's handler on an event through AWS's own
runtime pieces: the Lambda Runtime Interface Emulator that the SAM CLI ships and ``awslambdaric``, the
runtime interface client of the official Python images, both on 127.0.0.1 (:mod:`devtools.lambda_emulator`).
A fresh emulator and runtime serve each invoke, so every invoke is a cold start and the handler modules of
different functions (all named ``app``) never meet in one interpreter.

    python -m devtools.local_invoke PollerFunction -e events/poller-schedule.json [--env-vars env.json]

The emulator's and the function's logs go to stderr, the response JSON to stdout; the exit code is 1 on a
function error.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devtools import lambda_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]

# What `sam local` substitutes for the pseudo parameters when no stack exists.
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT_ID = "123456789012"
PSEUDO_PARAMETERS: dict[str, Any] = {
    "AWS::Region": LOCAL_REGION,
    "AWS::AccountId": LOCAL_ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "local",
    "AWS::StackId": f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:stack/local/"
    "51af3dc0-da77-11e4-872e-1234567db123",
    "AWS::NotificationARNs": [],
}

# Lambda's defaults when the template does not say.
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128
# local_invoke gives the emulator this long beyond the function's Timeout (which the emulator enforces itself)
# before killing it.
KILL_GRACE_S = 10.0

# Variables copied from the caller's environment into the function's (plus every AWS_* one).
PASSTHROUGH_VARIABLES = ("PATH", "HOME", "LANG", "TZ", "PYTHONHASHSEED")


class TemplateError(ValueError):
    """The template cannot describe a locally runnable function."""


# --------------------------------------------------------------------------------------------------
# Template loading
# --------------------------------------------------------------------------------------------------

_SHORT_TAGS = (
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "Join",
    "If",
    "Equals",
    "Select",
    "Split",
    "FindInMap",
    "Not",
    "And",
    "Or",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
    "Transform",
    "Length",
    "ToJsonString",
)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short tags (``!Ref``, ``!Sub``, ...)."""


def _construct_short_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix.lstrip("!")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"
    return {key: value}


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # `AWSTemplateFormatVersion: 2010-09-09` must stay a string, as CloudFormation reads it.
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _construct_short_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


class Template(dict[str, Any]):
    """A parsed template that remembers its file, so relative CodeUri/ContentUri can be resolved."""

    path: Path | None = None


def load_template(path: str | os.PathLike[str]) -> Template:
    """Parse a SAM/CloudFormation template, turning short tags into their long ``Fn::`` forms."""
    file = Path(path).resolve()
    data = yaml.load(file.read_text(encoding="utf-8"), Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError(f"{file}: not a template (top level is {type(data).__name__})")
    template = Template(data)
    template.path = file
    return template


# --------------------------------------------------------------------------------------------------
# Intrinsic functions, resolved the way `sam local` does without a stack
# --------------------------------------------------------------------------------------------------

_NO_VALUE = object()  # AWS::NoValue: the property disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def stringify(value: Any) -> str:
    """Turn a resolved value into an environment variable value, like SAM (dicts, lists, None -> "")."""
    if value is None or value is _NO_VALUE or isinstance(value, dict | list | tuple):
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and resource logical ids.

    ``Ref`` to a resource gives its logical id and ``Fn::GetAtt`` gives ``"LogicalId.Attr"`` (there is no
    stack to ask); whatever cannot be resolved locally (``Fn::ImportValue``, ``Fn::Cidr``...) gives None.
    """

    def __init__(self, template: Mapping[str, Any], parameter_overrides: Mapping[str, Any] | None = None) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        self.mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}
        overrides = dict(parameter_overrides or {})
        self.parameters: dict[str, Any] = {}
        for name, declaration in (template.get("Parameters") or {}).items():
            if name in overrides:
                self.parameters[name] = overrides[name]
            elif isinstance(declaration, dict) and "Default" in declaration:
                self.parameters[name] = declaration["Default"]
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
            "Fn::GetAZs": lambda _arg: [f"{LOCAL_REGION}{zone}" for zone in "abc"],
            "Fn::Equals": self._condition_value,
            "Fn::Not": self._condition_value,
            "Fn::And": self._condition_value,
            "Fn::Or": self._condition_value,
        }
        self._condition_cache: dict[str, bool] = {}

    # -- entry points ------------------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic function inside ``node``; unresolvable ones become None."""
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, argument),) = node.items()
                if key == "Ref" or key.startswith("Fn::"):
                    function = self._functions.get(key)
                    return function(argument) if function else None
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not _NO_VALUE}
        if isinstance(node, list):
            return [item for item in (self.resolve(item) for item in node) if item is not _NO_VALUE]
        return node

    def text(self, node: Any) -> str:
        """Resolve ``node`` and stringify it for the environment."""
        return stringify(self.resolve(node))

    def condition(self, name: str) -> bool:
        """Evaluate a named entry of the template's Conditions section."""
        if name not in self._condition_cache:
            self._condition_cache[name] = False  # guards against cycles
            self._condition_cache[name] = self._evaluate(self.conditions.get(name, False))
        return self._condition_cache[name]

    # -- functions ---------------------------------------------------------------------------------

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return None
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return name
        return None

    def _sub(self, argument: Any) -> Any:
        if isinstance(argument, list) and len(argument) == 2:
            text, variables = argument
        else:
            text, variables = argument, {}
        if not isinstance(text, str):
            return None
        variables = variables if isinstance(variables, dict) else {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return stringify(self.resolve(variables[name]))
            value = self._ref(name)
            if value is None and "." in name:
                value = self._get_att(name.split(".", 1))
            return match.group(0) if value is None else stringify(value)

        return _SUB_VARIABLE.sub(substitute, text)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        resource, attribute = argument[0], self.resolve(argument[1])
        return f"{resource}.{attribute}"

    def _join(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        delimiter, items = argument[0], self.resolve(argument[1])
        if not isinstance(items, list) or any(item is None for item in items):
            return None
        return str(delimiter).join(stringify(item) for item in items)

    def _select(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        index, items = self.resolve(argument[0]), self.resolve(argument[1])
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError):
            return None

    def _split(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            return None
        source = self.resolve(argument[1])
        return source.split(str(argument[0])) if isinstance(source, str) else None

    def _if(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            return None
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _find_in_map(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) < 3:
            return None
        map_name, top, second = (self.resolve(part) for part in argument[:3])
        try:
            return self.mappings[map_name][top][second]
        except (KeyError, TypeError):
            return None

    def _base64(self, argument: Any) -> Any:
        value = self.resolve(argument)
        return base64.b64encode(value.encode()).decode() if isinstance(value, str) else None

    def _condition_value(self, argument: Any) -> Any:
        raise TemplateError(f"condition function outside a condition: {argument!r}")

    def _evaluate(self, node: Any) -> bool:
        """Evaluate a condition expression (Fn::Equals / Not / And / Or / Condition)."""
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            return bool(self.resolve(node))
        ((key, argument),) = node.items()
        if key == "Condition":
            return self.condition(str(argument))
        if key == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            left, right = (stringify(self.resolve(part)) for part in argument)
            return left == right
        if key == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            return not self._evaluate(argument[0])
        if key == "Fn::And" and isinstance(argument, list):
            return all(self._evaluate(part) for part in argument)
        if key == "Fn::Or" and isinstance(argument, list):
            return any(self._evaluate(part) for part in argument)
        return bool(self.resolve(node))


# --------------------------------------------------------------------------------------------------
# Function specs
# --------------------------------------------------------------------------------------------------

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


@dataclass
class FunctionSpec:
    """Everything needed to run one function locally, resolved from the template."""

    logical_id: str
    code_dir: Path
    handler: str
    layer_dirs: list[Path]
    timeout: int
    memory_size: int
    environment: dict[str, str]
    remote_layers: list[str] = field(default_factory=list)
    runtime: str | None = None


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge key by key, lists concatenate (globals first), the function wins."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def function_names(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the template's functions."""
    resources = template.get("Resources") or {}
    return [name for name, resource in resources.items() if (resource or {}).get("Type") in FUNCTION_TYPES]


def _template_dir(template: Mapping[str, Any]) -> Path:
    path = getattr(template, "path", None)
    return path.parent if isinstance(path, Path) else Path.cwd()


def _local_dir(base: Path, uri: Any, what: str) -> Path:
    if uri is None:
        return base
    if not isinstance(uri, str) or uri.startswith("s3://"):
        raise TemplateError(f"{what} {uri!r} is not a local directory; `sam build` output is not supported")
    return (base / uri).resolve()


def _layer_dir(base: Path, resource: Mapping[str, Any], resolver: Resolver) -> Path:
    properties = resource.get("Properties") or {}
    uri = resolver.resolve(properties.get("ContentUri", properties.get("Content")))
    directory = _local_dir(base, uri, "layer ContentUri")
    # Built by `sam build` (Metadata.BuildMethod): the source dir is the package root. Otherwise the
    # directory is the layer as Lambda unpacks it into /opt, where Python code lives under python/.
    built_by_sam = bool((resource.get("Metadata") or {}).get("BuildMethod"))
    if not built_by_sam and (directory / "python").is_dir():
        return directory / "python"
    return directory


def function_spec(
    template: Mapping[str, Any],
    logical_id: str,
    *,
    parameter_overrides: Mapping[str, Any] | None = None,
) -> FunctionSpec:
    """Resolve one function of ``template`` (Globals.Function merged in) into a :class:`FunctionSpec`."""
    resources = template.get("Resources") or {}
    resource = resources.get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") not in FUNCTION_TYPES:
        raise TemplateError(f"{logical_id!r} is not a function; functions: {', '.join(function_names(template))}")
    resolver = Resolver(template, parameter_overrides)
    properties: dict[str, Any] = resource.get("Properties") or {}
    if resource["Type"] == "AWS::Serverless::Function":
        properties = merge_globals((template.get("Globals") or {}).get("Function") or {}, properties)
    if properties.get("PackageType") == "Image":
        raise TemplateError(f"{logical_id}: image functions need `sam local invoke`")

    base = _template_dir(template)
    code_dir = _local_dir(base, resolver.resolve(properties.get("CodeUri", properties.get("Code"))), "CodeUri")
    handler = resolver.text(properties.get("Handler"))
    if not handler or "." not in handler:
        raise TemplateError(f"{logical_id}: Handler {handler!r} is not module.function")

    layer_dirs: list[Path] = []
    remote_layers: list[str] = []
    for layer in properties.get("Layers") or []:
        ref = layer.get("Ref") if isinstance(layer, dict) and len(layer) == 1 else None
        target = resources.get(ref) if isinstance(ref, str) else None
        if isinstance(target, dict) and target.get("Type") in LAYER_TYPES:
            layer_dirs.append(_layer_dir(base, target, resolver))
        else:
            # A published layer (e.g. Powertools): locally, the virtualenv provides its packages.
            remote_layers.append(resolver.text(layer))

    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=code_dir,
        handler=handler,
        layer_dirs=layer_dirs,
        remote_layers=remote_layers,
        timeout=int(float(resolver.text(properties.get("Timeout", DEFAULT_TIMEOUT_S)))),
        memory_size=int(float(resolver.text(properties.get("MemorySize", DEFAULT_MEMORY_MB)))),
        environment={name: resolver.text(value) for name, value in variables.items()},
        runtime=resolver.text(properties.get("Runtime")) or None,
    )


def apply_env_overrides(spec: FunctionSpec, overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """Apply ``--env-vars`` style overrides: "Parameters" for all, the function's own section wins.

    Only variables the function declares are touched; other names are ignored, exactly like SAM.
    """
    environment = dict(spec.environment)
    for section in ("Parameters", spec.logical_id):
        values = (overrides or {}).get(section) or {}
        if not isinstance(values, dict):
            raise TemplateError(f"env overrides: section {section!r} must be an object")
        for name, value in values.items():
            if name in environment:
                environment[name] = stringify(value)
    return environment


def build_environment(
    spec: FunctionSpec,
    *,
    env_overrides: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    request_log_stream: str | None = None,
) -> dict[str, str]:
    """The environment a Lambda container would see: a few basics, AWS_* from the caller, the function's
    declared (resolved, overridden) variables, then Lambda's own variables."""
    source = os.environ if base_env is None else base_env
    environment = {name: source[name] for name in PASSTHROUGH_VARIABLES if name in source}
    environment.update({name: value for name, value in source.items() if name.startswith("AWS_")})
    environment.update(extra_env or {})
    # As SAM does for a declared variable the shell also sets (samcli's env_vars resolve()), an AWS_* name the
    # caller sets wins over the template's default (AWS_ENDPOINT_URL is declared empty so that --env-vars can
    # point a function at a local AWS); --env-vars still wins over both.
    caller = {**source, **(extra_env or {})}
    declared = {
        name: caller[name] if name.startswith("AWS_") and name in caller else value
        for name, value in spec.environment.items()
    }
    environment.update(apply_env_overrides(dataclasses.replace(spec, environment=declared), env_overrides))
    # No credentials the caller could resolve (environment, profile, SSO...): SAM's local defaults, so that a
    # function pointed at a local AWS can still sign its requests.
    if "AWS_ACCESS_KEY_ID" not in environment and not _caller_has_credentials():
        environment.update({"AWS_ACCESS_KEY_ID": "defaultkey", "AWS_SECRET_ACCESS_KEY": "defaultsecret"})
    region = environment.get("AWS_REGION") or environment.get("AWS_DEFAULT_REGION") or LOCAL_REGION
    environment.setdefault("AWS_REGION", region)
    environment.setdefault("AWS_DEFAULT_REGION", region)
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": request_log_stream or _log_stream_name(),
            "AWS_SAM_LOCAL": "true",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
    )
    return environment


def _caller_has_credentials() -> bool:
    import boto3

    try:
        return boto3.session.Session().get_credentials() is not None
    except Exception:  # a broken profile: the function will say so itself
        return True


def _log_stream_name() -> str:
    return time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex


# --------------------------------------------------------------------------------------------------
# Invoking: on the Lambda Runtime Interface Emulator and awslambdaric (devtools.lambda_emulator)
# --------------------------------------------------------------------------------------------------


@dataclass
class InvokeResult:
    """What one invoke returned: the payload, or a Lambda-style error, plus everything it logged."""

    payload: Any  # the JSON the handler returned (None for null or on error)
    error: dict[str, Any] | None
    logs: str  # the emulator's output: START/END/REPORT, its errors, the function's stdout and stderr
    returncode: int  # 0: a payload; 1: an error; N: the runtime exited with status N; -SIGKILL: killed at `timeout`
    duration_s: float  # wall time, from starting the emulator (the cold start included) to its answer

    @property
    def ok(self) -> bool:
        return self.error is None


def invoke(
    logical_id: str,
    event: Any,
    *,
    template_path: str | os.PathLike[str] = "template.yaml",
    env_overrides: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    parameter_overrides: Mapping[str, Any] | None = None,
) -> InvokeResult:
    """Run ``logical_id``'s handler on ``event`` in a fresh runtime, as ``sam local invoke`` would.

    ``env_overrides`` uses the ``--env-vars`` format; ``extra_env`` adds variables (e.g. AWS_ENDPOINT_URL)
    before the function's own; ``timeout`` replaces the kill deadline of the function's Timeout + 10 s.
    """
    spec = function_spec(load_template(template_path), logical_id, parameter_overrides=parameter_overrides)
    return invoke_spec(spec, event, env_overrides=env_overrides, extra_env=extra_env, timeout=timeout)


def invoke_spec(
    spec: FunctionSpec,
    event: Any,
    *,
    env_overrides: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> InvokeResult:
    """Like :func:`invoke`, for an already resolved :class:`FunctionSpec`.

    The function runs through the Lambda Runtime Interface Emulator with awslambdaric as its runtime (see
    :mod:`devtools.lambda_emulator`), which enforce its Timeout and report its errors; local_invoke only
    kills the emulator if it has not answered ``timeout`` seconds after starting (default: Timeout + 10 s).
    """
    environment = build_environment(spec, env_overrides=env_overrides, extra_env=extra_env)
    environment.update(runtime_environment(spec))
    limit = float(timeout) if timeout is not None else spec.timeout + KILL_GRACE_S
    outcome = lambda_emulator.run(
        code_dir=spec.code_dir,
        layer_dirs=spec.layer_dirs,
        handler=spec.handler,
        environment=environment,
        event=event,
        limit=limit,
    )
    return InvokeResult(outcome.payload, outcome.error, outcome.logs, outcome.returncode, outcome.duration_s)


def runtime_environment(spec: FunctionSpec) -> dict[str, str]:
    """What Lambda's managed runtime adds to a function's environment (the emulator adds the Runtime API's)."""
    environment = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}
    if spec.runtime and spec.runtime.startswith("python"):
        environment["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    return environment


class LambdaContext:
    """The parts of Lambda's context object handlers and Powertools use, for calling a handler in-process
    (devtools.local_stack); invokes get awslambdaric's own."""

    def __init__(self, function_name: str, memory_limit_in_mb: int, timeout_s: int, log_stream_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def start_clock(self) -> None:
        """Start the countdown; called right before the handler runs, like Lambda's deadline."""
        self._deadline = time.monotonic() + self._timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def parse_parameter_overrides(values: Iterable[str]) -> dict[str, str]:
    """Accept SAM's ``Key=Value`` and ``ParameterKey=Key,ParameterValue=Value`` forms."""
    overrides: dict[str, str] = {}
    for value in values:
        for item in value.split():
            match = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", item)
            if match:
                overrides[match.group(1)] = match.group(2)
            elif "=" in item:
                key, _, text = item.partition("=")
                overrides[key] = text
            else:
                raise argparse.ArgumentTypeError(f"parameter override {item!r} is not Key=Value")
    return overrides


def _read_event(path: str | None) -> Any:
    if path is None:
        return {}
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text) if text.strip() else {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.local_invoke",
        description="Invoke a function of template.yaml locally without Docker, like `sam local invoke`.",
    )
    parser.add_argument("function", nargs="?", help="logical id (optional when the template has one function)")
    parser.add_argument("-e", "--event", help="event JSON file ('-' for stdin); default {}")
    parser.add_argument("-n", "--env-vars", help='JSON file: {"Parameters": {...}, "<LogicalId>": {...}}')
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("-t", "--template", "--template-file", default="template.yaml")
    parser.add_argument("--timeout", type=float, help="kill the invoke after this many seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    options = parser.parse_args(arguments)
    template = load_template(options.template)
    name = options.function
    if name is None:
        functions = function_names(template)
        if len(functions) != 1:
            parser.error(f"choose a function: {', '.join(functions)}")
        name = functions[0]
    env_vars = json.loads(Path(options.env_vars).read_text(encoding="utf-8")) if options.env_vars else None
    try:
        overrides = parse_parameter_overrides(options.parameter_overrides)
        spec = function_spec(template, name, parameter_overrides=overrides)
    except (TemplateError, argparse.ArgumentTypeError) as problem:
        parser.error(str(problem))
    try:
        result = invoke_spec(spec, _read_event(options.event), env_overrides=env_vars, timeout=options.timeout)
    except lambda_emulator.EmulatorUnavailable as problem:
        parser.exit(2, f"{parser.prog}: error: {problem}\n")
    sys.stderr.write(result.logs)
    sys.stderr.flush()
    print(json.dumps(result.error if result.error is not None else result.payload))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
