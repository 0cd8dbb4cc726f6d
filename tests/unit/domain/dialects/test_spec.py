"""A dialect's JSON form: the built-ins parse; a mistake is a DialectError naming the key and the rule."""

from __future__ import annotations

import pytest
from videohook.domain.dialects import BUILTIN, DialectError, builtin, names, parse_dialect

MINIMAL = {"request": {"path": "/v1/things/{id}"}, "status": {"path": "state", "map": {"DONE": "completed"}}}


def with_(**changes):
    spec = {key: dict(value) if isinstance(value, dict) else value for key, value in MINIMAL.items()}
    for dotted, value in changes.items():
        head, _, tail = dotted.partition("__")
        if tail:
            spec.setdefault(head, {})[tail] = value
        else:
            spec[head] = value
    return spec


def test_every_builtin_parses_with_a_request_an_auth_and_terminal_statuses():
    assert len(names()) == 11 and set(names()) == set(BUILTIN)
    for name in names():
        dialect = builtin(name)
        assert dialect.request.path.startswith("/")
        assert dialect.terminal_statuses, name
        assert dialect.auth.header


def test_facts_the_poller_uses():
    assert builtin("runway").throttled_statuses == {"throttled"}
    assert builtin("runway").headers == {"X-Runway-Version": "2024-11-06"}
    assert builtin("replicate").url_lifetime_s == 3600
    assert builtin("openai").path_prefix == "/v1"
    assert builtin("fal").path_prefix == ""
    assert builtin("gemini").auth.header == "x-goog-api-key"
    assert builtin("fal").auth.prefix == "Key "
    assert builtin("kling").auth.mint == "jwt-hs256"


def test_a_minimal_dialect_is_enough():
    dialect = parse_dialect("custom", MINIMAL)
    assert dialect.statuses == {"done": "completed"}
    assert (dialect.auth.header, dialect.auth.prefix) == ("Authorization", "Bearer ")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**MINIMAL, "colour": "red"}, "unknown key(s) colour"),
        (with_(status__map={"DONE": "finished"}), "status.map['DONE'] must be one of"),
        (with_(status__map={}), "status.map must be an object"),
        (with_(status__path="a..b"), "is not a path"),
        (with_(request__path="v1/things/{id}"), "must be a path template starting with '/'"),
        (with_(request__path="/v1/{video}"), "unknown variable {video}"),
        (with_(request__path="/v1/things/{id}?x=1"), "put query parameters in 'query'"),
        (with_(request__auth="basic"), "request.auth must be one of"),
        (with_(request__headers={"Authorization": "Bearer x"}), "credentials come from the secret"),
        (with_(request__headers={"X-Ok": "line\nbreak"}), "must be printable ASCII"),
        (with_(progress={"path": "p", "scale": 0}), "progress.scale must be a number above 0"),
        (with_(fields={"colour": "c"}), "fields.colour: one of"),
        (with_(times={"created_at": {"path": "t", "format": "rfc822"}}), "format must be one of"),
        (with_(url_lifetime_s=-1), "url_lifetime_s must be a positive integer"),
        (with_(id_pattern="("), "id_pattern is not a regular expression"),
        (with_(default_base_url="http://plain.example"), "default_base_url must be an https URL"),
        (with_(follow_up={"when": "queued", "request": {"path": "/x"}}), "follow_up.when must be 'completed'"),
        (with_(follow_up={"when": "completed", "request": {"path": "/f/{file}"}}), "unknown variable {file}"),
        ("not an object", "must be an object"),
    ],
)
def test_mistakes_name_the_key_and_the_rule(spec, message):
    with pytest.raises(DialectError) as caught:
        parse_dialect("custom", spec)
    assert message in str(caught.value)
    assert "dialect 'custom'" in str(caught.value)


def test_an_unknown_builtin_names_the_known_ones():
    with pytest.raises(DialectError, match=r"unknown dialect 'sora'.*gemini"):
        builtin("sora")
