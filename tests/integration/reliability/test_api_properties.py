"""Property-based tests of the API's input handling: ApiFunction's handler called in-process with API Gateway
(payload 2.0) events, on a real table in moto. Whatever arrives at POST /v1/jobs, the answer is a valid job
(201/200) or a 400 in OpenAI's error shape naming the problem, never a 500, and a 400 writes nothing. And
whoever calls, a job answers only its owner and operators; anyone else gets what a missing job gets."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_harness import LEDGER

from devtools.api_server import _Context, forget_configuration, load_api_module, request_event
from devtools.local_aws import client

CONFIGURED = ("hingnet", "skyengine")
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/videohook-operator"
FIELDS = ("provider", "video_id", "callback_url", "metadata", "duration", "events")
PROPERTY_SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True
)


class Api:
    def __init__(self, module: Any, deployed: Any) -> None:
        self._module = module
        self._deployed = deployed

    def call(self, method: str, path: str, body: bytes = b"", *, principal: str | None = None) -> tuple[int, Any]:
        event = request_event(method, path, {"content-type": "application/json"}, body, principal=principal)
        result = self._module.lambda_handler(event, _Context())  # an exception here would be a 500
        LEDGER.api_answers[result["statusCode"]] += 1
        return result["statusCode"], json.loads(result["body"])

    def post(self, body: bytes) -> tuple[int, Any]:
        return self.call("POST", "/v1/jobs", body)

    def count(self) -> int:
        dynamodb = client("dynamodb", self._deployed.endpoint)
        return int(dynamodb.scan(TableName=self._deployed.stack.table_name, Select="COUNT")["Count"])


@pytest.fixture
def api(deployed, webhooks, monkeypatch) -> Iterator[Api]:
    variables = {
        **deployed.env_overrides()["Parameters"],
        "ALLOW_LOOPBACK_CALLBACKS": "false",  # as deployed
        "OPERATOR_PRINCIPALS": OPERATOR_ROLE,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    forget_configuration()
    yield Api(load_api_module(), deployed)
    forget_configuration()


def assert_openai_error(answer: Any) -> None:
    assert set(answer) == {"error"}
    error = answer["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str) and len(error["message"]) >= 10
    assert isinstance(error["code"], str) and error["code"]
    assert error["param"] is None or isinstance(error["param"], str)


def check_track(api: Api, body: bytes, request: Any = None) -> int:
    before = api.count()
    status, answer = api.post(body)
    assert status in (200, 201, 400), (status, answer)
    if status == 400:
        assert_openai_error(answer)
        assert api.count() == before, "a 400 wrote something"
        return status
    assert api.count() == before + (status == 201)
    assert answer["object"] == "video" and answer["status"] == "queued"
    if request is not None:
        assert_a_valid_request(request)
        assert (answer["provider"], answer["id"]) == (request["provider"], request["video_id"])
        if status == 201:
            assert answer["metadata"] == (request.get("metadata") or {})
            assert answer["callback_url"] == request.get("callback_url")
            assert answer["tracking"]["duration"] == request.get("duration")
            assert answer["tracking"]["events"] == (["progress"] if "progress" in (request.get("events") or []) else [])
    return status


def assert_a_valid_request(request: dict[str, Any]) -> None:
    """What every accepted request must satisfy (docs/api.md, "Input rules"), checked independently."""
    assert set(request) <= set(FIELDS)
    assert request["provider"] in CONFIGURED
    video_id = request["video_id"]
    assert isinstance(video_id, str) and 1 <= len(video_id) <= 200
    assert video_id.isprintable() and not set(video_id) & set("/?#")
    url = request.get("callback_url")
    if url is not None:
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname and not parts.username and not parts.password
        assert parts.hostname not in ("localhost", "localhost.")
        with contextlib.suppress(ValueError):  # a name, not an address
            assert ipaddress.ip_address(parts.hostname).is_global
    metadata = request.get("metadata") or {}
    assert isinstance(metadata, dict) and len(metadata) <= 16
    for key, value in metadata.items():
        assert 1 <= len(key) <= 64 and isinstance(value, str) and len(value) <= 512
        key.encode("utf-8"), value.encode("utf-8")  # valid Unicode (no lone surrogates), or this raises
    duration = request.get("duration")
    assert duration is None or (type(duration) is int and 1 <= duration <= 86400)
    events = request.get("events")
    assert events is None or (isinstance(events, list) and set(events) <= {"progress"})


# -- strategies ------------------------------------------------------------------------------------------
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Each field: valid values about half the time, so that whole requests are accepted often enough to test too.
valid_text = st.characters(categories=["L", "M", "N", "P", "S"], include_characters=" ", exclude_characters="/?#")
video_ids = st.one_of(
    st.text(alphabet=valid_text, min_size=1, max_size=200),
    st.text(alphabet=valid_text, min_size=1, max_size=12),
    st.text(max_size=210),
    st.sampled_from(["video_1", "a/b", "x?y", "x#y", " ", "\u200b", "v\x00", "v\x1f", "\ud800", "\u2028", "é" * 201]),
    scalars,
)
hosts = st.sampled_from(
    [
        "example.com",
        "hooks.example.org:8443",
        "münchen.example",
        "8.8.8.8",
        "127.0.0.1",
        "localhost",
        "10.0.0.7",
        "192.168.1.1",
        "172.16.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "user:secret@example.com",
        "exa mple.com",
        "",
        "example.com:99999",
        "[::1",
    ]
)
callback_urls = st.one_of(
    st.builds(lambda host, path: f"https://{host}/{path}", hosts, st.text(alphabet=valid_text, max_size=20)),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["https", "http", "ftp", "javascript", ""]),
        hosts,
        st.text(max_size=20),
    ),
    st.text(max_size=40),
    st.just("https://example.com/" + "a" * 2100),
    scalars,
)
metadata_values = st.one_of(
    st.dictionaries(st.text(alphabet=valid_text, min_size=1, max_size=64), st.text(max_size=512), max_size=16),
    st.dictionaries(st.text(alphabet=valid_text, min_size=1, max_size=8), st.text(max_size=20), max_size=3),
    st.dictionaries(st.text(max_size=70), st.text(max_size=520), max_size=20),
    st.dictionaries(st.text(min_size=1, max_size=64), st.text(max_size=512) | scalars, max_size=4),
    st.dictionaries(
        st.text(min_size=1, max_size=8), st.sampled_from(["\ud800", "ok", "\x00\x07"]), min_size=1, max_size=2
    ),
    json_values,
)
durations = st.one_of(st.integers(1, 86400), st.integers(-5, 90000), st.sampled_from([0, 86401, 10**30, 6.0]), scalars)
providers = st.one_of(st.sampled_from(CONFIGURED), st.sampled_from(CONFIGURED), st.text(max_size=40), scalars)
events_values = st.one_of(
    st.sampled_from([[], ["progress"], ["progress", "progress"], None]), st.lists(st.text(max_size=10)), scalars
)
requests = st.fixed_dictionaries(
    {"provider": providers, "video_id": video_ids},
    optional={
        "callback_url": callback_urls,
        "metadata": metadata_values,
        "duration": durations,
        "events": events_values,
    },
)
valid_requests = st.fixed_dictionaries(
    {"provider": st.sampled_from(CONFIGURED), "video_id": st.text(alphabet=valid_text, min_size=1, max_size=200)},
    optional={
        "callback_url": st.builds(
            lambda host, path: f"https://{host}/{quote(path)}",
            st.sampled_from(
                ["example.com", "hooks.example.org:8443", "8.8.8.8", "[2001:4860:4860::8888]", "xn--mnchen-3ya.de"]
            ),
            st.text(max_size=30),
        ),
        "metadata": st.dictionaries(
            st.text(alphabet=valid_text, min_size=1, max_size=64),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=512),
            max_size=16,
        ),
        "duration": st.integers(1, 86400),
        "events": st.sampled_from([[], ["progress"]]),
    },
)
extra_fields = st.dictionaries(st.text(max_size=12).filter(lambda name: name not in FIELDS), json_values, max_size=2)


@settings(PROPERTY_SETTINGS, max_examples=250)
@given(request=requests, extras=st.none() | extra_fields)
def test_structured_requests_get_a_job_or_a_clear_400(api, request, extras):
    body = {**request, **(extras or {})}
    status = check_track(api, json.dumps(body).encode(), body)
    if extras and status != 400:
        pytest.fail(f"unknown fields accepted: {sorted(extras)}")


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(request=valid_requests)
def test_every_request_within_the_documented_rules_is_tracked_as_given(api, request):
    request = {**request, "video_id": f"{request['video_id'][:180]}-{uuid.uuid4().hex[:8]}"}  # always new
    assert check_track(api, json.dumps(request).encode(), request) == 201


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(body=json_values)
def test_arbitrary_json_gets_a_job_or_a_clear_400(api, body):
    check_track(api, json.dumps(body).encode(), body if isinstance(body, dict) else None)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_get_a_clear_400_or_a_job(api, raw):
    check_track(api, raw)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nested far deeper than any parser's recursion limit
        json.dumps({"provider": "hingnet", "video_id": "v" * 3_000_000}).encode(),  # 3 MB
        json.dumps({"provider": "hingnet", "video_id": "big", "metadata": {"k": "x" * 1_000_000}}).encode(),
        json.dumps(
            {"provider": "hingnet", "video_id": "many", "metadata": {f"k{i}": "v" for i in range(10_000)}}
        ).encode(),
        json.dumps({f"field{i}": i for i in range(10_000)}).encode(),
        b'{"provider": "hingnet", "video_id": 1' + b"0" * 5000 + b"}",  # an int too long to convert
        json.dumps({"provider": "hingnet", "video_id": "s", "metadata": {"k": "\ud800"}}).encode(),  # lone surrogate
        b"\xff\xfe\x00{",
        b"",
        b"null",
        b'"just a string"',
    ],
    ids=[
        "deep",
        "3MB-id",
        "1MB-metadata",
        "10k-pairs",
        "10k-fields",
        "huge-int",
        "surrogate",
        "not-utf8",
        "empty",
        "null",
        "str",
    ],
)
def test_huge_and_hostile_bodies_get_a_clear_400(api, body):
    assert check_track(api, body) == 400


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(
    method=st.sampled_from(["GET", "DELETE"]), provider=st.text(max_size=40), video_id=st.text(min_size=1, max_size=220)
)
def test_reading_and_stopping_any_address_is_a_job_a_404_or_a_400(api, method, provider, video_id):
    before = api.count()
    status, answer = api.call(method, f"/v1/jobs/{quote(provider, safe='')}/{quote(video_id, safe='')}")
    assert status in (200, 400, 404), (status, answer)
    if status != 200:
        assert set(answer) == {"error"} and answer["error"]["message"]
    assert api.count() == before


def items(api: Api) -> list[dict[str, Any]]:
    dynamodb = client("dynamodb", api._deployed.endpoint)
    answer = dynamodb.scan(TableName=api._deployed.stack.table_name, ConsistentRead=True)
    return sorted(answer["Items"], key=lambda item: item["pk"]["S"])


# Callers: two sessions of one role, another role, a user, the operator's role (a session of it), and no
# authorizer at all (`local`).
CALLERS = {
    "app/1": "arn:aws:sts::123456789012:assumed-role/app/1",
    "app/2": "arn:aws:sts::123456789012:assumed-role/app/2",
    "other-role": "arn:aws:sts::123456789012:assumed-role/other/1",
    "user": "arn:aws:iam::123456789012:user/dev/alice",
    "operator": "arn:aws:sts::123456789012:assumed-role/videohook-operator/cli",
    "local": None,
}
OWNER_OF = {"app/1": "app", "app/2": "app", "other-role": "other", "user": "alice", "operator": "op", "local": "local"}


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(
    owner=st.sampled_from(sorted(CALLERS)),
    caller=st.sampled_from(sorted(CALLERS)),
    action=st.sampled_from(["get", "stop", "redeliver", "track"]),
)
def test_a_job_answers_its_owner_and_operators_and_is_missing_for_anyone_else(api, owner, caller, action):
    video_id = f"scoped-{uuid.uuid4().hex[:10]}"
    body = json.dumps({"provider": "hingnet", "video_id": video_id}).encode()
    assert api.call("POST", "/v1/jobs", body, principal=CALLERS[owner])[0] == 201
    before = items(api)
    path = f"/v1/jobs/hingnet/{video_id}"
    method, target, payload = {
        "get": ("GET", path, b""),
        "stop": ("DELETE", path, b""),
        "redeliver": ("POST", f"{path}/redeliver", b""),
        "track": ("POST", "/v1/jobs", body),
    }[action]
    status, answer = api.call(method, target, payload, principal=CALLERS[caller])
    if OWNER_OF[caller] == OWNER_OF[owner] or caller == "operator":
        # theirs: the job (a redelivery of a job without callback is refused as such, not hidden)
        expected = {"get": 200, "stop": 200, "redeliver": 409, "track": 200}[action]
        assert status == expected, (status, answer)
        if action == "redeliver":
            assert answer["error"]["code"] == "no_callback_url"
    else:
        missing = api.call(method, target.replace(video_id, video_id + "-never"), payload, principal=CALLERS[caller])
        if action == "track":
            assert status == 409 and answer["error"]["code"] == "job_owned_elsewhere", (status, answer)
        else:
            assert (status, answer) == (404, json.loads(json.dumps(missing[1]).replace(video_id + "-never", video_id)))
        assert items(api) == before  # nothing changed


def test_a_base64_encoded_body_is_read_like_any_other(api):
    """API Gateway base64-encodes bodies it takes for binary (e.g. without a text content type)."""
    import base64

    event = request_event("POST", "/v1/jobs", {}, b"")
    event["body"] = base64.b64encode(json.dumps({"provider": "hingnet", "video_id": "b64"}).encode()).decode()
    event["isBase64Encoded"] = True
    result = api._module.lambda_handler(event, _Context())
    assert result["statusCode"] == 201, result


def test_the_properties_met_every_kind_of_answer(api):
    """Guards the strategies: they must reach acceptance, not only refusals."""
    valid = {"provider": "hingnet", "video_id": "video_ok", "metadata": {"a": "b"}, "duration": 6}
    assert check_track(api, json.dumps(valid).encode(), valid) == 201
    assert check_track(api, json.dumps(valid).encode(), valid) == 200
    url = {"provider": "skyengine", "video_id": "v2", "callback_url": "https://hooks.example.com/x"}
    assert check_track(api, json.dumps(url).encode(), url) == 201
