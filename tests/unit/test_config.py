"""Configuration is read and validated in one place, with errors that name the variable."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from videohook import config
from videohook.config import JOBS, VARIABLES, WEBHOOK_QUEUE, WEBHOOKS, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "videohook"
# config's sections: its upper-case tuples of variable names (JOBS, POLLING, WEBHOOKS...)
SECTIONS = {
    name: value
    for name, value in vars(config).items()
    if name.isupper() and isinstance(value, tuple) and value and all(isinstance(item, str) for item in value)
}
FIELDS = {f.name for f in dataclasses.fields(Settings)}

PROVIDERS = json.dumps(
    {
        "hingnet": {"base_url": "https://models.hingnet.example/", "api_key_secret": "videohook/hingnet"},
        "skyengine": {"base_url": "https://sky.example", "api_key_secret": "videohook/sky", "max_concurrency": 4},
    }
)


def env(**extra):
    return {"JOBS_TABLE": "jobs", "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t", "PROVIDERS": PROVIDERS, **extra}


def test_defaults_and_provider_settings():
    settings = Settings.from_env(env())
    assert settings.poll_interval_s == 10
    assert settings.max_job_age_s == 21600
    assert settings.providers["hingnet"].base_url == "https://models.hingnet.example"
    assert settings.providers["skyengine"].max_concurrency == 4
    assert not settings.allow_loopback_callbacks


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"JOBS_TABLE": ""}, "JOBS_TABLE"),
        ({"PROVIDERS": "{"}, "PROVIDERS is not valid JSON"),
        ({"PROVIDERS": "[]"}, "non-empty JSON object"),
        ({"PROVIDERS": json.dumps({"h": {"base_url": "https://x/v1", "api_key_secret": "s"}})}, "before /v1"),
        ({"PROVIDERS": json.dumps({"h": {"base_url": "x", "api_key_secret": "s"}})}, "base_url"),
        ({"PROVIDERS": json.dumps({"h": {"base_url": "https://x"}})}, "api_key_secret"),
        ({"PROVIDERS": json.dumps({"H#": {"base_url": "https://x", "api_key_secret": "s"}})}, "provider name"),
        ({"POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({"POLL_INTERVAL_SECONDS": "often"}, "POLL_INTERVAL_SECONDS"),
        ({"DUE_SHARDS": "2.5"}, "DUE_SHARDS"),
    ],
)
def test_bad_configuration_names_the_variable(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env(**overrides))


def test_one_unusable_provider_entry_is_set_aside_with_its_reason_and_the_others_kept():
    providers = json.loads(PROVIDERS) | {
        "broken": {"base_url": "https://x.example", "api_key_secret": "s", "timeout_seconds": 0}
    }
    settings = Settings.from_env(env(PROVIDERS=json.dumps(providers)))
    assert sorted(settings.providers) == ["hingnet", "skyengine"]
    assert settings.provider_errors == {
        "broken": "PROVIDERS['broken'].timeout_seconds must be a number above 0 and at most 60"
    }
    assert Settings.from_env(env()).provider_errors == {}


def test_no_usable_provider_entry_is_an_error_of_the_variable():
    providers = {"a": {"base_url": "nope", "api_key_secret": "s"}, "b": {"base_url": "https://b.example"}}
    with pytest.raises(ConfigError, match="PROVIDERS"):
        Settings.from_env(env(PROVIDERS=json.dumps(providers)))


# -- sections: each function reads only the variables of what it runs -----------------------------------------
class Asked(dict):
    """An environment that remembers every name asked of it."""

    def __init__(self, values):
        super().__init__(values)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def test_each_variable_is_read_by_its_own_reader_and_each_section_names_known_variables():
    for name, read in VARIABLES.items():
        asked = Asked(env())
        assert set(read(asked)) <= FIELDS
        assert asked.asked == {name}
    assert SECTIONS and all(set(section) <= set(VARIABLES) for section in SECTIONS.values())


def test_without_a_section_every_variable_is_read_as_before():
    asked = Asked(env())
    Settings.from_env(asked)
    assert asked.asked == set(VARIABLES)


def test_a_section_reads_only_its_variables_and_leaves_the_rest_at_their_defaults():
    # Given variables WebhookFunction does not read, one of them unusable
    variables = {"JOBS_TABLE": "jobs", "WEBHOOK_TIMEOUT_SECONDS": "5", "PROVIDERS": "{", "SWEEP_SECONDS": "1"}
    # When only the webhook delivery's sections are read
    asked = Asked(variables)
    settings = Settings.from_env(asked, JOBS, WEBHOOKS, WEBHOOK_QUEUE)
    # Then neither PROVIDERS nor SWEEP_SECONDS was asked for, and the unread fields hold their defaults
    assert asked.asked == set(JOBS + WEBHOOKS + WEBHOOK_QUEUE)
    assert settings.webhook_timeout_s == 5 and settings.jobs_table == "jobs"
    assert settings.providers == {} and settings.sweep_s == 53.0
    with pytest.raises(ConfigError, match="PROVIDERS"):  # read when asked for
        Settings.from_env(variables, JOBS, config.POLLING)


def fields_read(tree: ast.AST) -> set[str]:
    """Settings fields read in `tree`: off `settings`, `self.settings`, `self._settings` or `load_settings(...)`."""
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FIELDS:
            owner = node.value
            if (
                (isinstance(owner, ast.Name) and owner.id == "settings")
                or (isinstance(owner, ast.Attribute) and owner.attr in ("settings", "_settings"))
                or (isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "load_settings")
            ):
                read.add(node.attr)
    return read


def use_case_sources(builder: ast.FunctionDef) -> list[Path]:
    """The use case modules a builder imports (videohook.services.<name>: the module, or all of its package)."""
    paths: list[Path] = []
    for node in ast.walk(builder):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("videohook.services."):
            name = node.module.split(".")[2]
            paths += [p for p in [PACKAGE / "services" / f"{name}.py"] if p.is_file()]
            paths += sorted((PACKAGE / "services" / name).rglob("*.py"))
    return paths


def loaders() -> dict[str, ast.AST]:
    """Every runtime builder and every handler module that calls load_settings."""
    runtime = ast.parse((PACKAGE / "runtime.py").read_text(encoding="utf-8"))
    units: dict[str, ast.AST] = {f"runtime.{n.name}": n for n in runtime.body if isinstance(n, ast.FunctionDef)}
    units |= {
        f"{p.parent.name}/app.py": ast.parse(p.read_text(encoding="utf-8")) for p in ROOT.glob("functions/*/app.py")
    }
    return {
        name: unit
        for name, unit in units.items()
        if any(isinstance(n, ast.Name) and n.id == "load_settings" for n in ast.walk(unit))
    }


@pytest.mark.parametrize("unit", sorted(loaders()))
def test_each_loader_loads_every_field_it_and_its_use_case_read(unit):
    """A field read but not loaded would silently hold its default: each builder's sections must cover what the
    builder reads off its settings and what the use case it builds reads (a handler: what it reads itself)."""
    tree = loaders()[unit]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "load_settings"]
    sections = [SECTIONS[arg.id] for call in calls for arg in call.args if isinstance(arg, ast.Name)]
    loaded = {field for section in sections for name in section for field in VARIABLES[name](env())}
    read = fields_read(tree)
    if isinstance(tree, ast.FunctionDef):
        read |= {f for path in use_case_sources(tree) for f in fields_read(ast.parse(path.read_text(encoding="utf-8")))}
    assert read, f"{unit} loads settings it never reads"
    assert read <= loaded, f"{unit} reads {sorted(read - loaded)} without loading a section that holds them"
