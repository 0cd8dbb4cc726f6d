"""Configuration is read and validated in one place, with errors that name the variable."""

import json

import pytest
from videohook.config import ConfigError, Settings

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
