"""PROVIDERS entries with a dialect: by name with its default base_url and headers, or described in place; a
mistake sets only that provider aside, with the key and the rule."""

from __future__ import annotations

import json

import pytest
from videohook.config import ConfigError, Settings, parse_providers


def providers(**entries):
    return json.dumps(entries)


def test_a_builtin_dialect_by_name_needs_only_the_secret():
    runway = parse_providers(providers(runway={"dialect": "runway", "api_key_secret": "videohook/runway"}))["runway"]
    assert runway.base_url == "https://api.dev.runwayml.com"
    assert runway.dialect.name == "runway"
    assert runway.headers == {"X-Runway-Version": "2024-11-06"}


def test_headers_override_the_dialects_fixed_ones():
    entry = {"dialect": "runway", "api_key_secret": "s", "headers": {"X-Runway-Version": "2025-01-01"}}
    assert parse_providers(providers(r=entry))["r"].headers == {"X-Runway-Version": "2025-01-01"}


def test_entries_without_a_dialect_are_openai_as_before():
    seed = parse_providers(providers(h={"base_url": "https://gw.example/", "api_key_secret": "s"}))["h"]
    assert (seed.dialect.name, seed.base_url, seed.headers) == ("openai", "https://gw.example", {})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dialect": "sora", "api_key_secret": "s"}, "dialect: unknown dialect 'sora'"),
        ({"api_key_secret": "s"}, "base_url must be an absolute http(s) URL"),  # openai has no default
        ({"dialect": "gemini", "base_url": "https://g.example/v1beta", "api_key_secret": "s"}, "stop before /v1beta"),
        ({"dialect": "dashscope", "base_url": "https://d.example/api", "api_key_secret": "s"}, "stop before /api"),
        ({"dialect": "runway", "api_key_secret": "s", "headers": {"Authorization": "x"}}, "credentials"),
        ({"dialect": {"request": {"path": "/x/{id}"}}, "api_key_secret": "s"}, "status must be an object"),
    ],
)
def test_mistakes_name_the_provider_and_the_key(entry, message):
    with pytest.raises(ConfigError) as caught:
        parse_providers(providers(bad=entry))
    assert message in str(caught.value)
    assert "PROVIDERS['bad']" in str(caught.value)


def test_a_bad_dialect_sets_only_its_provider_aside():
    raw = providers(
        good={"dialect": "replicate", "api_key_secret": "s"},
        bad={
            "dialect": {"request": {"path": "/x/{id}"}, "status": {"path": "s", "map": {"X": "nope"}}},
            "api_key_secret": "s",
        },
    )
    settings = Settings.from_env(
        {"PROVIDERS": raw, "JOBS_TABLE": "t", "EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t"}
    )
    assert list(settings.providers) == ["good"]
    assert "status.map['X'] must be one of" in settings.provider_errors["bad"]
