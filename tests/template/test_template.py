"""template.yaml is valid, builds, and gives each function exactly the variables its code reads."""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from videohook import config
from videohook.config import Settings

from devtools.local_invoke import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"
TEMPLATE = load_template(ROOT / "template.yaml")
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
LAYER_SOURCE = ROOT / TEMPLATE["Resources"]["CommonLayer"]["Properties"]["ContentUri"]
LAYER_PACKAGE = LAYER_SOURCE / "videohook"
# Never in CommonLayer: the `videohook` command (its own package, cli/videohook_cli) and the repository's tooling.
NOT_FOR_LAMBDA = ("videohook_cli", "videohook.cli", "devtools", "bench", "tests")


def layer_pins() -> dict[str, str]:
    """Distribution (canonical name) -> version, as pinned in layers/common/requirements.txt."""
    pins = {}
    for raw in LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
            assert match, f"every line of {LAYER_REQUIREMENTS.name} pins one distribution exactly: {line!r}"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def sam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert SAM.exists(), "the SAM CLI is installed by `make setup` into .venv-sam"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0")}
    return subprocess.run([str(SAM), *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


class RecordingEnv(dict):
    """An environment that remembers every name asked of it."""

    def __init__(self, values):
        super().__init__(values)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


@pytest.mark.slow
def test_sam_validate_lint_passes():
    result = sam("validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_succeeds_with_the_shared_package_in_the_layer(tmp_path):
    if shutil.which("python3.13") is None and not Path.home().joinpath(".pyenv/versions/3.13.0").exists():
        pytest.fail("sam build needs python3.13 (pyenv 3.13.0) on this machine")
    build_dir = tmp_path / "build"
    result = sam("build", "--build-dir", str(build_dir), "--no-cached")
    assert result.returncode == 0, result.stdout + result.stderr
    layer = build_dir / "CommonLayer" / "python"
    # The shared package as it is in layers/common, and nothing else of the repository: no CLI, no tooling
    built_modules = sorted(path.relative_to(layer).as_posix() for path in (layer / "videohook").rglob("*.py"))
    assert built_modules == sorted(path.relative_to(LAYER_SOURCE).as_posix() for path in LAYER_PACKAGE.rglob("*.py"))
    assert not (layer / "videohook" / "cli").exists()
    assert [name for name in ("videohook_cli", "devtools", "bench", "tests") if (layer / name).exists()] == []
    assert (layer / "httpx").is_dir()
    # aiohttp has compiled parts: the layer must hold the ones for Lambda's arm64 python3.13, not this machine's
    compiled = list((layer / "aiohttp").glob("_http_parser.*.so"))
    assert compiled and all("cpython-313-aarch64-linux-gnu" in path.name for path in compiled), compiled
    assert all("aarch64" in path.name for path in layer.glob("*/*.so")), list(layer.glob("*/*.so"))
    assert (build_dir / "PollerWorkerFunction" / "app.py").is_file()
    assert (layer / "standardwebhooks").is_dir()
    assert (build_dir / "PollerFunction" / "app.py").is_file()
    assert (build_dir / "ApiFunction" / "app.py").is_file()
    assert (build_dir / "WebhookFunction" / "app.py").is_file()
    # Deployed = tested: Powertools is in the layer at the pinned version, and so is every distribution the
    # layer holds (the functions' own folders add none): each pinned, each at the version the tests import.
    assert (layer / "aws_lambda_powertools" / "shared" / "version.py").is_file()
    built = {}
    for dist_info in layer.glob("*.dist-info"):
        metadata = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        built[canonicalize_name(metadata["Name"])] = metadata["Version"]
    pins = layer_pins()
    assert built == pins, {"unpinned or other version": built.items() - pins.items()}
    assert built["aws-lambda-powertools"] == importlib.metadata.version("aws-lambda-powertools")
    assert {name: importlib.metadata.version(name) for name in built} == built
    for function in ("PollerFunction", "PollerWorkerFunction", "ApiFunction", "WebhookFunction"):
        assert not list((build_dir / function).glob("*.dist-info")), f"{function} ships packages of its own"


def imported(path: Path, module: str) -> set[str]:
    """The modules `path` (module `module`) imports, read from its source (nothing run): at module level and
    inside functions alike, relative imports made absolute, `from a import b` counted as `a` and `a.b`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return names


def prefixes(name: str) -> list[str]:
    """`a.b.c` -> `a`, `a.b`, `a.b.c`: importing a module imports its packages first."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def test_the_layer_holds_only_what_the_functions_import():
    # Given what CommonLayer ships (its ContentUri; the builder leaves out __pycache__ and *.egg-info)
    shipped = {path.name for path in LAYER_SOURCE.iterdir()} - {"__pycache__"}
    assert {name for name in shipped if not name.endswith(".egg-info")} == {"videohook", "requirements.txt"}
    modules = {
        ".".join(path.relative_to(LAYER_SOURCE).with_suffix("").parts).removesuffix(".__init__"): path
        for path in LAYER_PACKAGE.rglob("*.py")
    }
    # When the imports are followed from every function's handler
    reached: set[str] = set()
    todo = [name for app in ROOT.glob("functions/*/app.py") for name in imported(app, "app")]
    while todo:
        for module in prefixes(todo.pop()):
            if module in modules and module not in reached:
                reached.add(module)
                todo.extend(imported(modules[module], module))
    # Then every module of the layer is one a function imports (the CLI and the dev tooling live elsewhere) ...
    assert sorted(set(modules) - reached) == []
    # ... and none of them imports the CLI or the repository's tooling, not even inside a function
    tooling = {
        module: sorted(name for name in imported(path, module) if set(prefixes(name)) & set(NOT_FOR_LAMBDA))
        for module, path in modules.items()
    }
    assert {module: names for module, names in tooling.items() if names} == {}


# -- environment variables: each function declares exactly what its code path reads ------------------------
FUNCTIONS = {
    name: r["Properties"] for name, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
}
GLOBAL_VARIABLES = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
# Read by Powertools (videohook.observability's logger and metrics), which every handler imports.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# Read by boto3 itself in every function: declared (empty) so that --env-vars can point it at a local AWS.
BOTO3_VARIABLES = {"AWS_ENDPOINT_URL"}
# Enough for every reader to succeed: the others are optional.
SAMPLE_ENV = {
    "JOBS_TABLE": "t",
    "PROVIDERS": '{"p": {"base_url": "https://x", "api_key_secret": "s"}}',
    "POLLER_WORKERS": "2",
    "POLLER_WORKER_FUNCTION": "w",
}
BUILDERS = {
    node.name: node
    for node in ast.parse((LAYER_PACKAGE / "runtime.py").read_text(encoding="utf-8")).body
    if isinstance(node, ast.FunctionDef)
}


def config_loaded_by(function: str) -> tuple[set[str], bool]:
    """The config sections a function's handler loads, and whether it loads the fan-out: the
    `load_settings(<sections>)` and `load_fan_out()` calls in its app.py and in every runtime builder it calls,
    followed through the builders they call (read from the source, nothing run)."""
    properties = FUNCTIONS[function]
    handler = ROOT / properties["CodeUri"] / (properties["Handler"].rpartition(".")[0] + ".py")
    app = ast.parse(handler.read_text(encoding="utf-8"))
    from_runtime = {
        alias.asname or alias.name
        for node in ast.walk(app)
        if isinstance(node, ast.ImportFrom) and node.module == "videohook.runtime"
        for alias in node.names
    }
    assert "runtime" not in {n.id for n in ast.walk(app) if isinstance(n, ast.Name)}, "call builders by name"
    sections: set[str] = set()
    fan_out = False
    todo, seen = [app], set()
    while todo:
        unit = todo.pop()
        for call in [n for n in ast.walk(unit) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]:
            name = call.func.id
            if name == "load_settings":
                assert call.args, f"{function}: load_settings() without a section reads every variable"
                assert all(isinstance(arg, ast.Name) for arg in call.args), ast.unparse(call)
                sections |= {arg.id for arg in call.args if isinstance(arg, ast.Name)}
            elif name == "load_fan_out":
                fan_out = True
            elif name in BUILDERS and name not in seen and (unit is not app or name in from_runtime):
                seen.add(name)
                todo.append(BUILDERS[name])
    return sections, fan_out


def variables_read_by(function: str) -> set[str]:
    """What the config sections (and fan-out) the function loads ask of the environment, as config.py reads it."""
    sections, fan_out = config_loaded_by(function)
    assert sections, f"{function} loads no settings"
    env = RecordingEnv(SAMPLE_ENV)
    Settings.from_env(env, *(getattr(config, name) for name in sorted(sections)))
    if fan_out:
        config.FanOut.from_env(env)
    return env.asked | POWERTOOLS_VARIABLES | BOTO3_VARIABLES


def declared_variables(function: str) -> set[str]:
    """Globals' variables and the function's own, as SAM merges them."""
    return GLOBAL_VARIABLES | set((FUNCTIONS[function].get("Environment") or {}).get("Variables") or {})


def test_configuration_is_read_only_through_the_runtime_builders_and_the_handlers():
    """What the test below follows is all there is: no other module of the layer loads settings or reads the
    environment itself."""
    loaders = {"load_settings", "load_fan_out", "from_env", "environ", "getenv"}
    for path in LAYER_PACKAGE.rglob("*.py"):
        if path.name in ("config.py", "runtime.py") or "cli" in path.relative_to(LAYER_PACKAGE).parts:
            continue
        nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
        used = {n.id for n in nodes if isinstance(n, ast.Name)} | {
            n.attr for n in nodes if isinstance(n, ast.Attribute)
        }
        assert not used & loaders, f"{path.relative_to(ROOT)} reads configuration"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_variable_the_code_reads_is_declared(function):
    """Per function: every variable its code path reads is declared (`sam local invoke --env-vars` overrides
    only declared names), and nothing is declared that it never reads (the template says what it depends on)."""
    read, declared = variables_read_by(function), declared_variables(function)
    assert declared == read, {"read, not declared": read - declared, "declared, never read": declared - read}


def test_globals_hold_what_every_function_reads_and_nothing_else():
    read_by_every_function = set.intersection(*(variables_read_by(function) for function in FUNCTIONS))
    assert read_by_every_function == GLOBAL_VARIABLES


def test_the_sections_each_function_loads():
    """A readable summary of what the derivation above finds (config.py says what each section reads)."""
    assert config_loaded_by("PollerFunction") == ({"JOBS", "POLLING", "EVENTS"}, True)
    assert config_loaded_by("PollerWorkerFunction") == ({"JOBS", "POLLING", "EVENTS"}, False)
    assert config_loaded_by("ApiFunction") == ({"JOBS", "TRACKING", "REDELIVERY", "WEBHOOK_QUEUE"}, False)
    assert config_loaded_by("WebhookFunction") == ({"JOBS", "WEBHOOKS", "WEBHOOK_QUEUE"}, False)
    assert config_loaded_by("ArchiveFunction") == ({"JOBS", "ARCHIVE"}, False)
    # the fan-out's variables, the worker function's name among them, are the scheduled function's alone
    fan_out = {"POLLER_WORKERS", "POLLER_WORKER_FUNCTION"}
    assert fan_out <= declared_variables("PollerFunction") and not fan_out & declared_variables("PollerWorkerFunction")


def test_workers_cannot_pile_up_either():
    worker = TEMPLATE["Resources"]["PollerWorkerFunction"]["Properties"]
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "PollerWorkers"}
    assert worker["EventInvokeConfig"]["MaximumEventAgeInSeconds"] <= 120
    assert worker["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    poller = TEMPLATE["Resources"]["PollerFunction"]["Properties"]
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "PollerWorkerFunction"}}} in poller["Policies"]


def test_a_run_sweeps_no_longer_than_its_timeout_allows():
    from videohook.services.poller import SAFETY_MARGIN_S

    poller = TEMPLATE["Resources"]["PollerFunction"]["Properties"]
    sweep = TEMPLATE["Parameters"]["SweepSeconds"]
    assert sweep["MaxValue"] <= poller["Timeout"] - SAFETY_MARGIN_S
    assert sweep["Default"] <= sweep["MaxValue"]


def test_poller_cannot_pile_up_stale_runs():
    poller = TEMPLATE["Resources"]["PollerFunction"]["Properties"]
    assert poller["ReservedConcurrentExecutions"] == 1
    assert poller["EventInvokeConfig"]["MaximumEventAgeInSeconds"] <= 120
    assert poller["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert poller["Events"]["Schedule"]["Properties"]["Schedule"] == {"Ref": "PollSchedule"}
    assert TEMPLATE["Parameters"]["PollSchedule"]["Default"] == "rate(1 minute)"


def test_due_index_is_sparse_and_sharded():
    table = TEMPLATE["Resources"]["JobsTable"]["Properties"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["due_shard", "due_at"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_outputs_name_the_topic_api_and_table():
    assert {"EventsTopicArn", "ApiUrl", "JobsTableName"} <= set(TEMPLATE["Outputs"])


# -- deployed = tested ---------------------------------------------------------------------------------------
def test_no_public_powertools_layer_only_common_layer():
    """The functions get Powertools from CommonLayer (pinned with the rest), never from a public layer."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert "AWSLambdaPowertools" not in text and ":layer:" not in text
    layers = {"Globals": TEMPLATE["Globals"]["Function"].get("Layers")}
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            layers[name] = resource["Properties"].get("Layers")
    assert layers.pop("Globals") == [{"Ref": "CommonLayer"}]
    assert set(layers.values()) == {None}, layers  # no function adds a layer of its own
    common = TEMPLATE["Resources"]["CommonLayer"]
    assert common["Metadata"]["BuildMethod"] == "python3.13" and common["Properties"]["ContentUri"] == "layers/common"


def test_the_tests_run_the_versions_the_layer_pins():
    """What the tests import is what CommonLayer ships: Powertools (and every other pin of the layer)."""
    from aws_lambda_powertools.shared.version import VERSION

    pins = layer_pins()
    assert VERSION == pins["aws-lambda-powertools"] == importlib.metadata.version("aws-lambda-powertools")
    assert {name: importlib.metadata.version(name) for name in pins} == pins
    assert {"aws-lambda-powertools", "boto3", "botocore", "httpx", "aiohttp", "standardwebhooks"} <= set(pins)


def test_one_pin_per_distribution():
    """requirements-dev.txt installs the layer's requirements and pins none of them a second time."""
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert "-r layers/common/requirements.txt" in dev
    dev_pins = {canonicalize_name(line.split("==")[0].split("[")[0]) for line in dev if "==" in line}
    assert not dev_pins & set(layer_pins()), dev_pins & set(layer_pins())


def test_the_function_folders_ship_no_dependencies():
    for requirements in ROOT.glob("functions/*/requirements.txt"):
        lines = [line.split("#", 1)[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
        assert not any(lines), f"{requirements}: dependencies belong in layers/common/requirements.txt"


@pytest.mark.parametrize("service", ["dynamodb", "sns", "sqs", "secretsmanager", "s3", "lambda"])
def test_an_empty_aws_endpoint_url_is_unset_for_boto3_and_a_set_one_is_used(service, monkeypatch):
    """The template declares AWS_ENDPOINT_URL as "" for every function: boto3 must then use AWS's own endpoints."""
    import boto3

    def endpoint() -> str:
        return boto3.session.Session(region_name="eu-west-1").client(service).meta.endpoint_url

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert endpoint().endswith(".amazonaws.com")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert endpoint() == "http://127.0.0.1:4566"
