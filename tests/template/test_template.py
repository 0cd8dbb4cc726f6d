"""template.yaml is valid, builds, and declares every variable the code reads."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from videohook.config import Settings

from devtools.local_invoke import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"
TEMPLATE = load_template(ROOT / "template.yaml")


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
    assert (layer / "videohook" / "poller.py").is_file()
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


def test_every_variable_the_code_reads_is_declared():
    declared = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
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
    from videohook.poller import SAFETY_MARGIN_S

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
