"""Pure parts of the `videohook` command, and its place in the project (a console script from a package of
its own, never loaded by the functions)."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from videohook_cli.errors import CliError
from videohook_cli.render import progress_bar, watch_line
from videohook_cli.state import LocalState, read_state, remove_state, write_state
from videohook_cli.tail import filter_policy

ROOT = Path(__file__).resolve().parents[2]


def test_filters_become_an_sns_filter_policy():
    assert filter_policy([]) is None
    assert filter_policy(["type=video.failed", "provider=hingnet", "type=video.completed"]) == {
        "type": ["video.failed", "video.completed"],
        "provider": ["hingnet"],
    }
    for bad in ("colour=red", "type", "type="):
        with pytest.raises(CliError, match="--filter takes"):
            filter_policy([bad])


def test_progress_bar_is_clamped_and_tolerates_missing_values():
    assert progress_bar(50, width=10) == "[#####.....]  50.0%"
    assert progress_bar(140, width=4) == "[####] 100.0%"
    assert progress_bar(None, width=4) == "[....]   0.0%"
    line = watch_line({"provider": "skyengine", "id": "v", "status": "completed", "progress": 100, "content_url": "u"})
    assert line.endswith("completed  u (needs the provider token)")


def test_state_file_round_trip_and_only_its_owner_removes_it(tmp_path):
    path = tmp_path / "state" / "local.json"
    state = LocalState(1, "http://127.0.0.1:1", "http://127.0.0.1:2", "us-east-1", "arn", "t", 16, "s", 0)
    write_state(path, state)
    assert read_state(path) == state
    assert path.stat().st_mode & 0o777 == 0o600
    remove_state(path, pid=2)
    assert path.exists()
    remove_state(path, pid=1)
    assert not path.exists() and read_state(path) is None


def test_console_script_points_at_the_cli_and_the_package_maps_from_the_layer():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["videohook"] == "videohook_cli:main"
    assert project["tool"]["setuptools"]["package-dir"] == {"": "layers/common"}
    assert "pip install --quiet --no-deps -e ." in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("function", ["poller", "api"])
def test_functions_never_load_the_cli(function):
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import app; "
        "print(sorted(m for m in sys.modules if m.startswith('videohook_cli')))"
    )
    env = {"PATH": "/usr/bin:/bin", "JOBS_TABLE": "t", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "functions" / function), str(ROOT / "layers" / "common")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def make_dry_run(tmp_path: Path, target: str) -> list[str]:
    """What `make <target>` would run in a fresh clone (no virtualenv yet): `make -n` in a copy of the Makefile
    and the files its virtualenvs depend on."""
    for name in ("Makefile", "requirements-dev.txt", "pyproject.toml", "layers/common/requirements.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    # As a user's shell runs it, not as a sub-make of `make test` (MAKEFLAGS/MAKELEVEL would make it print
    # "make[1]: Entering/Leaving directory" lines around what it runs)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def installs_the_sam_cli(lines: list[str]) -> bool:
    return any("pip install" in line and "aws-sam-cli" in line for line in lines)


def test_make_setup_installs_the_command_without_the_sam_cli_and_says_how_to_run_it(tmp_path):
    setup = make_dry_run(tmp_path, "setup")
    assert not installs_the_sam_cli(setup) and not [line for line in setup if "checkov" in line]
    assert any("pip install --quiet --no-deps -e ." in line for line in setup)
    first_pip = next(i for i, line in enumerate(setup) if "pip install" in line)
    assert "setting up .venv" in " ".join(setup[:first_pip])  # said before the minute of pip
    # The runtime emulator the local invokes run on: only the SAM CLI's wheel, unpacked, no dependencies
    (download,) = [line for line in setup if "pip download" in line]
    assert "--no-deps" in download and "aws-sam-cli==" in download
    assert any("samcli/local/rapid/aws-lambda-rie-" in line for line in setup)
    assert "run: .venv/bin/videohook --help (or: source .venv/bin/activate, then videohook --help)" in setup[-1]


@pytest.mark.parametrize("target", ["test", "lint", "build"])
def test_the_targets_that_use_the_sam_cli_install_it(tmp_path, target):
    assert installs_the_sam_cli(make_dry_run(tmp_path, target))


@pytest.mark.parametrize("target", ["demo", "local"])
def test_make_demo_and_local_need_no_sam_cli(tmp_path, target):
    lines = make_dry_run(tmp_path, target)
    assert not installs_the_sam_cli(lines)
    assert any("aws-lambda-rie" in line for line in lines)
