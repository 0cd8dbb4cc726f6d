"""template.yaml is valid, builds, and declares every variable the code reads."""

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
# Variables only ApiFunction is given (declared on it, not in Globals): the other functions read the default.
API_ONLY_VARIABLES = {"OPERATOR_PRINCIPALS"}


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


def test_every_variable_the_code_reads_is_declared():
    declared = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    api = set(TEMPLATE["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"])
    assert api >= API_ONLY_VARIABLES
    declared |= API_ONLY_VARIABLES
    env = RecordingEnv(
        {
            "JOBS_TABLE": "t",
            "EVENTS_TOPIC_ARN": "a",
            "PROVIDERS": '{"p": {"base_url": "https://x", "api_key_secret": "s"}}',
        }
    )
    Settings.from_env(env)
    assert env.asked <= declared, env.asked - declared


def test_the_fan_out_variables_are_declared_on_the_poller():
    from videohook.config import FanOut

    declared = set(TEMPLATE["Resources"]["PollerFunction"]["Properties"]["Environment"]["Variables"])
    env = RecordingEnv({"POLLER_WORKERS": "2", "POLLER_WORKER_FUNCTION": "w"})
    FanOut.from_env(env)
    assert env.asked <= declared, env.asked - declared


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
